namespace AgenticGateway.Sandboxes.Usage;

/// <summary>
/// A cgroup's CPU time and memory, from its own counters: they include every process of the group, those that have
/// already exited too. cgroup v1: <c>cpuacct.usage</c> (ns) and memory.stat's total_rss, total_cache, total_shmem;
/// v2: cpu.stat's usage_usec and memory.stat's anon, file, shmem.
/// </summary>
internal sealed class CgroupUsage : IDisposable
{
    private readonly bool _v2;
    private readonly KernelFile? _cpu;
    private readonly KernelFile? _memory;

    private CgroupUsage(bool v2, KernelFile? cpu, KernelFile? memory)
    {
        _v2 = v2;
        _cpu = cpu;
        _memory = memory;
    }

    /// <param name="memoryGroup">The group of the memory controller (v1) or the one group (v2).</param>
    /// <param name="cpuGroup">The group that counts CPU time (v1: cpuacct), or null when none does.</param>
    public static CgroupUsage Open(bool v2, string memoryGroup, string? cpuGroup) =>
        new(v2, cpuGroup is null ? null : KernelFile.TryOpen(Path.Join(cpuGroup, v2 ? "cpu.stat" : "cpuacct.usage")),
            KernelFile.TryOpen(Path.Join(memoryGroup, "memory.stat")));

    /// <summary>CPU nanoseconds so far, memory held by processes and the page cache (tmpfs files left out of both); false once the group is gone.</summary>
    public bool TryRead(Span<byte> scratch, out long cpuNanoseconds, out long memUsed, out long memCache)
    {
        cpuNanoseconds = memUsed = memCache = 0;
        var read = false;
        if (_cpu is not null && _cpu.TryRead(scratch, out var cpu))
        {
            cpuNanoseconds = _v2 ? (KernelFile.Value(cpu, "usage_usec"u8) ?? 0) * 1000 : KernelFile.Number(cpu) ?? 0;
            read = true;
        }
        if (_memory is not null && _memory.TryRead(scratch, out var stat))
        {
            var shmem = KernelFile.Value(stat, _v2 ? "shmem"u8 : "total_shmem"u8) ?? 0;
            memUsed = KernelFile.Value(stat, _v2 ? "anon"u8 : "total_rss"u8) ?? 0;
            memCache = Math.Max(0, (KernelFile.Value(stat, _v2 ? "file"u8 : "total_cache"u8) ?? 0) - shmem);
            read = true;
        }
        return read;
    }

    public void Dispose()
    {
        _cpu?.Dispose();
        _memory?.Dispose();
    }
}
