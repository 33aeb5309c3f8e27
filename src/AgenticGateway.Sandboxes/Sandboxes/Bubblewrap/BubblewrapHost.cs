using System.Diagnostics;
using System.Runtime.InteropServices;
using AgenticGateway.Sandboxes.Agent;
using AgenticGateway.Sandboxes.Isolation;

namespace AgenticGateway.Sandboxes.Bubblewrap;

/// <summary>What this host offers the bubblewrap driver, found once at start.</summary>
internal sealed partial record BubblewrapHost
{
    public required string Bwrap { get; init; }
    /// <summary>The launch prologue's shell (bash: it opens more fds than dash's 0-9).</summary>
    public required string Bash { get; init; }
    public required bool IsRoot { get; init; }
    public required bool SupportsDisableUserns { get; init; }
    /// <summary>/bin, /lib, ... as symlinks into /usr, as on the host (merged /usr).</summary>
    public required IReadOnlyList<(string Link, string Target)> RootLinks { get; init; }
    /// <summary>The guest files (host path, path in the sandbox, mode there), copied into every sandbox.</summary>
    public required IReadOnlyList<(string Host, string Sandbox, string Mode)> GuestFiles { get; init; }
    public required string SeccompFile { get; init; }
    public required CgroupMode Cgroups { get; init; }

    /// <summary>Null with the reason when bubblewrap cannot run here.</summary>
    public static BubblewrapHost? Detect(string stateDirectory, out string? problem)
    {
        problem = null;
        if (!OperatingSystem.IsLinux()) { problem = "sandboxes need Linux (bubblewrap)"; return null; }
        var bwrap = new[] { "/usr/bin/bwrap", "/usr/local/bin/bwrap" }.FirstOrDefault(File.Exists);
        if (bwrap is null) { problem = "bubblewrap is not installed (apt-get install bubblewrap)"; return null; }
        if (!File.Exists("/bin/bash")) { problem = "/bin/bash is missing"; return null; }
        var isRoot = IsRootUser();
        if (isRoot && !File.Exists("/usr/bin/setpriv")) { problem = "/usr/bin/setpriv is missing (util-linux)"; return null; }

        var links = new List<(string, string)>();
        foreach (var dir in new[] { "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32" })
        {
            var info = new FileInfo(dir);
            if (info.LinkTarget is { } target) links.Add((dir, target));
        }
        if (!links.Any(l => l.Item1 == "/bin")) { problem = "the host's /bin is not a symlink into /usr (merged /usr is required)"; return null; }

        if (GuestAgentBinary.Find(out problem) is not { } agent) return null;

        Directory.CreateDirectory(stateDirectory);
        var guest = Bubblewrap.GuestFiles.Extract(Path.Combine(stateDirectory, "guest"), agent);
        // The sandboxes run the host's /usr/bin/python3 (the agent's default; /usr is the host's, read-only).
        Bubblewrap.GuestFiles.CompilePythonKernel(guest, "/usr/bin/python3");
        var seccomp = Path.Combine(stateDirectory, "seccomp.bpf");
        File.WriteAllBytes(seccomp, SeccompFilter.Build());
        return new BubblewrapHost
        {
            Bwrap = bwrap,
            IsRoot = isRoot,
            SupportsDisableUserns = HelpMentions(bwrap, "--disable-userns"),
            RootLinks = links,
            Bash = "/bin/bash",
            GuestFiles = Bubblewrap.GuestFiles.Placements(guest),
            SeccompFile = seccomp,
            Cgroups = isRoot ? CgroupLimits.Detect() : CgroupMode.None,
        };
    }

    private static bool HelpMentions(string bwrap, string option)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo(bwrap, "--help") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false })!;
            var text = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            p.WaitForExit(5000);
            return text.Contains(option, StringComparison.Ordinal);
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException) { return false; }
    }

    public static bool IsRootUser() => geteuid() == 0;

    [LibraryImport("libc")]
    private static partial uint geteuid();
}
