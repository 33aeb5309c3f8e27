using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using AgenticGateway.Tests.Support;
using StackExchange.Redis;
using static AgenticGateway.Tests.Deploy.DeployFiles;

namespace AgenticGateway.Tests.Sandboxes.Hosts;

/// <summary>
/// One sandbox host: the built gateway run as its own process (its own data directory, sandboxes and memory), with
/// the sandbox API on (real bubblewrap) and <c>sandboxes.hosts</c> pointing at a Redis it shares with the others.
/// </summary>
internal sealed class HostProcess : IAsyncDisposable
{
    public const string Master = "sk-hosts-master-key";
    public const string Secret = "hosts-secret-0123456789abcdef0123456789";

    private readonly ChildProcess _process;
    private readonly ExitGuard _guard;
    private readonly string _directory;

    private HostProcess(string id, int port, ChildProcess process, ExitGuard guard, string directory)
    {
        Id = id;
        Port = port;
        _process = process;
        _guard = guard;
        _directory = directory;
        Client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(60) };
    }

    public string Id { get; }
    public int Port { get; }
    public HttpClient Client { get; }
    public string Output => _process.Output;

    /// <param name="hosts">More of <c>sandboxes.hosts</c> (such as <c>max_sandboxes: 1</c>).</param>
    public static async Task<HostProcess> StartAsync(string id, RedisInstance redis, string hosts = "", string quota = "max_concurrent: 20", string ttl = "2s")
    {
        var port = LocalServers.FreePort();
        var directory = Directory.CreateTempSubdirectory($"agw-host-{id}-").FullName;
        var config = Path.Combine(directory, "config.yaml");
        var more = hosts.Length > 0 ? ", " + hosts : "";
        File.WriteAllText(config, $$"""
            master_key: {{Master}}
            models:
              - {name: gpt-4o, provider: mock}
            storage:
              redis_url: redis://{{redis.Endpoint}}
              redis_fail_open: false
            sandboxes:
              pools: {python: {min_ready: 0, max_total: 30} }
              quota: { {{quota}} }
              hosts: {id: {{id}}, advertise_url: "http://127.0.0.1:{{port}}", secret: "{{Secret}}", heartbeat: 500ms, ttl: {{ttl}}{{more}} }
            """);
        // The gateway's own variables from the test process must not leak in (a REDIS_URL, a master key).
        var command = new List<string> { "/usr/bin/env" };
        foreach (var name in new[] { "AGW_URLS", "AGW_CONFIG", "AGW_MASTER_KEY", "LITELLM_MASTER_KEY", "DATABASE_URL", "REDIS_URL" }) command.AddRange(["-u", name]);
        command.AddRange([$"AGW_DATA_DIR={Path.Combine(directory, "data")}", DotnetHost(), GatewayDll(), "--config", config, "--urls", $"http://127.0.0.1:{port}"]);
        var process = ChildProcess.Start(command);
        // However the test process ends, the host goes (and the sandboxes under it: bubblewrap dies with its parent).
        var guard = ExitGuard.Start(directory, ["kill", "-KILL", process.Id.ToString()]);
        var host = new HostProcess(id, port, process, guard, directory);
        try
        {
            await process.WaitUntilReadyAsync($"sandbox host {id}", async ct =>
            {
                using var live = await host.Client.GetAsync("/health/live", ct);
                live.EnsureSuccessStatusCode();
                // Registered: the other hosts can place creates here.
                await using var mux = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint);
                if (!await mux.GetDatabase().KeyExistsAsync($"agw:{{sandboxes}}:host:{id}")) throw new InvalidOperationException("not registered yet");
            });
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
        return host;
    }

    public async Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(HttpMethod method, string path, string? json = null, string key = Master,
        Action<HttpRequestHeaders>? headers = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        headers?.Invoke(request.Headers);
        using var response = await Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    public async Task<string> CreateAsync(string json = """{"runtime":"python"}""")
    {
        var (status, body) = await SendAsync(HttpMethod.Post, "/v1/sandboxes", json);
        Assert.True(status == HttpStatusCode.Created, $"{status}: {body}\n{Output}");
        return body.GetProperty("id").GetString()!;
    }

    /// <summary>SIGKILL: the host dies without ending its sandboxes or leaving the registry.</summary>
    public void Kill() => _process.Kill();

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        _guard.Cancel();
        // SIGTERM first, so the host ends its sandboxes (and their cgroups) itself.
        try
        {
            using var term = System.Diagnostics.Process.Start("kill", ["-TERM", _process.Id.ToString()]);
            await term.WaitForExitAsync();
            using var waited = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            while (!waited.IsCancellationRequested && Directory.Exists($"/proc/{_process.Id}") && !File.ReadAllText($"/proc/{_process.Id}/stat").Contains(") Z ", StringComparison.Ordinal))
                await Task.Delay(100);
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or System.ComponentModel.Win32Exception) { }
        _process.Kill();
        LocalServers.DeleteDirectory(_directory);
    }
}

/// <summary>Two sandbox hosts, A and B, sharing one private Redis.</summary>
internal sealed class HostPair : IAsyncDisposable
{
    /// <summary>The classes that start host pairs run one after another: two pairs at once only slow each other's sandboxes.</summary>
    public const string Collection = "sandbox host pairs";

    private HostPair(RedisInstance redis, HostProcess a, HostProcess b)
    {
        Redis = redis;
        A = a;
        B = b;
    }

    public RedisInstance Redis { get; }
    public HostProcess A { get; }
    public HostProcess B { get; }

    public static async Task<HostPair> StartAsync(string hostsA = "", string hostsB = "", string quota = "max_concurrent: 20", string ttl = "2s")
    {
        var redis = await RedisInstance.StartAsync();
        HostProcess? a = null;
        try
        {
            // One at a time: two gateways building their first sandboxes at once on a small machine only slow each other.
            a = await HostProcess.StartAsync("host-a", redis, hostsA, quota, ttl);
            var b = await HostProcess.StartAsync("host-b", redis, hostsB, quota, ttl);
            return new HostPair(redis, a, b);
        }
        catch
        {
            if (a is not null) await a.DisposeAsync();
            await redis.DisposeAsync();
            throw;
        }
    }

    /// <summary>The host the registry says runs sandbox <paramref name="id"/>, or null.</summary>
    public async Task<string?> HostOfAsync(string id)
    {
        await using var mux = await ConnectionMultiplexer.ConnectAsync(Redis.Endpoint);
        var host = await mux.GetDatabase().HashGetAsync($"agw:{{sandboxes}}:sandbox:{id}", "host");
        return host.HasValue ? host.ToString() : null;
    }

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(A.DisposeAsync().AsTask(), B.DisposeAsync().AsTask());
        await Redis.DisposeAsync();
    }
}

/// <summary>Hosts A and B shared by a test class.</summary>
public sealed class HostPairFixture : IAsyncLifetime
{
    internal HostPair Pair { get; private set; } = null!;

    public async Task InitializeAsync() => Pair = await HostPair.StartAsync(quota: "max_concurrent: 3");

    public async Task DisposeAsync() => await Pair.DisposeAsync();
}
