using System.Net;
using System.Text.Json;
using AgenticGateway.Configuration;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Health;

/// <summary>
/// With a master key, anonymous /health gives the status only: no deployment ids, config path or Redis endpoint. The
/// admin gets the details; the probes stay open.
/// </summary>
[Trait("Category", "integration")]
public class HealthAccessTests
{
    private const string Master = "sk-health-master";

    private static string Config(string? masterKey) => $"""
        {(masterKey is null ? "" : "master_key: " + masterKey)}
        models:
          - {"{"}name: gpt-4o, provider: mock, id: deployment-secret-id{"}"}
        """;

    [Fact]
    public async Task Anonymous_and_virtual_key_callers_get_the_status_only_and_the_admin_gets_the_details()
    {
        var redis = await RedisInstance.SharedAsync();
        var dir = Directory.CreateTempSubdirectory("secret-place-");
        var configPath = Path.Combine(dir.FullName, "gateway.yaml");
        await File.WriteAllTextAsync(configPath, Config(Master));
        await using var g = await GatewayServer.StartAsync(Config(Master), configPath, storage: s => s with { RedisUrl = new Secret("redis://" + redis.Endpoint) });
        var key = await g.GenerateKeyAsync("{}", Master);

        foreach (var (who, credential) in new[] { ("anonymous", (string?)null), ("virtual key", key), ("wrong key", "sk-not-a-key") })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/health");
            if (credential is not null) request.Headers.Authorization = new("Bearer", credential);
            using var response = await g.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var text = await response.Content.ReadAsStringAsync();
            using var doc = JsonDocument.Parse(text);
            Assert.Equal(["status"], doc.RootElement.EnumerateObject().Select(p => p.Name));
            Assert.Equal("healthy", doc.RootElement.GetProperty("status").GetString());
            foreach (var secret in new[] { "deployment-secret-id", dir.Name, redis.Endpoint })
                Assert.False(text.Contains(secret, StringComparison.Ordinal), $"{who} sees {secret}: {text}");
        }

        var (status, details) = await g.AdminAsync("/health", null, Master);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("deployment-secret-id", details.GetProperty("deployments")[0].GetProperty("id").GetString());
        Assert.Equal(configPath, details.GetProperty("config_source").GetString());
        Assert.Equal(redis.Endpoint, details.GetProperty("redis").GetProperty("endpoint").GetString());

        foreach (var probe in new[] { "/health/live", "/health/liveliness", "/health/ready", "/health/readiness" })
            Assert.Equal(HttpStatusCode.OK, (await g.Client.GetAsync(probe)).StatusCode);
        dir.Delete(recursive: true);
    }

    [Fact]
    public async Task Without_a_master_key_health_keeps_its_details()
    {
        await using var g = await GatewayServer.StartAsync(Config(null));
        using var doc = JsonDocument.Parse(await g.Client.GetStringAsync("/health"));
        Assert.Equal("deployment-secret-id", doc.RootElement.GetProperty("deployments")[0].GetProperty("id").GetString());
    }
}
