
namespace AgenticGateway.Sandboxes.Firecracker;

/// <summary><c>sandboxes.firecracker:</c> the microVM driver's settings. Every default is written here.</summary>
internal sealed record FirecrackerOptions
{
    public string Binary { get; init; } = "/usr/local/bin/firecracker";
    public string Jailer { get; init; } = "/usr/local/bin/jailer";
    /// <summary>The image built by <c>agw images build</c> (a directory, or a cache whose <c>current</c> is used):
    /// kernel, rootfs and initrd default to its vmlinux, rootfs.ext4 and initrd.img.</summary>
    public string ImageDirectory { get; init; } = ImageLayout.DefaultCacheDirectory;
    /// <summary>Uncompressed guest kernel (vmlinux).</summary>
    public string? Kernel { get; init; }
    /// <summary>ext4 root filesystem with the agent started by init; attached read-only, shared by every VM.</summary>
    public string? Rootfs { get; init; }
    /// <summary>An initramfs to boot with (the image's loads the kernel modules and mounts the root disk), or none.</summary>
    public string? Initrd { get; init; }
    /// <summary>vCPUs per VM; null: the sandbox's <c>cpu</c> rounded up.</summary>
    public int? Vcpus { get; init; }
    /// <summary>Guest memory per VM; null: the sandbox's <c>memory_mb + disk_mb</c> (its writable disk is a tmpfs in guest memory).</summary>
    public int? MemoryMb { get; init; }
    public string BootArgs { get; init; } = "console=ttyS0 reboot=k panic=1 pci=off quiet";
    /// <summary>The guest vsock port the agent listens on.</summary>
    public uint AgentPort { get; init; } = 1024;
    /// <summary>Run each Firecracker under the jailer (chroot, uid/gid drop, cgroups, namespaces); needs root.</summary>
    public bool UseJailer { get; init; } = true;
    public string ChrootBase { get; init; } = "/srv/jailer";
    public int Uid { get; init; } = 65534;
    public int Gid { get; init; } = 65534;
    /// <summary>1 or 2; null: 2 when /sys/fs/cgroup is a cgroup2 mount, else 1.</summary>
    public int? CgroupVersion { get; init; }
    /// <summary>The jailer execs Firecracker in a new pid namespace.</summary>
    public bool NewPidNs { get; init; } = true;
    /// <summary>Firecracker's built-in seccomp filters; false passes <c>--no-seccomp</c> (not for production).</summary>
    public bool Seccomp { get; init; } = true;
    /// <summary>Start sandboxes by restoring a snapshot of a booted, agent-ready VM instead of booting each one.</summary>
    public bool Snapshots { get; init; } = true;

    /// <summary>Kernel, rootfs and initrd from <see cref="ImageDirectory"/> where neither kernel nor rootfs is set.</summary>
    public FirecrackerOptions WithImageDefaults()
    {
        if (Kernel is not null || Rootfs is not null) return this;
        var image = ImageLayout.Resolve(ImageDirectory);
        return this with
        {
            Kernel = Path.Join(image, ImageLayout.VmlinuxFile),
            Rootfs = Path.Join(image, ImageLayout.RootfsFile),
            Initrd = Initrd ?? Path.Join(image, ImageLayout.InitrdFile),
        };
    }
}
