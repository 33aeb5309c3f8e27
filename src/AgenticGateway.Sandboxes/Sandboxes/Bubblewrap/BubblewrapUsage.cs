using AgenticGateway.Sandboxes.Isolation;
using AgenticGateway.Sandboxes.Usage;

namespace AgenticGateway.Sandboxes.Bubblewrap;

/// <summary>
/// A bubblewrap sandbox's use: CPU and memory from its cgroup (nothing without one: a gateway not running as root
/// sets no cgroups), disk from its writable tmpfs (/home/user, /tmp, /dev/shm), seen through its pid 1's root.
/// </summary>
internal sealed class BubblewrapUsage : IUsageProbe
{
    private static readonly string[] Writable = [BubblewrapCommand.Home, "/tmp", "/dev/shm"];
    private readonly CgroupUsage? _cgroup;
    private readonly string[] _disks;

    private BubblewrapUsage(CgroupUsage? cgroup, string[] disks)
    {
        _cgroup = cgroup;
        _disks = disks;
    }

    /// <param name="bwrapPid">bwrap's pid on the host: its only child is the sandbox's pid 1.</param>
    /// <returns>Null when the sandbox has already gone.</returns>
    public static BubblewrapUsage? Open(int bwrapPid, CgroupLimits? cgroup)
    {
        if (ProcessTree.OnlyChild(bwrapPid) is not { } init) return null;
        // Paths built once: a sample reads through them without allocating.
        var disks = Writable.Select(p => $"/proc/{init}/root{p}").ToArray();
        var usage = cgroup is null ? null : CgroupUsage.Open(cgroup.Mode == CgroupMode.V2, cgroup.Memory, cgroup.CpuAccounting);
        return new BubblewrapUsage(usage, disks);
    }

    public bool TryRead(Span<byte> scratch, out UsageReading reading)
    {
        long cpu = 0, used = 0, cache = 0, disk = 0;
        var read = _cgroup is not null && _cgroup.TryRead(scratch, out cpu, out used, out cache);
        foreach (var path in _disks)
        {
            if (StatVfs.Used(path) is not { } bytes) continue;
            disk += bytes;
            read = true;
        }
        reading = new UsageReading(cpu, used, cache, disk);
        return read;
    }

    public void Dispose() => _cgroup?.Dispose();
}
