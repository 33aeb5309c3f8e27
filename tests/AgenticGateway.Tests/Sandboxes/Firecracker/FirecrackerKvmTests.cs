using System.Diagnostics;
using AgenticGateway.Sandboxes;
using AgenticGateway.Sandboxes.Firecracker;
using Microsoft.Extensions.Logging.Abstractions;

namespace AgenticGateway.Tests.Sandboxes.Firecracker;

/// <summary>
/// Real microVMs, end to end: needs /dev/kvm, firecracker (AGW_FC_BINARY, default /usr/local/bin/firecracker) and the
/// guest image (<c>agw images build</c>; AGW_FC_IMAGE_DIR, default the image cache; or AGW_FC_KERNEL and AGW_FC_ROOTFS
/// for images of your own). Skipped only when /dev/kvm is absent.
/// </summary>
[Trait("Category", "vm")]
public sealed class FirecrackerKvmTests
{
    private static FirecrackerOptions Options(bool snapshots) => new FirecrackerOptions
    {
        Binary = Environment.GetEnvironmentVariable("AGW_FC_BINARY") ?? "/usr/local/bin/firecracker",
        ImageDirectory = Environment.GetEnvironmentVariable("AGW_FC_IMAGE_DIR") ?? AgenticGateway.Sandboxes.ImageLayout.DefaultCacheDirectory,
        Kernel = Environment.GetEnvironmentVariable("AGW_FC_KERNEL"),
        Rootfs = Environment.GetEnvironmentVariable("AGW_FC_ROOTFS"),
        UseJailer = false,
        Snapshots = snapshots,
    }.WithImageDefaults();

    private static SandboxLaunch Launch() =>
        new("sb-kvm-" + Guid.NewGuid().ToString("N")[..8], new SandboxResources { MemoryMb = 256, DiskMb = 128, Cpu = 1 }, 256, NetworkPolicy.None, TimeSpan.FromSeconds(30));

    [KvmFact]
    public async Task A_microvm_boots_to_a_ready_agent_and_a_snapshot_clone_answers_too()
    {
        var data = Directory.CreateTempSubdirectory("agw-fc-kvm-").FullName;
        try
        {
            var driver = new FirecrackerDriver(Options(snapshots: true), data, NullLogger<FirecrackerDriver>.Instance);
            Assert.True(driver.Unavailable is null, $"the KVM test needs firecracker and guest images: {driver.Unavailable}");

            // The first start boots the template VM and snapshots it, then restores a clone from it.
            await using (var first = await driver.StartAsync(Launch(), default))
            {
                await first.Agent.CallAsync("ping", null, default).WaitAsync(TimeSpan.FromSeconds(10));
            }
            var watch = Stopwatch.StartNew();
            await using var clone = await driver.StartAsync(Launch(), default);
            var restore = watch.Elapsed;
            await clone.Agent.CallAsync("ping", null, default).WaitAsync(TimeSpan.FromSeconds(10));
            var listing = await clone.Agent.CallAsync("fs.list", w => w.WriteString("path", "/tmp"), default).WaitAsync(TimeSpan.FromSeconds(10));
            Assert.True(listing.TryGetProperty("entries", out _));
            Assert.True(restore < TimeSpan.FromSeconds(5), $"a snapshot clone took {restore.TotalMilliseconds:0} ms to a ready agent");
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [KvmFact]
    public async Task A_cold_boot_without_snapshots_reaches_the_agent()
    {
        var data = Directory.CreateTempSubdirectory("agw-fc-kvm-").FullName;
        try
        {
            var driver = new FirecrackerDriver(Options(snapshots: false), data, NullLogger<FirecrackerDriver>.Instance);
            Assert.True(driver.Unavailable is null, $"the KVM test needs firecracker and guest images: {driver.Unavailable}");
            await using var vm = await driver.StartAsync(Launch(), default);
            await vm.Agent.CallAsync("ping", null, default).WaitAsync(TimeSpan.FromSeconds(10));
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }
}
