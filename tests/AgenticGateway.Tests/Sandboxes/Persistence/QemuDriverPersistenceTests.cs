using System.Text;
using AgenticGateway.Images;
using AgenticGateway.Sandboxes;
using AgenticGateway.Sandboxes.Agent;
using AgenticGateway.Sandboxes.Persistence;
using AgenticGateway.Sandboxes.Qemu;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace AgenticGateway.Tests.Sandboxes.Persistence;

/// <summary>
/// The qemu driver's save and restore on real microVMs, under TCG emulation so that it runs the same on any host (with
/// or without a working KVM): interpreter memory and a running process survive, and a restored copy is independent.
/// </summary>
[Trait("Category", "vm")]
public sealed class QemuDriverPersistenceTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_saved_vm_resumes_with_its_memory_and_processes_and_the_source_runs_on()
    {
        Assert.True(File.Exists("/usr/bin/qemu-system-x86_64"), "qemu-system-x86_64 is missing: apt-get install qemu-system-x86 (scripts/test.sh does)");
        ImageBuilder.Build(ImageLayout.DefaultCacheDirectory, _ => { }, GuestAgentBinary.Locate(_ => { }));
        var data = Directory.CreateTempSubdirectory("agw-qemu-persist-").FullName;
        try
        {
            var driver = new QemuDriver(new QemuOptions { Snapshots = false }, data, NullLogger<QemuDriver>.Instance, kvmDevice: Path.Join(data, "no-kvm"));
            Assert.True(driver.Unavailable is null, driver.Unavailable);
            var resources = new SandboxResources { MemoryMb = 256, DiskMb = 64, Cpu = 1 };
            SandboxLaunch Launch() => new("sb-qp-" + Guid.NewGuid().ToString("N")[..8], resources, 256, NetworkPolicy.None, TimeSpan.FromSeconds(90));

            await using var source = await driver.StartAsync(Launch(), default);
            await source.Agent.CallAsync("context.create", w => { w.WriteString("context", "python"); w.WriteString("language", "python"); }, default);
            await ExecAsync(source, "import subprocess; x = 41; child = subprocess.Popen(['sleep', '1000'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)");

            // A snapshot: the source goes on running.
            var snapshot = Directory.CreateDirectory(Path.Join(data, "snapshot")).FullName;
            var watch = System.Diagnostics.Stopwatch.StartNew();
            var saved = await driver.SaveAsync(source, resources, snapshot, keepRunning: true, default);
            output.WriteLine($"save: {watch.ElapsedMilliseconds} ms, {new FileInfo(Path.Join(snapshot, QemuDriver.StateFile)).Length >> 20} MiB");
            Assert.Equal("42\n", await ExecAsync(source, "x += 1; print(x)"));

            // A copy started from it has the memory as saved, its own from then on.
            watch.Restart();
            await using var copy = await driver.RestoreAsync(Launch(), snapshot, Manifest(source, saved), default);
            output.WriteLine($"restore: {watch.ElapsedMilliseconds} ms");
            Assert.Equal("41 None\n", await ExecAsync(copy, "print(x, child.poll())"));
            await ExecAsync(copy, "x = 0");
            Assert.Equal("42\n", await ExecAsync(source, "print(x)"));

            // A pause of the copy (stopped, not resumed) and a resume of that.
            var paused = Directory.CreateDirectory(Path.Join(data, "paused")).FullName;
            saved = await driver.SaveAsync(copy, resources, paused, keepRunning: false, default);
            await copy.DisposeAsync();
            await using var resumed = await driver.RestoreAsync(Launch(), paused, Manifest(source, saved), default);
            Assert.Equal("0 None\n", await ExecAsync(resumed, "print(x, child.poll())"));
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    private static SnapshotManifest Manifest(ISandboxInstance instance, IReadOnlyDictionary<string, string> driver) => new()
    {
        Kind = SnapshotManifest.SnapshotKind, Id = "snap-test", SandboxId = "sb-test", Owner = "admin", Isolation = "qemu", Image = instance.Image,
        SandboxCreatedAt = DateTimeOffset.UtcNow, SavedAt = DateTimeOffset.UtcNow, Spec = new SnapshotSpec { Runtime = "python" }, Driver = new(driver), Files = [],
    };

    /// <summary>Runs Python in the instance's "python" context and returns its stdout (failing on an exception).</summary>
    private static async Task<string> ExecAsync(ISandboxInstance instance, string code)
    {
        var stdout = new StringBuilder();
        var call = instance.Agent.Start("execute", w => { w.WriteString("context", "python"); w.WriteString("code", code); w.WriteNumber("timeout_ms", 30000); });
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await foreach (var e in call.Events.ReadAllAsync(deadline.Token))
        {
            if (e.Type == "stdout") stdout.Append(e.String("data"));
            else if (e.Type is "exception" or "error") Assert.Fail($"{code}: {e.Body}");
        }
        return stdout.ToString();
    }
}
