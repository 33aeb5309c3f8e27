using AgenticGateway.Configuration;
using AgenticGateway.Yaml;

namespace AgenticGateway.Sandboxes.Firecracker;

/// <summary>
/// Reads <c>sandboxes.firecracker:</c>. Paths must be absolute; whether the files exist is the driver's concern at
/// start (it reports itself unavailable), so a config can be checked on a machine without the images.
/// </summary>
internal static class FirecrackerConfigReader
{
    public static FirecrackerOptions Read(ConfigMap f)
    {
        var o = new FirecrackerOptions();
        if (Absolute(f, "binary") is { } binary) o = o with { Binary = binary };
        if (Absolute(f, "jailer") is { } jailer) o = o with { Jailer = jailer };
        if (Absolute(f, "kernel") is { } kernel) o = o with { Kernel = kernel };
        if (Absolute(f, "rootfs") is { } rootfs) o = o with { Rootfs = rootfs };
        if (Absolute(f, "initrd") is { } initrd) o = o with { Initrd = initrd };
        if (Absolute(f, "image_dir") is { } image) o = o with { ImageDirectory = image };
        if ((o.Kernel is null) != (o.Rootfs is null))
            f.Context.Issues.Error(f.Child(o.Kernel is null ? "kernel" : "rootfs"), "set both kernel and rootfs, or neither (then image_dir's image is used)");
        if (f.Int("vcpus", 1, 32) is { } vcpus) o = o with { Vcpus = vcpus };
        if (f.Int("memory_mb", 16, 1 << 20) is { } memory) o = o with { MemoryMb = memory };
        if (f.String("boot_args") is { Length: > 0 } args) o = o with { BootArgs = args };
        if (f.Long("agent_port", 1) is { } port)
        {
            if (port <= uint.MaxValue) o = o with { AgentPort = (uint)port };
            else f.Context.Issues.Error(f.Child("agent_port"), $"must be at most {uint.MaxValue}");
        }
        if (f.Bool("use_jailer") is { } useJailer) o = o with { UseJailer = useJailer };
        if (Absolute(f, "chroot_base") is { } chroot) o = o with { ChrootBase = chroot };
        if (f.Int("uid", 0) is { } uid) o = o with { Uid = uid };
        if (f.Int("gid", 0) is { } gid) o = o with { Gid = gid };
        if (f.Int("cgroup_version", 1, 2) is { } cgroup) o = o with { CgroupVersion = cgroup };
        if (f.Bool("new_pid_ns") is { } pidNs) o = o with { NewPidNs = pidNs };
        if (f.Bool("seccomp") is { } seccomp) o = o with { Seccomp = seccomp };
        if (f.Bool("snapshots") is { } snapshots) o = o with { Snapshots = snapshots };
        f.ReportUnknownKeys(strict: true);
        if (o.UseJailer && !Path.GetFileName(o.Binary).Contains("firecracker", StringComparison.Ordinal))
            f.Context.Issues.Error(f.Child("binary"), "the jailer only runs a binary whose file name contains 'firecracker'");
        if (o.UseJailer && o.Uid == 0)
            f.Context.Issues.Error(f.Child("uid"), "a jailed Firecracker must not run as root (uid 0)");
        return o.WithImageDefaults();
    }

    private static string? Absolute(ConfigMap f, string key)
    {
        if (f.String(key) is not { Length: > 0 } path) return null;
        if (Path.IsPathRooted(path)) return path;
        f.Context.Issues.Error(f.Child(key), $"must be an absolute path, got '{path}'");
        return null;
    }
}
