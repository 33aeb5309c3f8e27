using System.Diagnostics;
using System.Globalization;

namespace AgenticGateway.Sandboxes.Bubblewrap;

/// <summary>
/// The command line that starts one sandbox. A tiny shell prologue runs first, as root: it moves itself into the
/// sandbox's cgroups (so every descendant is counted from the first instruction) and opens the seccomp program on fd 3;
/// then prlimit sets the per-process limits, setpriv drops to an unprivileged uid, and bwrap builds the namespaces.
/// Each step execs the next, so the process the gateway holds is bwrap itself.
/// </summary>
internal static class BubblewrapCommand
{
    /// <summary>The sandbox user as the host sees it: nobody, owning nothing on the host.</summary>
    public const int HostUid = 65534;
    public const string Home = "/home/user";

    private const string Prologue = """
        seccomp=$1; n=$2; shift 2
        while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n-1)); done
        exec 3<"$seccomp" || exit 125
        exec "$@"
        """;

    /// <summary>Read-only parts of the host's /etc the runtimes need (alternatives for python3/node links, TLS roots, time zone).</summary>
    private static readonly string[] HostEtc =
    [
        "/etc/alternatives", "/etc/ssl", "/etc/ca-certificates", "/etc/ld.so.cache", "/etc/localtime", "/etc/mime.types",
        "/etc/matplotlibrc", "/etc/python3", "/etc/python3.11", "/etc/fonts",
    ];

    public static ProcessStartInfo Build(SandboxLaunch launch, BubblewrapHost host, IReadOnlyList<string> cgroupProcFiles, string? hostDirectory)
    {
        var info = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = "/",
        };
        var a = info.ArgumentList;
        a.Add("-c"); a.Add(Prologue); a.Add("sh");
        a.Add(host.SeccompFile);
        a.Add(cgroupProcFiles.Count.ToString(CultureInfo.InvariantCulture));
        foreach (var f in cgroupProcFiles) a.Add(f);

        var r = launch.Resources;
        var diskBytes = (long)r.DiskMb << 20;
        a.Add("/usr/bin/prlimit");
        a.Add("--nofile=4096");
        a.Add($"--fsize={diskBytes}");
        a.Add("--core=0");
        // CPU seconds per process: the sandbox's whole lifetime at its CPU share, a backstop behind the wall clock.
        a.Add($"--cpu={(long)Math.Ceiling(r.Timeout.TotalSeconds * Math.Max(r.Cpu, 1)) + 5}");
        a.Add("--");
        if (host.IsRoot)
        {
            a.Add("/usr/bin/setpriv");
            a.Add($"--reuid={HostUid}"); a.Add($"--regid={HostUid}"); a.Add("--clear-groups");
            a.Add("--");
        }
        a.Add(host.Bwrap);
        a.Add("--unshare-all"); a.Add("--unshare-user");
        a.Add("--uid"); a.Add("1000"); a.Add("--gid"); a.Add("1000");
        a.Add("--hostname"); a.Add("sandbox");
        a.Add("--die-with-parent"); a.Add("--new-session"); a.Add("--cap-drop"); a.Add("ALL");
        if (host.SupportsDisableUserns) a.Add("--disable-userns");
        a.Add("--ro-bind"); a.Add("/usr"); a.Add("/usr");
        foreach (var (link, target) in host.RootLinks) { a.Add("--symlink"); a.Add(target); a.Add(link); }
        foreach (var etc in HostEtc) { a.Add("--ro-bind-try"); a.Add(etc); a.Add(etc); }
        foreach (var file in new[] { "passwd", "group", "hosts", "nsswitch.conf" })
        {
            a.Add("--ro-bind"); a.Add(Path.Combine(host.GuestDirectory, "etc", file)); a.Add("/etc/" + file);
        }
        a.Add("--proc"); a.Add("/proc");
        a.Add("--dev"); a.Add("/dev");
        // The only writable places, both size-capped tmpfs: nothing a sandbox writes reaches the host's disk.
        a.Add("--size"); a.Add(diskBytes.ToString(CultureInfo.InvariantCulture)); a.Add("--tmpfs"); a.Add(Home);
        a.Add("--size"); a.Add(diskBytes.ToString(CultureInfo.InvariantCulture)); a.Add("--tmpfs"); a.Add("/tmp");
        a.Add("--ro-bind"); a.Add(host.GuestDirectory); a.Add(GuestFiles.MountPoint);
        if (launch.Network.Mode == NetworkMode.Allowlist && hostDirectory is not null) { a.Add("--bind"); a.Add(hostDirectory); a.Add("/run/agw"); }
        if (launch.PackageCache is not null) { a.Add("--ro-bind"); a.Add(launch.PackageCache); a.Add("/opt/agw-packages"); }
        // The root bwrap builds is itself a writable tmpfs (where /etc's mount points live): make it read-only too.
        a.Add("--remount-ro"); a.Add("/");
        a.Add("--chdir"); a.Add(Home);
        a.Add("--clearenv");
        foreach (var (name, value) in Environment(launch))
        {
            a.Add("--setenv"); a.Add(name); a.Add(value);
        }
        a.Add("--seccomp"); a.Add("3");
        a.Add("/usr/bin/python3"); a.Add("-I"); a.Add("-S"); a.Add(GuestFiles.AgentPath);
        return info;
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
