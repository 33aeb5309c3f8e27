using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using AgenticGateway.Sandboxes.Agent;
using AgenticGateway.Sandboxes;
using AgenticGateway.Images;
using Xunit.Abstractions;

namespace AgenticGateway.Tests.Sandboxes.Qemu;

/// <summary>Builds (or finds cached) the guest image and starts a gateway on the qemu driver with snapshots on.</summary>
public sealed class QemuGatewayFixture : IAsyncLifetime
{
    internal SandboxGateway Gateway { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Assert.True(File.Exists("/usr/bin/qemu-system-x86_64"), "qemu-system-x86_64 is missing: apt-get install qemu-system-x86 (scripts/test.sh does)");
        var image = ImageBuilder.Build(ImageLayout.DefaultCacheDirectory, _ => { }, GuestAgentBinary.Locate(_ => { }));
        Assert.True(File.Exists(Path.Join(image, ImageLayout.KernelFile)), $"no kernel in {image}");
        Gateway = await SandboxGateway.StartAsync("driver: qemu, pools: {}");
    }

    public async Task DisposeAsync() => await Gateway.DisposeAsync();
}

/// <summary>One QEMU gateway (and one snapshot template) for every QEMU test class; they run one after another.</summary>
[CollectionDefinition("qemu")]
public sealed class QemuCollection : ICollectionFixture<QemuGatewayFixture>;

/// <summary>The whole sandbox API suite (<see cref="SandboxApiSuite"/>) against QEMU microVMs.</summary>
[Collection("qemu")]
[Trait("Category", "vm")]
public class QemuSandboxApiTests(QemuGatewayFixture fixture) : SandboxApiSuite
{
    private protected override SandboxGateway G => fixture.Gateway;
}

/// <summary>The qemu driver end to end: real QEMU microVMs (TCG here), the real guest agent over virtio-serial.</summary>
[Collection("qemu")]
[Trait("Category", "vm")]
public class QemuSandboxTests(QemuGatewayFixture fixture, ITestOutputHelper output)
{
    private SandboxGateway G => fixture.Gateway;

    [Fact]
    public void Image_build_is_cached()
    {
        // The fixture built (or found) the image: building again must find it, not download or write anything.
        var agent = GuestAgentBinary.Locate(_ => { });
        var watch = Stopwatch.StartNew();
        var log = new List<string>();
        var first = ImageBuilder.Build(ImageLayout.DefaultCacheDirectory, log.Add, agent);
        var second = ImageBuilder.Build(ImageLayout.DefaultCacheDirectory, log.Add, agent);
        Assert.Equal(first, second);
        Assert.Equal(2, log.Count);
        Assert.All(log, line => Assert.StartsWith($"image {Path.GetFileName(first)} is cached in ", line));
        Assert.True(File.Exists(Path.Join(first, ImageLayout.VersionFile)));
        output.WriteLine($"cached image build: {watch.Elapsed.TotalMilliseconds / 2:F0} ms each");
    }

    [Fact]
    public async Task Stateful_execute_files_timeout_and_delete_leave_no_qemu()
    {
        var id = await G.CreateAsync();
        Assert.Contains(id, QemuCommandLines());
        var (_, info) = await G.SendAsync(HttpMethod.Get, $"/v1/sandboxes/{id}");
        Assert.Equal("qemu", info.GetProperty("isolation").GetString());
        Assert.Equal(ImageLayout.VersionOf(ImageLayout.Resolve(ImageLayout.DefaultCacheDirectory)), info.GetProperty("image").GetString());
        Assert.Equal("", (await G.ExecAsync(id, "x = 1")).GetProperty("stdout").GetString());
        Assert.Equal("2\n", (await G.ExecAsync(id, "print(x + 1)")).GetProperty("stdout").GetString());

        var bytes = Encoding.UTF8.GetBytes("hello from the host\n");
        using (var put = new HttpRequestMessage(HttpMethod.Put, $"/v1/sandboxes/{id}/files?path=data/note.txt") { Content = new ByteArrayContent(bytes) })
        {
            put.Headers.Authorization = new AuthenticationHeaderValue("Bearer", SandboxGateway.Master);
            using var response = await G.Server.Client.SendAsync(put);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        Assert.Equal("hello from the host\n", (await G.ExecAsync(id, "print(open('/home/user/data/note.txt').read(), end='')")).GetProperty("stdout").GetString());
        await G.ExecAsync(id, "open('/home/user/out.txt', 'w').write('from the guest')");
        using (var get = new HttpRequestMessage(HttpMethod.Get, $"/v1/sandboxes/{id}/files?path=/home/user/out.txt"))
        {
            get.Headers.Authorization = new AuthenticationHeaderValue("Bearer", SandboxGateway.Master);
            using var response = await G.Server.Client.SendAsync(get);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("from the guest", await response.Content.ReadAsStringAsync());
        }

        var timedOut = await G.ExecAsync(id, "while True: pass", "\"timeout\":1");
        Assert.True(timedOut.GetProperty("timed_out").GetBoolean(), timedOut.ToString());
        Assert.Equal("1\n", (await G.ExecAsync(id, "print(x)")).GetProperty("stdout").GetString());

        var (status, _) = await G.SendAsync(HttpMethod.Delete, $"/v1/sandboxes/{id}");
        Assert.Equal(HttpStatusCode.OK, status);
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (QemuCommandLines().Contains(id, StringComparison.Ordinal) && DateTime.UtcNow < deadline) await Task.Delay(50);
        Assert.DoesNotContain(id, QemuCommandLines());
    }

    [Fact]
    public async Task Snapshot_clones_are_fast_and_have_their_own_randomness()
    {
        var ids = new List<string>();
        var random = new List<string>();
        var first = await G.CreateAsync();          // makes the template if no test did yet
        await G.SendAsync(HttpMethod.Delete, $"/v1/sandboxes/{first}");
        await Task.Delay(3000);                     // the template is now seconds old: a clone that kept its clock would be behind
        foreach (var i in Enumerable.Range(0, 3))
        {
            var watch = Stopwatch.StartNew();
            var id = await G.CreateAsync();
            var created = watch.Elapsed.TotalMilliseconds;
            watch.Restart();
            var r = await G.ExecAsync(id, "import os, time; print(os.urandom(16).hex(), time.time())");
            var exec = watch.Elapsed.TotalMilliseconds;
            // The clone's clock is the host's, not the moment the template was saved.
            var guestTime = double.Parse(r.GetProperty("stdout").GetString()!.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
            Assert.InRange(guestTime, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0 - 1.5, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0 + 1);
            watch.Restart();
            for (var n = 0; n < 10; n++) await G.ExecAsync(id, "1 + 1");
            output.WriteLine($"sandbox {i}: create from snapshot {created:F0} ms, first execute {exec:F0} ms, execute round trip {watch.Elapsed.TotalMilliseconds / 10:F1} ms");
            ids.Add(id);
            random.Add(r.GetProperty("stdout").GetString()!.Split(' ')[0]);
        }
        Assert.Equal(3, random.Distinct().Count());
        foreach (var id in ids) await G.SendAsync(HttpMethod.Delete, $"/v1/sandboxes/{id}");
    }

    [Fact]
    public async Task One_gateway_offers_bubblewrap_and_qemu_per_runtime_and_per_request()
    {
        await using var gateway = await SandboxGateway.StartAsync("driver: bubblewrap, drivers: [bubblewrap, qemu], pools: {python: {min_ready: 1}, node: {min_ready: 0, driver: qemu}}");
        async Task<string> IsolationOf(string id) => (await gateway.SendAsync(HttpMethod.Get, $"/v1/sandboxes/{id}")).Body.GetProperty("isolation").GetString()!;
        var python = await gateway.CreateAsync();
        var node = await gateway.CreateAsync("""{"runtime":"node"}""");
        var pythonVm = await gateway.CreateAsync("""{"runtime":"python","isolation":"qemu"}""");
        Assert.Equal(("bubblewrap", "qemu", "qemu"), (await IsolationOf(python), await IsolationOf(node), await IsolationOf(pythonVm)));
        Assert.Contains(node, QemuCommandLines());
        Assert.Contains(pythonVm, QemuCommandLines());
        Assert.DoesNotContain(python, QemuCommandLines());
        // The guest kernel's command line (the host's is what a bubblewrap sandbox sees).
        const string guestKernel = "require('fs').readFileSync('/proc/cmdline', 'utf8').includes('agw.seed=')";
        Assert.Equal("true", (await gateway.ExecAsync(node, guestKernel)).GetProperty("results")[0].GetProperty("text").GetString());
        Assert.Equal("False\n", (await gateway.ExecAsync(python, "print('agw.seed=' in open('/proc/cmdline').read())")).GetProperty("stdout").GetString());
        var (status, body) = await gateway.PostAsync("/v1/sandboxes", """{"isolation":"firecracker"}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("offers: bubblewrap, qemu", body.GetProperty("error").GetProperty("message").GetString());
        foreach (var id in new[] { python, node, pythonVm }) await gateway.SendAsync(HttpMethod.Delete, $"/v1/sandboxes/{id}");
    }

    [Fact]
    public async Task The_root_filesystem_can_be_the_initramfs_instead_of_a_disk()
    {
        await using var gateway = await SandboxGateway.StartAsync("driver: qemu, pools: {}, qemu: {root: initramfs, snapshots: false}");
        // The whole root filesystem unpacks into guest memory: give it room.
        var id = await gateway.CreateAsync("""{"runtime":"node","memory_mb":1024}""");
        var r = await gateway.RunAsync(id, "cat /proc/cmdline; stat -f -c %T /; node -e 'console.log(1 + 1)'");
        var lines = r.GetProperty("stdout").GetString()!.Split('\n');
        Assert.DoesNotContain("root=", lines[0]);
        Assert.Equal(("tmpfs", "2"), (lines[1], lines[2]));     // on a disk, / is the overlay ("overlayfs")
        await gateway.SendAsync(HttpMethod.Delete, $"/v1/sandboxes/{id}");
    }

    [Fact]
    public async Task Cold_boot_without_snapshots()
    {
        var data = Directory.CreateTempSubdirectory("agw-qemu-data-").FullName;
        try
        {
            var gateway = await SandboxGateway.StartAsync("driver: qemu, pools: {}, qemu: {snapshots: false}", data);
            var watch = Stopwatch.StartNew();
            var id = await gateway.CreateAsync();
            output.WriteLine($"cold boot to agent-ready (create): {watch.Elapsed.TotalMilliseconds:F0} ms");
            Assert.Equal("3\n", (await gateway.ExecAsync(id, "print(1 + 2)")).GetProperty("stdout").GetString());
            // The VM has the sandbox's memory and vCPUs: 512 MiB (less what the kernel keeps) and 1 by default, ...
            const string size = "import os; print(os.cpu_count(), os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') >> 20)";
            var defaults = (await gateway.ExecAsync(id, size)).GetProperty("stdout").GetString()!.Split(' ');
            Assert.Equal("1", defaults[0]);
            Assert.InRange(int.Parse(defaults[1], System.Globalization.CultureInfo.InvariantCulture), 400, 512);
            // ... and what a create asks for.
            var big = await gateway.CreateAsync("""{"runtime":"python","memory_mb":768,"cpu":2}""");
            var asked = (await gateway.ExecAsync(big, size)).GetProperty("stdout").GetString()!.Split(' ');
            Assert.Equal("2", asked[0]);
            Assert.InRange(int.Parse(asked[1], System.Globalization.CultureInfo.InvariantCulture), 640, 768);
            var state = AgenticGateway.Sandboxes.HostState.MicroVmDirectory(data, "qemu");
            Assert.True(Directory.Exists(Path.Join(state, "vms", id)), state);
            await gateway.DisposeAsync();
            // Shutdown ends the VM and removes the driver's host state (sockets, console logs, templates).
            Assert.False(Directory.Exists(state), $"{state} is left behind");
            Assert.DoesNotContain(id, QemuCommandLines());
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public async Task Neither_the_guest_nor_its_qemu_process_holds_the_gateways_environment()
    {
        var secret = "agw-planted-" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
        Environment.SetEnvironmentVariable("AGW_TEST_VMM_SECRET", secret);
        try
        {
            var id = await G.CreateAsync();
            // The VMM: PATH alone (a guest that broke out of its VM would own this process).
            var qemu = Directory.EnumerateDirectories("/proc").Single(d => int.TryParse(Path.GetFileName(d), out _) && ReadOrEmpty(Path.Join(d, "cmdline")).Contains(id, StringComparison.Ordinal));
            Assert.Equal("PATH=/usr/sbin:/usr/bin:/sbin:/bin\0", File.ReadAllText(Path.Join(qemu, "environ")));

            // The guest: its processes, mounts and kernel command line name nothing of the host.
            var r = await G.ExecAsync(id, SandboxHostVisibilityTests.ProcDump);
            var dump = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, string>>(r.GetProperty("stdout").GetString()!)!;
            Assert.Contains("agw.seed=", dump["/proc/cmdline"]);
            foreach (var (path, content) in dump)
            {
                foreach (var word in new[] { secret, "agentic-gateway", "agw-data-" })
                    Assert.False(content.Contains(word, StringComparison.Ordinal), $"{path} shows '{word}':\n{content}");
            }
            await G.SendAsync(HttpMethod.Delete, $"/v1/sandboxes/{id}");
        }
        finally { Environment.SetEnvironmentVariable("AGW_TEST_VMM_SECRET", null); }
    }

    [Fact]
    public async Task A_guest_flooding_its_console_grows_nothing_on_the_host()
    {
        var id = await G.CreateAsync();
        var qemu = Directory.EnumerateDirectories("/proc").Single(d => int.TryParse(Path.GetFileName(d), out _) && ReadOrEmpty(Path.Join(d, "cmdline")).Contains(id, StringComparison.Ordinal));
        // The VM's own directory holds its sockets: find it from the agent socket on QEMU's command line.
        var socket = ReadOrEmpty(Path.Join(qemu, "cmdline")).Split('\0').Single(a => a.Contains("agent.sock", StringComparison.Ordinal));
        var directory = Path.GetDirectoryName(socket[(socket.IndexOf("path=", StringComparison.Ordinal) + 5)..].Split(',')[0])!;
        Assert.True(Directory.Exists(directory), directory);

        const int flood = 2 << 20;
        // Root in the guest (the console is root's): what a guest may do to its host is what its root may.
        var r = await G.RunAsync(id, $"head -c {flood} /dev/zero | tr '\\0' x > /dev/ttyS0 && echo done", "\"timeout\": 120, \"user\": \"root\"");
        Assert.Equal("done\n", r.GetProperty("stdout").GetString());
        var onDisk = Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        output.WriteLine($"{flood} bytes to the console; {onDisk} bytes in {directory}");
        Assert.True(onDisk < 64 * 1024, $"the VM's directory holds {onDisk} bytes after the guest wrote {flood} to its console");
        Assert.Equal("2\n", (await G.ExecAsync(id, "print(1 + 1)")).GetProperty("stdout").GetString());
        await G.SendAsync(HttpMethod.Delete, $"/v1/sandboxes/{id}");
    }

    private static string ReadOrEmpty(string path)
    {
        try { return File.ReadAllText(path); }
        catch (IOException) { return ""; }
    }

    /// <summary>The command lines of every running QEMU (their socket paths name the sandbox).</summary>
    private static string QemuCommandLines()
    {
        var all = new StringBuilder();
        foreach (var dir in Directory.EnumerateDirectories("/proc").Where(d => int.TryParse(Path.GetFileName(d), out _)))
        {
            try
            {
                if (!File.ReadAllText(Path.Join(dir, "comm")).StartsWith("qemu-system", StringComparison.Ordinal)) continue;
                all.Append(File.ReadAllText(Path.Join(dir, "cmdline")).Replace('\0', ' ')).Append('\n');
            }
            catch (IOException) { }
        }
        return all.ToString();
    }
}
