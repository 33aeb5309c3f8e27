using System.Net;
using System.Text.Json;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Sandboxes;

/// <summary>A gateway with the sandbox API on (real bubblewrap), a master key, and helpers to drive it.</summary>
internal sealed class SandboxGateway : IAsyncDisposable
{
    public const string Master = "sk-sandbox-master-key";
    private readonly GatewayServer _gateway;

    private SandboxGateway(GatewayServer gateway) => _gateway = gateway;

    public GatewayServer Server => _gateway;

    public static async Task<SandboxGateway> StartAsync(string sandboxes = "pools: {python: {min_ready: 1, max_total: 30}}", string? dataDirectory = null,
        Action<IServiceCollection>? services = null, string extra = "")
    {
        var yaml = $"""
            master_key: {Master}
            models:
              - {"{"}name: gpt-4o, provider: mock{"}"}
            sandboxes: {"{"}{sandboxes}{"}"}
            {extra}
            """;
        return new SandboxGateway(await GatewayServer.StartAsync(yaml, dataDirectory: dataDirectory, services: services));
    }

    public Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(HttpMethod method, string path, string? json = null, string key = Master) =>
        _gateway.AdminAsync(path, json, key, method);

    public Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(string path, string json, string key = Master) => SendAsync(HttpMethod.Post, path, json, key);

    public async Task<string> CreateAsync(string json = """{"runtime":"python"}""", string key = Master)
    {
        var (status, body) = await PostAsync("/v1/sandboxes", json, key);
        Assert.True(status == HttpStatusCode.Created, $"{status}: {body}");
        return body.GetProperty("id").GetString()!;
    }

    /// <summary>Runs code and returns the JSON result (asserting a 200).</summary>
    public async Task<JsonElement> ExecAsync(string id, string code, string extra = "", string key = Master)
    {
        var json = $$"""{"code":{{JsonSerializer.Serialize(code)}}{{(extra.Length > 0 ? "," + extra : "")}}}""";
        var (status, body) = await PostAsync($"/v1/sandboxes/{id}/execute", json, key);
        Assert.True(status == HttpStatusCode.OK, $"{status}: {body}");
        return body;
    }

    public async Task<JsonElement> RunAsync(string id, string cmd, string extra = "", string key = Master)
    {
        var json = $$"""{"cmd":{{JsonSerializer.Serialize(cmd)}}{{(extra.Length > 0 ? "," + extra : "")}}}""";
        var (status, body) = await PostAsync($"/v1/sandboxes/{id}/commands", json, key);
        Assert.True(status == HttpStatusCode.OK, $"{status}: {body}");
        return body;
    }

    public async Task<string> NewKeyAsync() => await _gateway.GenerateKeyAsync("{}", Master);

    public ValueTask DisposeAsync() => _gateway.DisposeAsync();
}

/// <summary>One sandbox gateway shared by a test class.</summary>
public sealed class SandboxGatewayFixture : IAsyncLifetime
{
    internal SandboxGateway Gateway { get; private set; } = null!;

    public async Task InitializeAsync() => Gateway = await SandboxGateway.StartAsync();

    public async Task DisposeAsync() => await Gateway.DisposeAsync();
}
