
namespace AgenticGateway.Sandboxes.Qemu;

/// <summary>Where a QEMU guest's root filesystem comes from.</summary>
internal enum QemuRoot
{
    /// <summary>rootfs.ext4 on a read-only virtio-blk disk shared by all VMs, under a tmpfs overlay.</summary>
    Disk,
    /// <summary>rootfs.cpio.gz: the whole root filesystem unpacked into guest memory (no disk device).</summary>
    Initramfs,
}

/// <summary><c>sandboxes.qemu:</c> the QEMU microVM driver's settings. Every default is written here.</summary>
internal sealed record QemuOptions
{
    public string Binary { get; init; } = "/usr/bin/qemu-system-x86_64";
    /// <summary>An image directory (vmlinux, initrd.img, rootfs.ext4, rootfs.cpio.gz) or a cache of them whose <c>current</c> is used; built by <c>agw images build</c>.</summary>
    public string ImageDirectory { get; init; } = ImageLayout.DefaultCacheDirectory;
    /// <summary>vCPUs per VM; null: the sandbox's <c>cpu</c> rounded up.</summary>
    public int? Vcpus { get; init; }
    /// <summary>Guest memory per VM; null: the sandbox's <c>memory_mb</c>.</summary>
    public int? MemoryMb { get; init; }
    /// <summary>Start sandboxes by restoring a snapshot of a booted, agent-ready VM instead of booting each one.</summary>
    public bool Snapshots { get; init; } = true;
    public QemuRoot Root { get; init; } = QemuRoot.Disk;
}
