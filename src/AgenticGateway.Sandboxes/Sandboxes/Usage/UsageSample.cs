namespace AgenticGateway.Sandboxes.Usage;

/// <summary>
/// One measurement of a sandbox, in E2B's terms (its <c>SandboxMetric</c>): CPU over the interval since the previous
/// sample, memory and disk as they were at <see cref="UnixMs"/>. Bytes throughout.
/// </summary>
/// <param name="CpuUsedPct">CPU time used over the interval, as a percentage of <paramref name="CpuCount"/> CPUs (0-100).</param>
/// <param name="MemUsed">Memory the sandbox's processes hold (anonymous memory: not the page cache, not its tmpfs files).</param>
/// <param name="MemTotal">The sandbox's memory limit (<c>memory_mb</c>).</param>
/// <param name="MemCache">Page cache of files it read, without its tmpfs files (which count as disk).</param>
/// <param name="DiskUsed">What its writable places hold.</param>
/// <param name="DiskTotal">Its disk limit (<c>disk_mb</c>).</param>
internal readonly record struct UsageSample(long UnixMs, float CpuUsedPct, int CpuCount, long MemUsed, long MemTotal, long MemCache, long DiskUsed, long DiskTotal)
{
    public DateTimeOffset Timestamp => DateTimeOffset.FromUnixTimeMilliseconds(UnixMs);
}

/// <summary>What a probe reads at one moment: CPU time so far (it only grows), memory and disk now.</summary>
internal readonly record struct UsageReading(long CpuNanoseconds, long MemUsed, long MemCache, long DiskUsed);

/// <summary>
/// A running sandbox's instance that can be measured from the host (<see cref="ISandboxInstance"/>s implement it when
/// they can). Opened by the sampler off the request path, once per instance.
/// </summary>
internal interface IUsageSource
{
    /// <summary>A probe over this instance's counters, or null when nothing can be measured (the instance has gone).</summary>
    IUsageProbe? OpenUsageProbe();
}

/// <summary>Reads one instance's counters. Used by one thread at a time (the sampler's); disposed when the instance ends.</summary>
internal interface IUsageProbe : IDisposable
{
    /// <summary>
    /// The counters now; false when they cannot be read (the instance has ended). <paramref name="scratch"/> is the
    /// sampler's buffer for file contents, so that a reading allocates nothing.
    /// </summary>
    bool TryRead(Span<byte> scratch, out UsageReading reading);
}

/// <summary>A microVM's VMM process (QEMU, Firecracker), whose CPU time and resident memory are the VM's as the host sees them.</summary>
internal interface IVmmProcess
{
    /// <summary>The VMM's pid on the host (Firecracker's own under the jailer, not the jailer's).</summary>
    int VmmPid { get; }
}
