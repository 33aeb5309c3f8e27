using AgenticGateway.GuestAgent.Native;
using AgenticGateway.GuestAgent.Protocol;
using AgenticGateway.Sandboxes.Protocol;

namespace AgenticGateway.GuestAgent.Processes;

/// <summary>
/// The program of an <c>argv</c>: posix_spawn takes a path and does not search PATH, so a bare name is looked up in
/// the child's own PATH (as execvp would), a relative path against its working directory.
/// </summary>
internal static class Executables
{
    private const int X_OK = 1;

    public static string Find(string program, IReadOnlyList<string> environment, string cwd)
    {
        if (program.Length == 0) throw OpError.Invalid("argv[0] must be a program");
        if (program.StartsWith('/')) return program;
        if (program.Contains('/')) return Files.PathResolver.Join(cwd, program);
        var path = "/usr/local/bin:/usr/bin:/bin";
        foreach (var kv in environment)
            if (kv.StartsWith("PATH=", StringComparison.Ordinal)) path = kv[5..];
        foreach (var dir in path.Split(':'))
        {
            var candidate = Files.PathResolver.Join(dir.Length == 0 ? cwd : dir, program);
            if (Libc.FStatAt(Libc.AT_FDCWD, candidate, out var st, 0) == 0 && st.IsRegular && Libc.access(candidate, X_OK) == 0)
                return candidate;
        }
        throw new OpError(AgentErrors.NotFound, $"{program}: command not found in PATH");
    }
}
