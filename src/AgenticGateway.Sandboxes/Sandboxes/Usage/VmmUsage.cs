using System.Runtime.InteropServices;

namespace AgenticGateway.Sandboxes.Usage;

/// <summary>
/// A microVM as the host sees it, from its VMM's /proc entries: CPU time of every VMM thread (vCPUs included) from
/// /proc/&lt;pid&gt;/stat, and the VM's resident memory (the guest pages it has touched, its tmpfs disk among them,
/// plus the VMM's own) from /proc/&lt;pid&gt;/statm. What the guest does with its memory, and its disk, the host
/// cannot see.
/// </summary>
internal sealed partial class VmmUsage : IUsageProbe
{
    private const int ClockTicksName = 2;   // _SC_CLK_TCK
    private static readonly long NanosecondsPerTick = 1_000_000_000 / Math.Max(1, sysconf(ClockTicksName));
    private readonly KernelFile _stat;
    private readonly KernelFile _statm;

    private VmmUsage(KernelFile stat, KernelFile statm)
    {
        _stat = stat;
        _statm = statm;
    }

    /// <summary>A probe of the VMM <paramref name="pid"/>, or null when it has gone.</summary>
    public static VmmUsage? Open(int pid)
    {
        var stat = KernelFile.TryOpen($"/proc/{pid}/stat");
        var statm = KernelFile.TryOpen($"/proc/{pid}/statm");
        if (stat is not null && statm is not null) return new VmmUsage(stat, statm);
        stat?.Dispose();
        statm?.Dispose();
        return null;
    }

    public bool TryRead(Span<byte> scratch, out UsageReading reading)
    {
        reading = default;
        if (!_stat.TryRead(scratch, out var stat)) return false;
        // After the command name (which may hold spaces and parentheses): state is field 3, utime 14, stime 15.
        var fields = stat[(stat.LastIndexOf((byte)')') + 2)..];
        var ticks = (KernelFile.Field(fields, 11) ?? 0) + (KernelFile.Field(fields, 12) ?? 0);
        if (!_statm.TryRead(scratch, out var statm)) return false;
        var resident = (KernelFile.Field(statm, 1) ?? 0) * Environment.SystemPageSize;
        reading = new UsageReading(ticks * NanosecondsPerTick, resident, 0, 0);
        return true;
    }

    public void Dispose()
    {
        _stat.Dispose();
        _statm.Dispose();
    }

    [LibraryImport("libc")]
    private static partial long sysconf(int name);
}
