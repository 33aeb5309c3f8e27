namespace AgenticGateway.Sandboxes.Qemu;

/// <summary><c>sandboxes.qemu:</c> the QEMU microVM driver's settings. Every default is written here.</summary>
internal sealed record QemuOptions
{
    public string Binary { get; init; } = "/usr/bin/qemu-system-x86_64";
    /// <summary>An image directory (vmlinuz, initramfs.cpio.gz) or a cache of them whose <c>current</c> is used; built by <c>agw images build</c>.</summary>
    public string ImageDirectory { get; init; } = ImageBuilder.DefaultCacheDirectory;
    /// <summary>vCPUs per VM; null: the sandbox's <c>cpu</c> rounded up.</summary>
    public int? Vcpus { get; init; }
    /// <summary>Guest memory per VM; null: the sandbox's <c>memory_mb</c>.</summary>
    public int? MemoryMb { get; init; }
    /// <summary>Start sandboxes by restoring a snapshot of a booted, agent-ready VM instead of booting each one.</summary>
    public bool Snapshots { get; init; } = true;
}
