namespace AgenticGateway.GuestAgent.Native;

/// <summary>Signal names as the protocol spells them.</summary>
internal static class Signals
{
    /// <summary>The signals <c>process.signal</c> accepts.</summary>
    public static readonly IReadOnlyDictionary<string, int> Accepted = new Dictionary<string, int>(StringComparer.Ordinal)
    {
        ["SIGTERM"] = Libc.SIGTERM, ["SIGKILL"] = Libc.SIGKILL, ["SIGINT"] = Libc.SIGINT, ["SIGHUP"] = Libc.SIGHUP,
        ["SIGQUIT"] = Libc.SIGQUIT, ["SIGUSR1"] = Libc.SIGUSR1, ["SIGUSR2"] = Libc.SIGUSR2, ["SIGSTOP"] = Libc.SIGSTOP,
        ["SIGCONT"] = Libc.SIGCONT,
    };

    private static readonly string[] Names =
    [
        "", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE", "SIGKILL", "SIGUSR1", "SIGSEGV",
        "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN",
        "SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS",
    ];

    public static string Name(int sig) => sig > 0 && sig < Names.Length ? Names[sig] : $"SIG{sig}";
}
