using AgenticGateway.Configuration;
using AgenticGateway.Sandboxes;
using AgenticGateway.Sandboxes.Firecracker;
using Microsoft.Extensions.Logging.Abstractions;

namespace AgenticGateway.Tests.Sandboxes.Firecracker;

/// <summary>When the driver says it cannot run, and the <c>sandboxes.firecracker</c> config.</summary>
[Trait("Category", "unit")]
public sealed class FirecrackerDriverTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("agw-fc-driver-").FullName;

    private string Touch(string name)
    {
        var path = Path.Combine(_directory, name);
        File.WriteAllText(path, "");
        return path;
    }

    [Fact]
    public void Without_kvm_the_driver_is_unavailable_and_says_why()
    {
        var driver = new FirecrackerDriver(new FirecrackerOptions { Kernel = "/k", Rootfs = "/r" }, _directory,
            NullLogger<FirecrackerDriver>.Instance, kvmDevice: Path.Combine(_directory, "no-kvm"));
        Assert.Equal($"{_directory}/no-kvm is absent: Firecracker needs KVM (bare metal or nested virtualization)", driver.Unavailable);
        Assert.Equal("firecracker", driver.Name);
    }

    /// <summary>A /proc/cpuinfo whose flags line has <paramref name="flags"/>.</summary>
    private string CpuInfo(string flags)
    {
        var path = Path.Combine(_directory, "cpuinfo-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(path, $"processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: {flags}\n");
        return path;
    }

    [Fact]
    public void Missing_binaries_and_images_are_named_with_their_config_key()
    {
        var kvm = Touch("kvm");
        var cpu = CpuInfo("fpu vme de pse tsc msr vmx sse sse2");
        var options = new FirecrackerOptions { Binary = Path.Combine(_directory, "firecracker"), Jailer = Path.Combine(_directory, "jailer"), UseJailer = false };
        Assert.Contains("firecracker not found at", FirecrackerDriver.Check(options, kvm, cpu));
        Assert.Contains("(sandboxes.firecracker.binary)", FirecrackerDriver.Check(options, kvm, cpu));

        options = options with { Binary = Touch("firecracker") };
        Assert.Contains("guest kernel not found", FirecrackerDriver.Check(options, kvm, cpu));
        options = options with { Kernel = Touch("vmlinux") };
        Assert.Contains("guest rootfs not found", FirecrackerDriver.Check(options, kvm, cpu));
        options = options with { Rootfs = Touch("rootfs.ext4") };
        Assert.Null(FirecrackerDriver.Check(options, kvm, cpu));

        Assert.Contains("jailer not found at", FirecrackerDriver.Check(options with { UseJailer = true }, kvm, cpu));
    }

    [Fact]
    public void A_kvm_device_on_a_cpu_without_virtualization_extensions_is_not_enough()
    {
        // Some VM hosts expose /dev/kvm to guests whose CPU has no vmx or svm: Firecracker would never boot there.
        var options = new FirecrackerOptions { Binary = Touch("firecracker"), Kernel = Touch("vmlinux"), Rootfs = Touch("rootfs.ext4"), UseJailer = false };
        var kvm = Touch("kvm");
        var noVirtualization = CpuInfo("fpu sse sse2 hypervisor");
        Assert.Equal($"{kvm} exists but the CPU has no virtualization extensions (no vmx or svm flag in {noVirtualization}): Firecracker needs KVM (bare metal or nested virtualization)",
            FirecrackerDriver.Check(options, kvm, noVirtualization));
        Assert.Null(FirecrackerDriver.Check(options, kvm, CpuInfo("fpu svm sse")));
        // An aarch64 cpuinfo has a Features line, no flags: the device decides.
        var arm = Path.Combine(_directory, "cpuinfo-arm");
        File.WriteAllText(arm, "processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics\nCPU implementer\t: 0x41\n");
        Assert.Null(FirecrackerDriver.Check(options, kvm, arm));
        Assert.Contains("is absent", FirecrackerDriver.Check(options, Path.Combine(_directory, "no-kvm"), arm));
    }

    [Fact]
    public void Config_reads_every_firecracker_key()
    {
        var result = ConfigLoader.Load("""
            models: [{name: m, provider: mock}]
            sandboxes:
              driver: firecracker
              firecracker:
                binary: /opt/fc/firecracker
                jailer: /opt/fc/jailer
                kernel: /var/lib/agw/vmlinux
                rootfs: /var/lib/agw/rootfs.ext4
                vcpus: 2
                memory_mb: 1024
                boot_args: console=ttyS0 quiet
                agent_port: 52
                use_jailer: true
                chroot_base: /srv/jail
                uid: 123
                gid: 100
                cgroup_version: 2
                new_pid_ns: false
                seccomp: true
                snapshots: false
            """, "test.yaml", new Dictionary<string, string>());
        Assert.Empty(result.Errors);
        var s = result.Options!.Sandboxes;
        Assert.Equal("firecracker", s.Driver);
        Assert.Equal(new FirecrackerOptions
        {
            Binary = "/opt/fc/firecracker", Jailer = "/opt/fc/jailer", Kernel = "/var/lib/agw/vmlinux", Rootfs = "/var/lib/agw/rootfs.ext4",
            Vcpus = 2, MemoryMb = 1024, BootArgs = "console=ttyS0 quiet", AgentPort = 52, UseJailer = true, ChrootBase = "/srv/jail",
            Uid = 123, Gid = 100, CgroupVersion = 2, NewPidNs = false, Seccomp = true, Snapshots = false,
        }, s.Firecracker);
    }

    [Fact]
    public void Without_kernel_and_rootfs_the_built_image_is_used()
    {
        var result = ConfigLoader.Load("models: [{name: m, provider: mock}]\nsandboxes:\n  driver: firecracker\n  firecracker: {image_dir: /var/img}\n", "test.yaml", new Dictionary<string, string>());
        Assert.Empty(result.Errors);
        var f = result.Options!.Sandboxes.Firecracker;
        Assert.Equal(("/var/img/current/vmlinux", "/var/img/current/rootfs.ext4", "/var/img/current/initrd.img"), (f.Kernel, f.Rootfs, f.Initrd));

        // Also with no firecracker: section at all.
        var bare = ConfigLoader.Load("models: [{name: m, provider: mock}]\nsandboxes:\n  driver: firecracker\n", "test.yaml", new Dictionary<string, string>());
        Assert.Empty(bare.Errors);
        Assert.StartsWith(AgenticGateway.Sandboxes.ImageLayout.DefaultCacheDirectory, bare.Options!.Sandboxes.Firecracker.Kernel);
        Assert.EndsWith("vmlinux", bare.Options.Sandboxes.Firecracker.Kernel);

        var own = ConfigLoader.Load("models: [{name: m, provider: mock}]\nsandboxes:\n  driver: firecracker\n  firecracker: {kernel: /k/vmlinux, rootfs: /k/root.ext4}\n", "test.yaml", new Dictionary<string, string>());
        Assert.Equal(("/k/vmlinux", "/k/root.ext4", (string?)null), (own.Options!.Sandboxes.Firecracker.Kernel, own.Options.Sandboxes.Firecracker.Rootfs, own.Options.Sandboxes.Firecracker.Initrd));
    }

    [Fact]
    public void Bubblewrap_stays_the_default_driver()
    {
        var result = ConfigLoader.Load("models: [{name: m, provider: mock}]\n", "test.yaml", new Dictionary<string, string>());
        Assert.Equal("bubblewrap", result.Options!.Sandboxes.Driver);
    }

    [Theory]
    [InlineData("firecracker: {kernel: /boot/vmlinux}", "sandboxes.firecracker.rootfs: set both kernel and rootfs, or neither")]
    [InlineData("firecracker: {image_dir: images}", "sandboxes.firecracker.image_dir: must be an absolute path")]
    [InlineData("driver: vmware", "unknown sandbox driver 'vmware' (bubblewrap, firecracker, qemu)")]
    [InlineData("firecracker: {kernel: vmlinux}", "sandboxes.firecracker.kernel: must be an absolute path")]
    [InlineData("firecracker: {vcpus: 64}", "sandboxes.firecracker.vcpus: must be between 1 and 32")]
    [InlineData("firecracker: {cgroup_version: 3}", "sandboxes.firecracker.cgroup_version: must be between 1 and 2")]
    [InlineData("firecracker: {uid: 0}", "a jailed Firecracker must not run as root")]
    [InlineData("firecracker: {binary: /usr/bin/vmm}", "file name contains 'firecracker'")]
    [InlineData("firecracker: {kernal: /k}", "sandboxes.firecracker.kernal: unknown key")]
    [InlineData("drivers: [bubblewrap, vmware]", "sandboxes.drivers: unknown sandbox driver 'vmware'")]
    [InlineData("pools: {node: {driver: qemu}}", "sandboxes.pools.node.driver: driver 'qemu' is not among sandboxes.drivers (bubblewrap)")]
    public void Config_errors_name_the_key(string section, string expected)
    {
        var result = ConfigLoader.Load($"models: [{{name: m, provider: mock}}]\nsandboxes:\n  {section}\n", "test.yaml", new Dictionary<string, string>());
        Assert.Contains(result.Errors, e => e.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_vmm_process_starts_with_path_alone_not_the_gateways_environment()
    {
        // Firecracker needs KVM; a stand-in records the environment the launcher gives it, then exits (so the launch fails).
        var secret = "agw-planted-" + Guid.NewGuid().ToString("N");
        var recorded = Path.Combine(_directory, "environment");
        Environment.SetEnvironmentVariable("AGW_TEST_FIRECRACKER_SECRET", secret);
        try
        {
            var options = new FirecrackerOptions { Kernel = Touch("vmlinux"), Rootfs = Touch("rootfs.ext4"), UseJailer = false };
            var registry = Directory.CreateDirectory(Path.Combine(_directory, "vm")).FullName;
            await Assert.ThrowsAsync<AgenticGateway.Sandboxes.Bubblewrap.SandboxStartException>(() => FirecrackerVm.LaunchAsync(options,
                VmLayout.Direct(registry, options), ["/bin/sh", "-c", "/usr/bin/env -0 > \"$0\"", recorded],
                registry, _ => { }, () => { }, TimeSpan.FromSeconds(10), CancellationToken.None));
        }
        finally { Environment.SetEnvironmentVariable("AGW_TEST_FIRECRACKER_SECRET", null); }
        var environment = File.ReadAllText(recorded).Split('\0', StringSplitOptions.RemoveEmptyEntries);
        Assert.DoesNotContain(environment, e => e.Contains(secret, StringComparison.Ordinal));
        Assert.Contains("PATH=/usr/sbin:/usr/bin:/sbin:/bin", environment);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
