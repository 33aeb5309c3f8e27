using AgenticGateway.Sandboxes;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using AgenticGateway.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace AgenticGateway.Tests.Sandboxes;

/// <summary>Pool, quotas, expiry, clean-up and the interactive WebSocket, each with a gateway of its own.</summary>
[Trait("Category", "sandbox")]
public class SandboxLifecycleTests
{
    [Fact]
    public async Task The_warm_pool_serves_creates_and_refills_in_the_background()
    {
        await using var g = await SandboxGateway.StartAsync("pools: {python: {min_ready: 2, max_total: 10}}");
        var manager = g.Server.Services.GetRequiredService<AgenticGateway.Sandboxes.SandboxManager>();
        await WaitUntil(() => manager.PoolReady("python") == 2, TimeSpan.FromSeconds(30));
        var sw = Stopwatch.StartNew();
        var id = await g.CreateAsync();
        sw.Stop();
        Assert.Equal(1, manager.PoolReady("python"));
        Assert.Equal("2\n", (await g.ExecAsync(id, "print(1+1)")).GetProperty("stdout").GetString());
        await WaitUntil(() => manager.PoolReady("python") == 2, TimeSpan.FromSeconds(30));

        // A request the pool cannot serve (other resources) starts cold; metrics tell both apart.
        var cold = await g.CreateAsync("""{"runtime":"python","memory_mb":256}""");
        Assert.Equal("ok\n", (await g.ExecAsync(cold, "print('ok')")).GetProperty("stdout").GetString());
        var metrics = await g.Server.Client.GetStringAsync("/metrics");
        Assert.Contains("sandbox_acquire_duration_seconds_count{runtime=\"python\"} 1", metrics);
        Assert.Contains("sandbox_create_duration_seconds_count{runtime=\"python\"} 1", metrics);
        Assert.Contains("sandbox_pool_ready{runtime=\"python\"} 2", metrics);
        Assert.Contains("sandbox_active 2", metrics);
    }

    [Fact]
    public async Task Max_total_caps_sandboxes_per_runtime_with_a_503()
    {
        await using var g = await SandboxGateway.StartAsync("pools: {bash: {min_ready: 0, max_total: 2}}");
        await g.CreateAsync("""{"runtime":"bash"}""");
        var second = await g.CreateAsync("""{"runtime":"bash"}""");
        var (status, body) = await g.PostAsync("/v1/sandboxes", """{"runtime":"bash"}""");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("sandbox_capacity", body.GetProperty("error").GetProperty("code").GetString());
        await g.SendAsync(HttpMethod.Delete, $"/v1/sandboxes/{second}");
        await g.CreateAsync("""{"runtime":"bash"}""");
    }

    [Fact]
    public async Task Quotas_limit_concurrent_sandboxes_and_sandbox_seconds_per_key()
    {
        // The gateway's clock: sandbox-seconds accrue when the test moves it.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var g = await SandboxGateway.StartAsync("pools: {}, quota: {max_concurrent: 2, max_sandbox_seconds: 10}", services: s => s.AddSingleton<TimeProvider>(clock));
        var key = await g.NewKeyAsync();
        var first = await g.CreateAsync("""{"runtime":"bash"}""", key);
        await g.CreateAsync("""{"runtime":"bash"}""", key);
        var (status, body) = await g.PostAsync("/v1/sandboxes", """{"runtime":"bash"}""", key);
        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.Equal("sandbox_concurrency_quota", body.GetProperty("error").GetProperty("code").GetString());
        // Another key has its own quota.
        await g.CreateAsync("""{"runtime":"bash"}""");

        // Two live sandboxes use 10 sandbox-seconds in 5 s; then they are ended and new ones refused.
        clock.Advance(TimeSpan.FromSeconds(5));
        await WaitUntil(async () => (await g.SendAsync(HttpMethod.Get, $"/v1/sandboxes/{first}", key: key)).Status == HttpStatusCode.NotFound, TimeSpan.FromSeconds(30));
        (status, body) = await g.PostAsync("/v1/sandboxes", """{"runtime":"bash"}""", key);
        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.Equal("sandbox_time_quota", body.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task Deleting_leaves_no_process_cgroup_or_directory_behind()
    {
        await using var g = await SandboxGateway.StartAsync("pools: {}");
        var id = await g.CreateAsync("""{"runtime":"bash"}""");
        await g.RunAsync(id, "sleep 1000 & echo started");
        Assert.NotEmpty(SandboxProcesses(id));
        var cgroups = SandboxCgroups(id);
        Assert.NotEmpty(cgroups);
        await g.SendAsync(HttpMethod.Delete, $"/v1/sandboxes/{id}");
        await WaitUntil(() => SandboxProcesses(id).Count == 0, TimeSpan.FromSeconds(5));
        Assert.All(cgroups, c => Assert.False(Directory.Exists(c), c));
    }

    [Fact]
    public async Task A_crashed_gateways_sandboxes_are_reaped_at_the_next_start()
    {
        var data = Directory.CreateTempSubdirectory("agw-reap-").FullName;
        // A gateway in another process, killed with SIGKILL while its sandbox runs.
        var url = $"http://127.0.0.1:{LocalServers.FreePort()}";
        var config = Path.Combine(data, "config.yaml");
        await File.WriteAllTextAsync(config, $"master_key: {SandboxGateway.Master}\nmodels:\n  - {{name: m, provider: mock}}\nsandboxes: {{pools: {{}}}}\nstorage: {{data_dir: {data}}}\nserver: {{urls: \"{url}\"}}\n");
        var dll = typeof(AgenticGateway.Hosting.GatewayApp).Assembly.Location;
        using var child = Process.Start(new ProcessStartInfo("dotnet", [dll, "--config", config]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        child.BeginOutputReadLine(); child.BeginErrorReadLine();
        using var http = new HttpClient { BaseAddress = new Uri(url) };
        http.DefaultRequestHeaders.Authorization = new("Bearer", SandboxGateway.Master);
        await WaitUntil(async () => { try { return (await http.GetAsync("/health")).IsSuccessStatusCode; } catch (HttpRequestException) { return false; } }, TimeSpan.FromSeconds(30));
        var created = await http.PostAsync("/v1/sandboxes", new StringContent("""{"runtime":"bash"}""", Encoding.UTF8, "application/json"));
        var id = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
        await http.PostAsync($"/v1/sandboxes/{id}/commands", new StringContent("""{"cmd":"setsid sleep 1000 & echo ok"}""", Encoding.UTF8, "application/json"));
        var cgroups = SandboxCgroups(id);
        Assert.NotEmpty(cgroups);
        child.Kill();
        await child.WaitForExitAsync();

        await using var next = await GatewayServer.StartAsync($"master_key: {SandboxGateway.Master}\nmodels:\n  - {{name: m, provider: mock}}\nsandboxes: {{pools: {{}}}}\n", dataDirectory: data);
        await WaitUntil(() => SandboxProcesses(id).Count == 0 && cgroups.All(c => !Directory.Exists(c)), TimeSpan.FromSeconds(10));
        try { Directory.Delete(data, true); } catch (IOException) { }
    }

    [Fact]
    public async Task The_websocket_is_an_interactive_terminal()
    {
        await using var g = await SandboxGateway.StartAsync("pools: {}");
        var id = await g.CreateAsync("""{"runtime":"bash"}""");
        using var ws = new ClientWebSocket();
        ws.Options.SetRequestHeader("Authorization", "Bearer " + SandboxGateway.Master);
        await ws.ConnectAsync(new Uri(g.Server.Url.Replace("http", "ws") + $"/v1/sandboxes/{id}/ws?cols=100&rows=30"), CancellationToken.None);
        var output = new StringBuilder();
        async Task<string> ReadUntil(string marker)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            var buffer = new byte[65536];
            while (!output.ToString().Contains(marker))
            {
                var r = await ws.ReceiveAsync(buffer, cts.Token);
                if (r.MessageType == WebSocketMessageType.Close) break;
                var msg = JsonDocument.Parse(buffer.AsMemory(0, r.Count)).RootElement;
                if (msg.GetProperty("type").GetString() is "stdout" or "stderr") output.Append(msg.GetProperty("data").GetString());
                if (msg.GetProperty("type").GetString() == "exit") output.Append("<exit>");
            }
            return output.ToString();
        }
        async Task Send(string json) => await ws.SendAsync(Encoding.UTF8.GetBytes(json), WebSocketMessageType.Text, true, CancellationToken.None);

        await Send("""{"type":"stdin","data":"export X=4; echo $((X*10+2))-$(stty size)\n"}""");
        Assert.Contains("42-30 100", await ReadUntil("42-30 100"));
        await Send("""{"type":"resize","cols":120,"rows":40}""");
        await ws.SendAsync(Encoding.UTF8.GetBytes("stty size; tty\n"), WebSocketMessageType.Binary, true, CancellationToken.None);
        Assert.Contains("40 120", await ReadUntil("/dev/pts"));
        await Send("""{"type":"stdin","data":"exit 5\n"}""");
        Assert.Contains("<exit>", await ReadUntil("<exit>"));
    }

    [Fact]
    public async Task Packages_install_from_the_local_package_cache_without_network()
    {
        var cache = Directory.CreateTempSubdirectory("agw-wheels-").FullName;
        BuildWheel(Path.Combine(cache, "agwdemo-1.2.0-py3-none-any.whl"), "agwdemo", "1.2.0", "def answer():\n    return 42\n");
        AgenticGateway.Sandboxes.UnixFiles.SetMode(cache, AgenticGateway.Sandboxes.UnixFiles.WorldTraversable);
        await using var g = await SandboxGateway.StartAsync($"pools: {{}}, package_cache: {cache}");
        var id = await g.CreateAsync("""{"runtime":"python","packages":["agwdemo==1.2.0"]}""");
        var r = await g.ExecAsync(id, "import agwdemo\nagwdemo.answer()");
        Assert.Equal("42", r.GetProperty("results")[0].GetProperty("text").GetString());

        var (status, body) = await g.PostAsync("/v1/sandboxes", """{"runtime":"python","packages":["not-in-cache"]}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("package_install_failed", body.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains("not-in-cache", body.GetProperty("error").GetProperty("message").GetString());
        Directory.Delete(cache, true);
    }

    /// <summary>A minimal pure-Python wheel (PEP 427): the module, METADATA, WHEEL and RECORD.</summary>
    internal static void BuildWheel(string path, string name, string version, string code)
    {
        using var zip = System.IO.Compression.ZipFile.Open(path, System.IO.Compression.ZipArchiveMode.Create);
        void Add(string entry, string text)
        {
            using var w = new StreamWriter(zip.CreateEntry(entry).Open());
            w.Write(text);
        }
        var info = $"{name}-{version}.dist-info";
        Add($"{name}/__init__.py", code);
        Add($"{info}/METADATA", $"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n");
        Add($"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: agw-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n");
        Add($"{info}/RECORD", $"{name}/__init__.py,,\n{info}/METADATA,,\n{info}/WHEEL,,\n{info}/RECORD,,\n");
    }

    private static List<int> SandboxProcesses(string id)
    {
        // Every process of a sandbox runs as the host's nobody inside a cgroup named after the sandbox.
        var found = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            try { if (File.ReadAllText(Path.Combine(dir, "cgroup")).Contains(id)) found.Add(pid); }
            catch (IOException) { }
        }
        return found;
    }

    private static List<string> SandboxCgroups(string id) =>
        Directory.EnumerateDirectories("/sys/fs/cgroup").SelectMany(controller =>
        {
            try { return Directory.EnumerateDirectories(controller, id, SearchOption.AllDirectories).ToList(); }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return []; }
        }).ToList();

    private static Task WaitUntil(Func<bool> condition, TimeSpan timeout) => WaitUntil(() => Task.FromResult(condition()), timeout);

    private static async Task WaitUntil(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
            await Task.Delay(50);
        }
    }
}
