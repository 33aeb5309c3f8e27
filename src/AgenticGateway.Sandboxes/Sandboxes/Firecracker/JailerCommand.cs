using System.Globalization;

namespace AgenticGateway.Sandboxes.Firecracker;

/// <summary>
/// Where one VM's files are, as the host sees them and as its Firecracker process sees them. Jailed, Firecracker lives
/// in a chroot and every path it is given is inside it; direct, the paths are the host's.
/// </summary>
internal sealed record VmLayout
{
    /// <summary>Host directory that holds everything of this VM; deleted when it ends.</summary>
    public required string HostDirectory { get; init; }
    /// <summary>Host path of the chroot root (jailed only): files the VM needs are hard-linked in here.</summary>
    public string? ChrootRoot { get; init; }
    public required string ApiSocketHost { get; init; }
    public required string VsockHost { get; init; }

    // Paths as Firecracker sees them (inside the chroot when jailed).
    public required string ApiSocket { get; init; }
    public required string Kernel { get; init; }
    public required string Rootfs { get; init; }
    public string? Initrd { get; init; }
    public required string Vsock { get; init; }
    public required string SnapshotState { get; init; }
    public required string SnapshotMemory { get; init; }

    /// <summary>The host path of a path Firecracker sees.</summary>
    public string ToHost(string vmPath) => ChrootRoot is null ? vmPath : Path.Join(ChrootRoot, vmPath);

    /// <summary>Without the jailer: the VM's own directory, the configured kernel and rootfs where they are.</summary>
    public static VmLayout Direct(string directory, FirecrackerOptions options) => new()
    {
        HostDirectory = directory,
        ApiSocketHost = Path.Join(directory, "api.sock"),
        VsockHost = Path.Join(directory, "vsock.sock"),
        ApiSocket = Path.Join(directory, "api.sock"),
        Kernel = options.Kernel!,
        Rootfs = options.Rootfs!,
        Initrd = options.Initrd,
        Vsock = Path.Join(directory, "vsock.sock"),
        SnapshotState = Path.Join(directory, "vm.state"),
        SnapshotMemory = Path.Join(directory, "vm.mem"),
    };
}

/// <summary>
/// The jailer's command line (docs/jailer.md of Firecracker) and the chroot it builds:
/// <c>&lt;chroot_base&gt;/&lt;exec file name&gt;/&lt;id&gt;/root</c>. The jailer copies Firecracker in, creates /dev/kvm and
/// /dev/net/tun, chowns the root to uid:gid, and execs Firecracker there; the kernel, rootfs and snapshot files must be
/// hard-linked in by the caller before it starts.
/// </summary>
internal static class JailerCommand
{
    public const string ApiSocket = "/api.sock";
    public const string Kernel = "/vmlinux";
    public const string Rootfs = "/rootfs.ext4";
    public const string Initrd = "/initrd.img";
    public const string Vsock = "/vsock.sock";
    public const string SnapshotState = "/vm.state";
    public const string SnapshotMemory = "/vm.mem";
    private const long CpuPeriodMicros = 100_000;

    /// <summary>The jailer's per-VM directory: <c>&lt;chroot_base&gt;/&lt;exec file name&gt;/&lt;id&gt;</c> (the chroot is its <c>root</c>).</summary>
    public static string JailDirectory(FirecrackerOptions options, string id) =>
        Path.Join(options.ChrootBase, Path.GetFileName(options.Binary), id);

    public static VmLayout Layout(FirecrackerOptions options, string id)
    {
        var jail = JailDirectory(options, id);
        var root = Path.Join(jail, "root");
        return new VmLayout
        {
            HostDirectory = jail,
            ChrootRoot = root,
            ApiSocketHost = Path.Join(root, ApiSocket),
            VsockHost = Path.Join(root, Vsock),
            ApiSocket = ApiSocket,
            Kernel = Kernel,
            Rootfs = Rootfs,
            Initrd = options.Initrd is null ? null : Initrd,
            Vsock = Vsock,
            SnapshotState = SnapshotState,
            SnapshotMemory = SnapshotMemory,
        };
    }

    /// <summary>
    /// The jailer's argv (without the jailer itself). Limits go in as <c>--cgroup file=value</c>: memory (guest memory
    /// plus <paramref name="overheadMb"/> for the VMM) and a CPU quota, in v1 or v2 spelling. No <c>--daemonize</c>: the
    /// gateway keeps Firecracker's stdout/stderr and its exit.
    /// </summary>
    public static IReadOnlyList<string> Build(FirecrackerOptions options, string id, string parentCgroup, int cgroupVersion,
        long memoryBytes, double cpus, string? netns = null)
    {
        var args = new List<string>
        {
            "--id", id,
            "--exec-file", options.Binary,
            "--uid", options.Uid.ToString(CultureInfo.InvariantCulture),
            "--gid", options.Gid.ToString(CultureInfo.InvariantCulture),
            "--chroot-base-dir", options.ChrootBase,
            "--cgroup-version", cgroupVersion.ToString(CultureInfo.InvariantCulture),
            "--parent-cgroup", parentCgroup,
        };
        foreach (var (file, value) in CgroupValues(cgroupVersion, memoryBytes, cpus))
        {
            args.Add("--cgroup");
            args.Add($"{file}={value}");
        }
        if (netns is not null) { args.Add("--netns"); args.Add(netns); }
        if (options.NewPidNs) args.Add("--new-pid-ns");
        args.Add("--");
        args.AddRange(FirecrackerArgs(options, ApiSocket));
        return args;
    }

    /// <summary>Firecracker's own arguments; the jailer adds <c>--id</c> itself.</summary>
    public static IReadOnlyList<string> FirecrackerArgs(FirecrackerOptions options, string apiSocket)
    {
        List<string> args = ["--api-sock", apiSocket];
        if (!options.Seccomp) args.Add("--no-seccomp");
        return args;
    }

    public static IEnumerable<(string File, string Value)> CgroupValues(int cgroupVersion, long memoryBytes, double cpus)
    {
        var quota = Math.Max(1000, (long)Math.Round(cpus * CpuPeriodMicros));
        var memory = memoryBytes.ToString(CultureInfo.InvariantCulture);
        if (cgroupVersion == 2)
        {
            yield return ("memory.max", memory);
            yield return ("cpu.max", $"{quota} {CpuPeriodMicros}");
        }
        else
        {
            yield return ("memory.limit_in_bytes", memory);
            yield return ("cpu.cfs_period_us", CpuPeriodMicros.ToString(CultureInfo.InvariantCulture));
            yield return ("cpu.cfs_quota_us", quota.ToString(CultureInfo.InvariantCulture));
        }
    }

    /// <summary>The pid file the jailer writes with <c>--new-pid-ns</c>: <c>&lt;chroot&gt;/&lt;exec file name&gt;.pid</c>.</summary>
    public static string PidFile(FirecrackerOptions options, VmLayout layout) =>
        Path.Join(layout.ChrootRoot, Path.GetFileName(options.Binary) + ".pid");
}
