using System.Diagnostics;
using AgenticGateway.Sandboxes.Isolation;

namespace AgenticGateway.Tests.Sandboxes.Isolation;

/// <summary>Starts real processes the way the sandbox launcher will: into cgroups, through bwrap, under the seccomp filter.</summary>
internal static class Launch
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>A bwrap sandbox with /usr read-only and every namespace new; the command follows.</summary>
    public static readonly string[] Bwrap =
    [
        "bwrap", "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
        "--symlink", "usr/lib64", "/lib64", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
        "--unshare-all", "--die-with-parent",
    ];

    internal sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public override string ToString() => $"exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";
    }

    /// <summary>bwrap with the seccomp program in <paramref name="filterFile"/>: a shell opens it as fd 3 and execs bwrap.</summary>
    public static string[] BwrapWithSeccomp(string filterFile, params string[] command) =>
        ["/bin/sh", "-c", """exec 3<"$1"; shift; exec "$@" """, "sh", filterFile, .. Bwrap, "--seccomp", "3", .. command];

    /// <summary>A shell that writes its pid into every procs file of <paramref name="limits"/>, then execs the command.</summary>
    public static string[] InCgroup(CgroupLimits limits, params string[] command) =>
    [
        "/bin/sh", "-c", """n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1"; shift; n=$((n - 1)); done; exec "$@" """,
        "sh", limits.ProcsFiles.Count.ToString(), .. limits.ProcsFiles, .. command,
    ];

    public static Process Start(IReadOnlyList<string> command)
    {
        var info = new ProcessStartInfo(command[0])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in command.Skip(1))
            info.ArgumentList.Add(argument);
        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {command[0]}");
        process.StandardInput.Close();
        return process;
    }

    public static Result Run(IReadOnlyList<string> command)
    {
        using var process = Start(command);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(Timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{string.Join(' ', command)} did not finish within {Timeout.TotalSeconds} s");
        }
        process.WaitForExit();
        return new Result(process.ExitCode, stdout.Result.Trim(), stderr.Result.Trim());
    }
}
