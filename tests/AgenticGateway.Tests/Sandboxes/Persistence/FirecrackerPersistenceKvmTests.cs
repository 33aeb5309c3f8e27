using AgenticGateway.Sandboxes;
using AgenticGateway.Sandboxes.Firecracker;
using AgenticGateway.Sandboxes.Persistence;
using AgenticGateway.Tests.Sandboxes.Firecracker;
using Microsoft.Extensions.Logging.Abstractions;

namespace AgenticGateway.Tests.Sandboxes.Persistence;

/// <summary>
/// The Firecracker driver's pause and resume through its snapshot API, on real microVMs: needs /dev/kvm, firecracker
/// and the guest image as <see cref="FirecrackerKvmTests"/> does; skipped only when KVM is not usable here (Isolation/Kvm: no device, or an x86 CPU without vmx/svm).
/// </summary>
[Trait("Category", "vm")]
public sealed class FirecrackerPersistenceKvmTests
{
    [KvmFact]
    public async Task A_saved_microvm_resumes_with_its_files()
    {
        var data = Directory.CreateTempSubdirectory("agw-fc-persist-").FullName;
        try
        {
            var options = new FirecrackerOptions
            {
                Binary = Environment.GetEnvironmentVariable("AGW_FC_BINARY") ?? "/usr/local/bin/firecracker",
                ImageDirectory = Environment.GetEnvironmentVariable("AGW_FC_IMAGE_DIR") ?? ImageLayout.DefaultCacheDirectory,
                Kernel = Environment.GetEnvironmentVariable("AGW_FC_KERNEL"),
                Rootfs = Environment.GetEnvironmentVariable("AGW_FC_ROOTFS"),
                UseJailer = false,
                Snapshots = false,
            }.WithImageDefaults();
            var driver = new FirecrackerDriver(options, data, NullLogger<FirecrackerDriver>.Instance);
            Assert.True(driver.Unavailable is null, $"the KVM test needs firecracker and guest images: {driver.Unavailable}");
            var resources = new SandboxResources { MemoryMb = 256, DiskMb = 128, Cpu = 1 };
            var launch = new SandboxLaunch("sb-kvm-" + Guid.NewGuid().ToString("N")[..8], resources, 256, NetworkPolicy.None, TimeSpan.FromSeconds(30));
            var state = Directory.CreateDirectory(Path.Join(data, "state")).FullName;
            IReadOnlyDictionary<string, string> saved;
            await using (var first = await driver.StartAsync(launch, default))
            {
                await first.Agent.CallAsync("fs.write", w => { w.WriteString("path", "/home/user/kept.txt"); w.WriteString("data_b64", "a2VwdA=="); w.WriteNumber("offset", 0); w.WriteBoolean("final", true); w.WriteString("upload", "u1"); }, default);
                saved = await driver.SaveAsync(first, resources, state, keepRunning: false, default);
            }
            Assert.True(File.Exists(Path.Join(state, FirecrackerDriver.StateFile)) && File.Exists(Path.Join(state, FirecrackerDriver.MemoryFile)));
            var manifest = new SnapshotManifest
            {
                Kind = SnapshotManifest.PausedKind, Id = launch.Id, SandboxId = launch.Id, Owner = "admin", Isolation = "firecracker",
                Image = driver.Unavailable is null ? ImageLayout.VersionOf(Path.GetDirectoryName(options.Kernel!)!) : null,
                SandboxCreatedAt = DateTimeOffset.UtcNow, SavedAt = DateTimeOffset.UtcNow, Spec = new SnapshotSpec { Runtime = "python" }, Driver = new(saved), Files = [],
            };
            await using var resumed = await driver.RestoreAsync(launch, state, manifest, default);
            var read = await resumed.Agent.CallAsync("fs.read", w => w.WriteString("path", "/home/user/kept.txt"), default);
            Assert.Equal("a2VwdA==", read.GetProperty("data_b64").GetString());
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }
}
