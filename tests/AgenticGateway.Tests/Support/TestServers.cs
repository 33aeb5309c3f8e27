using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using AgenticGateway.Configuration;
using AgenticGateway.Emulator;
using AgenticGateway.Hosting;

namespace AgenticGateway.Tests.Support;

/// <summary>A provider emulator on a real Kestrel server on a free loopback port.</summary>
internal sealed class EmulatorServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private EmulatorServer(WebApplication app, string url)
    {
        _app = app;
        Url = url;
        Engine = app.Services.GetRequiredService<MockEngine>();
    }

    public string Url { get; }
    public string ApiBase => Url + "/v1";
    public MockEngine Engine { get; }

    public static async Task<EmulatorServer> StartAsync(MockSettings settings = default, string? apiKey = null)
    {
        var app = MockServer.Build("http://127.0.0.1:0", settings, apiKey);
        await app.StartAsync();
        return new EmulatorServer(app, GatewayApp.BoundAddresses(app)[0]);
    }

    /// <summary>The next <paramref name="count"/> requests (for <paramref name="model"/>, or any) fail with the given fault.</summary>
    public void Fail(string fault, int count = 1, string? model = null)
    {
        Assert.True(MockFault.TryParse(fault, out var parsed, out var error), error);
        Engine.Script.Add(model, parsed, count);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>The gateway on a real Kestrel server on a free loopback port, with a client pointed at it.</summary>
internal sealed class GatewayServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private string? _ownedData;

    private GatewayServer(WebApplication app, string url)
    {
        _app = app;
        Url = url;
        Client = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(60) };
    }

    public string Url { get; }
    public HttpClient Client { get; }
    public IServiceProvider Services => _app.Services;

    /// <param name="dataDirectory">Where keys are stored; a fresh temporary directory unless given (to test restarts).</param>
    /// <param name="storage">Backends beyond the data directory (database_url, redis_url); none by default, whatever the environment says.</param>
    /// <param name="services">Replaces services after the gateway's own are registered (a resolver without DNS, say).</param>
    /// <param name="kestrel">Changes to Kestrel's limits for this server (short timeouts, to test them quickly).</param>
    /// <param name="routes">Extra endpoints for a test (one that fails on purpose), mapped after the gateway's own.</param>
    /// <param name="waitForRedis">With redis_url, return once Redis is connected (it is connected in the background).</param>
    /// <param name="time">The gateway's clock: a FakeTimeProvider (started at the real time) lets a test move past a
    /// cooldown, an expiry, a grace period or a debounce instead of sleeping through it.</param>
    public static async Task<GatewayServer> StartAsync(string yaml, string? configPath = null, string? dataDirectory = null, Func<StorageOptions, StorageOptions>? storage = null,
        Action<IServiceCollection>? services = null, Action<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>? kestrel = null, Action<WebApplication>? routes = null,
        bool waitForRedis = true, TimeProvider? time = null, Func<GatewayOptions, GatewayOptions>? configure = null)
    {
        var result = ConfigLoader.Load(yaml, configPath ?? "test.yaml", new Dictionary<string, string>());
        Assert.True(result.Options is not null, "config errors: " + string.Join("; ", result.Errors));
        var store = new StorageOptions { DataDirectory = dataDirectory ?? Directory.CreateTempSubdirectory("agw-data-").FullName, DatabaseUrl = default, RedisUrl = default };
        var options = result.Options! with { Storage = storage is null ? store : storage(store) };
        // Options the YAML cannot express (a test double's settings record), applied after it was read.
        if (configure is not null) options = configure(options);
        // Gateways of tests that do not use sandboxes keep no warm pool: the suite would otherwise start hundreds.
        if (!yaml.Contains("sandboxes:", StringComparison.Ordinal))
            options = options with { Sandboxes = options.Sandboxes with { Pools = System.Collections.Immutable.ImmutableDictionary<string, AgenticGateway.Sandboxes.PoolOptions>.Empty } };
        Action<IServiceCollection>? overrides = time is { } clock ? s =>
        {
            s.AddSingleton(clock);
            services?.Invoke(s);
        } : services;
        var app = GatewayApp.Build(new GatewayStartOptions(options, configPath, "http://127.0.0.1:0", result.Warnings) { OverrideServices = overrides });
        // Kestrel reads its limits from this options instance for each connection, so a change before start holds.
        kestrel?.Invoke(app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>>().Value);
        routes?.Invoke(app);
        await app.StartAsync();
        // Redis is connected in the background: tests about shared counters start once it is (an explicit signal, not a sleep).
        if (waitForRedis && app.Services.GetService<AgenticGateway.Limits.RedisConnection>() is { } redis)
        {
            var connected = DateTime.UtcNow.AddSeconds(20);
            while (!redis.IsUp && DateTime.UtcNow < connected) await Task.Delay(10);
            Assert.True(redis.IsUp, $"Redis at {redis.Endpoint} was not connected within 20 s");
        }
        return new GatewayServer(app, GatewayApp.BoundAddresses(app)[0]) { _ownedData = dataDirectory is null ? options.Storage.DataDirectory : null };
    }

    public Task<HttpResponseMessage> PostJsonAsync(string path, string json, CancellationToken cancellationToken = default, Action<HttpRequestMessage>? configure = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        configure?.Invoke(request);
        return Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
    }

    public static async Task<JsonDocument> JsonAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync());

    /// <summary>A management call: POST with a JSON body, or GET when <paramref name="json"/> is null (or <paramref name="method"/>).</summary>
    public async Task<(HttpStatusCode Status, JsonElement Body)> AdminAsync(string path, string? json, string key, HttpMethod? method = null)
    {
        using var request = new HttpRequestMessage(method ?? (json is null ? HttpMethod.Get : HttpMethod.Post), path);
        if (json is not null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var response = await Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(text.Length == 0 ? "null" : text).RootElement.Clone());
    }

    /// <summary>/key/generate with the master key; returns the new secret.</summary>
    public async Task<string> GenerateKeyAsync(string json, string masterKey)
    {
        var (status, body) = await AdminAsync("/key/generate", json, masterKey);
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        return body.GetProperty("key").GetString()!;
    }

    /// <summary>A chat completion sent with a key (response headers read; the caller reads or disposes the body).</summary>
    public Task<HttpResponseMessage> ChatAsync(string key, string model = "gpt-4o", string extra = "", bool stream = false) =>
        PostJsonAsync("/v1/chat/completions", Chat.Request(model, stream, extra: extra), configure: r => r.Headers.Authorization = new("Bearer", key));

    /// <summary>Waits until the spend writer has stored everything queued so far.</summary>
    public async Task FlushSpendAsync()
    {
        var writer = Services.GetRequiredService<AgenticGateway.Spend.SpendWriter>();
        var target = Services.GetRequiredService<AgenticGateway.Spend.SpendWal>().LastSeq;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (writer.CommittedSeq < target && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.True(writer.CommittedSeq >= target, $"spend writer stored up to {writer.CommittedSeq}, expected {target}");
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        if (_ownedData is not null)
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(_ownedData, recursive: true); } catch (IOException) { }
        }
    }
}

internal static class Sse
{
    /// <summary>Reads an SSE body into its data payloads.</summary>
    public static async Task<List<string>> ReadEventsAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(e => e.Trim())
            .Where(e => e.StartsWith("data:", StringComparison.Ordinal))
            .Select(e => e["data:".Length..].Trim())
            .ToList();
    }
}

internal static class Chat
{
    public static string Request(string model, bool stream = false, string content = "hello there", string extra = "") =>
        $$"""{"model":"{{model}}","messages":[{"role":"user","content":"{{content}}"}]{{(stream ? ",\"stream\":true" : "")}}{{extra}}}""";
}
