using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using AgenticGateway.Sandboxes.Bubblewrap;
using AgenticGateway.Sandboxes.Isolation;

namespace AgenticGateway.Sandboxes;

/// <summary>
/// Where a driver keeps what it has on the host for one data directory, and how a VMM recorded there is found again
/// after a crash (every driver keys its state, cgroups and leftovers by the same tag of the data directory).
/// </summary>
internal static class HostState
{
    /// <summary>The first 12 hex digits of SHA-256 of the data directory's full path.</summary>
    public static string Tag(string dataDirectory) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Path.GetFullPath(dataDirectory))))[..12];

    /// <summary>
    /// A microVM driver's directory: /run/agentic-gateway/&lt;tag&gt;/&lt;vmm&gt; as root, else /tmp/agw-&lt;vmm&gt;-&lt;tag&gt;
    /// (Unix socket paths are limited to 108 bytes, so the VMs' sockets live under a short path, not the data directory).
    /// </summary>
    public static string MicroVmDirectory(string dataDirectory, string vmm) =>
        BubblewrapHost.IsRootUser() ? Path.Combine("/run/agentic-gateway", Tag(dataDirectory), vmm) : Path.Combine(Path.GetTempPath(), $"agw-{vmm}-{Tag(dataDirectory)}");

    /// <summary>Records the VMM's pid in its VM directory, for <see cref="KillRecorded"/> after a crash.</summary>
    public static void RecordPid(string vmDirectory, int pid) =>
        File.WriteAllText(Path.Join(vmDirectory, "pid"), pid.ToString(CultureInfo.InvariantCulture));

    /// <summary>SIGKILLs the process recorded in <paramref name="vmDirectory"/> if it still runs and its name starts with <paramref name="commPrefix"/> (not a reused pid).</summary>
    public static void KillRecorded(string vmDirectory, string commPrefix)
    {
        var pidFile = Path.Join(vmDirectory, "pid");
        try
        {
            if (File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile), NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid)
                && File.ReadAllText($"/proc/{pid}/comm").StartsWith(commPrefix, StringComparison.Ordinal))
                CgroupFs.Kill(pid, 9);
        }
        catch (IOException) { }      // gone already
    }
}
