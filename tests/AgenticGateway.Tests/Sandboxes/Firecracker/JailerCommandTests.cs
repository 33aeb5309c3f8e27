using AgenticGateway.Sandboxes.Firecracker;

namespace AgenticGateway.Tests.Sandboxes.Firecracker;

/// <summary>The jailer's argv and the chroot layout, as Firecracker's docs/jailer.md describes them.</summary>
[Trait("Category", "unit")]
public class JailerCommandTests
{
    private static readonly FirecrackerOptions Options = new()
    {
        Binary = "/usr/local/bin/firecracker",
        Jailer = "/usr/local/bin/jailer",
        Kernel = "/var/lib/agw/vmlinux",
        Rootfs = "/var/lib/agw/rootfs.ext4",
        ChrootBase = "/srv/jailer",
        Uid = 123,
        Gid = 100,
    };

    [Fact]
    public void Cgroup_v2_argv_has_identity_chroot_limits_pid_namespace_and_firecracker_args_after_the_separator()
    {
        var args = JailerCommand.Build(Options, "sb-1", "agw-fc-abc", cgroupVersion: 2, memoryBytes: 576L << 20, cpus: 1.5);
        Assert.Equal(
            [
                "--id", "sb-1",
                "--exec-file", "/usr/local/bin/firecracker",
                "--uid", "123",
                "--gid", "100",
                "--chroot-base-dir", "/srv/jailer",
                "--cgroup-version", "2",
                "--parent-cgroup", "agw-fc-abc",
                "--cgroup", "memory.max=603979776",
                "--cgroup", "cpu.max=150000 100000",
                "--new-pid-ns",
                "--",
                "--api-sock", "/api.sock",
            ],
            args);
        Assert.DoesNotContain("--daemonize", args);
    }

    [Fact]
    public void Cgroup_v1_uses_the_v1_files_and_netns_and_no_seccomp_are_passed_when_asked()
    {
        var args = JailerCommand.Build(Options with { Seccomp = false, NewPidNs = false }, "sb-2", "agw", cgroupVersion: 1, memoryBytes: 1L << 30, cpus: 0.5, netns: "/var/run/netns/sb-2");
        var cgroups = args.Select((a, i) => (a, i)).Where(x => x.a == "--cgroup").Select(x => args[x.i + 1]).ToList();
        Assert.Equal(["memory.limit_in_bytes=1073741824", "cpu.cfs_period_us=100000", "cpu.cfs_quota_us=50000"], cgroups);
        Assert.Equal("/var/run/netns/sb-2", args[args.ToList().IndexOf("--netns") + 1]);
        Assert.DoesNotContain("--new-pid-ns", args);
        var firecracker = args.SkipWhile(a => a != "--").Skip(1).ToList();
        Assert.Equal(["--api-sock", "/api.sock", "--no-seccomp"], firecracker);
    }

    [Fact]
    public void Chroot_layout_puts_every_file_under_base_exec_name_id_root()
    {
        var layout = JailerCommand.Layout(Options, "sb-1");
        Assert.Equal("/srv/jailer/firecracker/sb-1", layout.HostDirectory);
        Assert.Equal("/srv/jailer/firecracker/sb-1/root", layout.ChrootRoot);
        Assert.Equal("/srv/jailer/firecracker/sb-1/root/api.sock", layout.ApiSocketHost);
        Assert.Equal("/srv/jailer/firecracker/sb-1/root/vsock.sock", layout.VsockHost);
        // Firecracker sees chroot-relative paths.
        Assert.Equal("/api.sock", layout.ApiSocket);
        Assert.Equal("/vmlinux", layout.Kernel);
        Assert.Equal("/rootfs.ext4", layout.Rootfs);
        Assert.Equal("/srv/jailer/firecracker/sb-1/root/rootfs.ext4", layout.ToHost(layout.Rootfs));
        Assert.Equal("/srv/jailer/firecracker/sb-1/root/vm.mem", layout.ToHost(layout.SnapshotMemory));
        Assert.Equal("/srv/jailer/firecracker/sb-1/root/firecracker.pid", JailerCommand.PidFile(Options, layout));
    }

    [Fact]
    public void Direct_layout_uses_host_paths()
    {
        var layout = VmLayout.Direct("/run/agw/vms/sb-3", Options);
        Assert.Null(layout.ChrootRoot);
        Assert.Equal("/run/agw/vms/sb-3/api.sock", layout.ApiSocket);
        Assert.Equal(layout.ApiSocket, layout.ApiSocketHost);
        Assert.Equal("/var/lib/agw/rootfs.ext4", layout.Rootfs);
        Assert.Equal("/run/agw/vms/sb-3/vm.state", layout.ToHost(layout.SnapshotState));
    }
}
