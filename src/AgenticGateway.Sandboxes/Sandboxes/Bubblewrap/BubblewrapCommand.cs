using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace AgenticGateway.Sandboxes.Bubblewrap;

/// <summary>How one sandbox starts: the process to run, and bwrap's options, which go into a file read through <c>--args</c>.</summary>
/// <param name="Start">The launch chain, with an empty environment.</param>
/// <param name="Options">bwrap's options, NUL-separated, for the file named first in the chain's arguments.</param>
internal sealed record BubblewrapLaunch(ProcessStartInfo Start, byte[] Options);

/// <summary>
/// The command line that starts one sandbox. A tiny bash prologue runs first, as root: it moves itself into the
/// sandbox's cgroups (so every descendant is counted from the first instruction), sets the per-process limits (bash's
/// own ulimit: the same setrlimit calls prlimit made, one exec fewer on every start) and opens the files bwrap reads
/// on numbered fds; then setpriv drops to an unprivileged uid, and bwrap builds the namespaces. Each step execs the
/// next, so the process the gateway holds is bwrap itself.
/// <para>
/// Nothing of the host may be readable inside. bwrap stays the sandbox's pid 1, and any process can read pid 1's
/// command line (and, as the same uid, its environment and open files) through /proc. So the chain runs with an empty
/// environment (<c>exec -c</c>), bwrap's options come from a file on an fd (<c>--args</c>: its command line is
/// <c>bwrap --args 3</c> and the agent's), and the guest files and /etc files are copied in from fds (<c>--file</c>)
/// rather than bind-mounted, because a bind mount shows its source's host path in every /proc/*/mountinfo.
/// </para>
/// </summary>
internal static class BubblewrapCommand
{
    /// <summary>The sandbox user as the host sees it: nobody, owning nothing on the host.</summary>
    public const int HostUid = 65534;
    public const string Home = "/home/user";
    /// <summary>The allowlist sandbox's egress socket: a tmpfs of its own, where the gateway binds the socket (<see cref="BubblewrapDriver"/>).</summary>
    public const string EgressDirectory = "/run/agw";
    public const string EgressSocket = EgressDirectory + "/egress.sock";

    // $1: the options file (fd 3); $2: how many cgroup.procs files follow; then the limits (open files, file size in
    // KiB, CPU seconds); then the files to open on fds 4, 5, ... up to "--"; then the command. bash, not dash: dash
    // redirects only fds 0-9. ulimit without -H or -S sets the hard limit with the soft one, as prlimit did; a limit
    // that cannot be set fails the start (exit 125) rather than running without it.
    private const string Prologue = """
        exec 3<"$1" || exit 125; n=$2; shift 2
        while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n-1)); done
        ulimit -n "$1" -f "$2" -t "$3" -c 0 || exit 125; shift 3
        fd=4
        while [ "$1" != -- ]; do eval "exec $fd<\"\$1\"" || exit 125; fd=$((fd+1)); shift; done
        shift
        exec -c "$@"
        """;

    /// <summary>The fd the options file is opened on.</summary>
    private const int OptionsFd = 3;

    /// <summary>Open files per process (RLIMIT_NOFILE, soft and hard).</summary>
    public const int OpenFiles = 4096;

    /// <summary>Read-only parts of the host's /etc the runtimes need (alternatives for python3/node links, TLS roots, time zone).</summary>
    private static readonly string[] HostEtc =
    [
        "/etc/alternatives", "/etc/ssl", "/etc/ca-certificates", "/etc/ld.so.cache", "/etc/localtime", "/etc/mime.types",
        "/etc/matplotlibrc", "/etc/python3", "/etc/python3.11", "/etc/fonts",
    ];

    /// <param name="optionsFile">Where the caller writes <see cref="BubblewrapLaunch.Options"/> before starting; the prologue opens it.</param>
    public static BubblewrapLaunch Build(SandboxLaunch launch, BubblewrapHost host, IReadOnlyList<string> cgroupProcFiles, string optionsFile)
    {
        var info = new ProcessStartInfo(host.Bash)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = "/",
        };
        // Nothing of the gateway's environment (keys, database URLs) reaches the chain: bwrap is the sandbox's pid 1.
        info.Environment.Clear();
        var a = info.ArgumentList;
        a.Add("-c"); a.Add(Prologue); a.Add("agw-sandbox");
        a.Add(optionsFile);
        a.Add(cgroupProcFiles.Count.ToString(CultureInfo.InvariantCulture));
        foreach (var f in cgroupProcFiles) a.Add(f);
        var r = launch.Resources;
        a.Add(OpenFiles.ToString(CultureInfo.InvariantCulture));
        a.Add(((long)r.DiskMb << 10).ToString(CultureInfo.InvariantCulture));     // KiB
        // CPU seconds per process: the sandbox's whole lifetime at its CPU share, a backstop behind the wall clock.
        a.Add(((long)Math.Ceiling(r.Timeout.TotalSeconds * Math.Max(r.Cpu, 1)) + 5).ToString(CultureInfo.InvariantCulture));
        var opened = new List<string>();
        string Fd(string hostFile)
        {
            opened.Add(hostFile);
            return (OptionsFd + opened.Count).ToString(CultureInfo.InvariantCulture);
        }

        var diskBytes = ((long)r.DiskMb << 20).ToString(CultureInfo.InvariantCulture);
        var o = new List<string>
        {
            "--unshare-all", "--unshare-user", "--uid", "1000", "--gid", "1000", "--hostname", "sandbox",
            "--die-with-parent", "--new-session", "--cap-drop", "ALL",
        };
        if (host.SupportsDisableUserns) o.Add("--disable-userns");
        o.AddRange(["--ro-bind", "/usr", "/usr"]);
        foreach (var (link, target) in host.RootLinks) o.AddRange(["--symlink", target, link]);
        foreach (var etc in HostEtc) o.AddRange(["--ro-bind-try", etc, etc]);
        foreach (var (hostFile, sandboxFile, mode) in host.GuestFiles) o.AddRange(["--perms", mode, "--file", Fd(hostFile), sandboxFile]);
        o.AddRange(["--proc", "/proc"]);
        // bwrap's /dev is a tmpfs without a size: make it read-only and give /dev/shm its own capped tmpfs, so that
        // filling it is ENOSPC, not the whole sandbox OOM-killed.
        o.AddRange(["--dev", "/dev", "--perms", "1777", "--size", diskBytes, "--tmpfs", "/dev/shm", "--remount-ro", "/dev"]);
        // The only writable places, all size-capped tmpfs: nothing a sandbox writes reaches the host's disk.
        o.AddRange(["--size", diskBytes, "--tmpfs", Home]);
        o.AddRange(["--size", diskBytes, "--tmpfs", "/tmp"]);
        if (launch.Network.Mode == NetworkMode.Allowlist) o.AddRange(["--size", "65536", "--tmpfs", EgressDirectory]);
        if (launch.PackageCache is not null) o.AddRange(["--ro-bind", launch.PackageCache, "/opt/agw-packages"]);
        // The root bwrap builds is itself a writable tmpfs (where /etc's mount points live): make it read-only too.
        o.AddRange(["--remount-ro", "/", "--chdir", Home, "--clearenv"]);
        foreach (var (name, value) in Environment(launch)) o.AddRange(["--setenv", name, value]);
        o.AddRange(["--seccomp", Fd(host.SeccompFile)]);

        foreach (var f in opened) a.Add(f);
        a.Add("--");
        if (host.IsRoot)
        {
            a.Add("/usr/bin/setpriv");
            a.Add($"--reuid={HostUid}"); a.Add($"--regid={HostUid}"); a.Add("--clear-groups");
            a.Add("--");
        }
        a.Add(host.Bwrap);
        a.Add("--args"); a.Add(OptionsFd.ToString(CultureInfo.InvariantCulture));
        // bwrap takes the command from its own command line only (it stops reading --args at the first non-option).
        // The agent (stdio transport) is bwrap's child, not pid 1 (no --as-pid-1): .NET as pid 1 reaps every child.
        a.Add(GuestFiles.AgentPath);
        if (launch.PreStartContext is { } context) { a.Add("--context"); a.Add($"{context}={context}"); }
        return new BubblewrapLaunch(info, Nul(o));
    }

    private static byte[] Nul(List<string> options)
    {
        var text = new StringBuilder();
        foreach (var option in options) text.Append(option).Append('\0');
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    private static IEnumerable<(string, string)> Environment(SandboxLaunch launch)
    {
        yield return ("HOME", Home);
        yield return ("USER", "user");
        yield return ("LOGNAME", "user");
        yield return ("SHELL", "/bin/bash");
        yield return ("PATH", "/usr/local/bin:/usr/bin:/bin");
        yield return ("LANG", "C.UTF-8");
        yield return ("TERM", "xterm-256color");
        yield return ("MPLBACKEND", "Agg");
        yield return ("MPLCONFIGDIR", "/tmp/.matplotlib");
        yield return ("PIP_DISABLE_PIP_VERSION_CHECK", "1");
        if (launch.Network.Mode == NetworkMode.Allowlist)
        {
            const string proxy = "http://127.0.0.1:3128";
            yield return ("HTTP_PROXY", proxy); yield return ("HTTPS_PROXY", proxy);
            yield return ("http_proxy", proxy); yield return ("https_proxy", proxy);
        }
    }
}
