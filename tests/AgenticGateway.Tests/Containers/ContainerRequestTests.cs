using System.Text.Json;
using AgenticGateway.Configuration;
using AgenticGateway.Services.Containers;

namespace AgenticGateway.Tests.Containers;

/// <summary>The containers API's create body, the code interpreter's log bound, and the price of a sandbox-second in config.</summary>
[Trait("Category", "unit")]
public class ContainerRequestTests
{
    private static (ContainerRequest? Request, AgenticGateway.OpenAi.ApiError? Error) Read(string json, int maxMinutes = 1440)
    {
        using var document = JsonDocument.Parse(json);
        var error = ContainerRequest.TryRead(document.RootElement, maxMinutes, out var request);
        return (request, error);
    }

    [Fact]
    public void A_name_alone_gets_openais_defaults()
    {
        var (request, error) = Read("""{"name":"analysis"}""");
        Assert.Null(error);
        Assert.NotNull(request);
        Assert.Equal(("analysis", 20, (string?)null), (request.Name, request.Minutes, request.MemoryLimit));
        Assert.Empty(request.AllowedDomains);
    }

    [Fact]
    public void Every_field_is_read()
    {
        var (request, error) = Read("""
            {"name":"n","expires_after":{"anchor":"last_active_at","minutes":5},"memory_limit":"4g","file_ids":[],"skills":null,
             "network_policy":{"type":"allowlist","allowed_domains":["pypi.org"]}}
            """);
        Assert.Null(error);
        Assert.Equal(5, request!.Minutes);
        Assert.Equal("4g", request.MemoryLimit);
        Assert.Equal(new[] { "pypi.org" }, request.AllowedDomains.ToArray());
    }

    [Theory]
    [InlineData("""{}""", "name")]
    [InlineData("""{"name":""}""", "name")]
    [InlineData("""{"name":7}""", "name")]
    [InlineData("""{"name":"n","expires_after":{"minutes":5}}""", "expires_after.anchor")]
    [InlineData("""{"name":"n","expires_after":{"anchor":"created_at","minutes":5}}""", "expires_after.anchor")]
    [InlineData("""{"name":"n","expires_after":{"anchor":"last_active_at","minutes":0}}""", "expires_after.minutes")]
    [InlineData("""{"name":"n","expires_after":{"anchor":"last_active_at","minutes":1441}}""", "expires_after.minutes")]
    [InlineData("""{"name":"n","expires_after":{"anchor":"last_active_at","minutes":2.5}}""", "expires_after.minutes")]
    [InlineData("""{"name":"n","expires_after":"soon"}""", "expires_after")]
    [InlineData("""{"name":"n","memory_limit":"2g"}""", "memory_limit")]
    [InlineData("""{"name":"n","network_policy":{"type":"open"}}""", "network_policy.type")]
    [InlineData("""{"name":"n","network_policy":{"type":"allowlist"}}""", "network_policy.allowed_domains")]
    [InlineData("""{"name":"n","network_policy":{"type":"disabled","allowed_domains":["a.com"]}}""", "network_policy.allowed_domains")]
    [InlineData("""{"name":"n","file_ids":["file-abc"]}""", "file_ids")]
    [InlineData("""{"name":"n","skills":[{"type":"skill_reference","skill_id":"s"}]}""", "skills")]
    [InlineData("""{"name":"n","colour":"blue"}""", "colour")]
    public void Bad_bodies_are_refused_naming_the_parameter(string json, string param)
    {
        var (request, error) = Read(json);
        Assert.Null(request);
        Assert.NotNull(error);
        Assert.Equal(400, error.Status);
        Assert.Equal(param, error.Param);
        Assert.Equal("invalid_request_error", error.Type);
    }

    [Fact]
    public void Long_logs_keep_their_start_and_end()
    {
        var logs = new string('a', CodeInterpreter.MaxLogChars) + "Traceback: the end";
        var bounded = CodeInterpreter.Bound(logs);
        Assert.True(bounded.Length < CodeInterpreter.MaxLogChars + 100);
        Assert.StartsWith("aaaa", bounded);
        Assert.EndsWith("Traceback: the end", bounded);
        Assert.Contains("characters cut", bounded);
        Assert.Same("short", CodeInterpreter.Bound("short"));
    }

    [Fact]
    public void The_price_of_a_sandbox_second_is_read_and_checked()
    {
        var ok = ConfigLoader.Load("models: [{name: m, provider: mock}]\nsandboxes: {cost_per_second: 0.00005}", "test.yaml", new Dictionary<string, string>());
        Assert.Empty(ok.Errors);
        Assert.Equal(0.00005m, ok.Options!.Sandboxes.CostPerSecond);
        Assert.Equal(0m, ConfigLoader.Load("models: [{name: m, provider: mock}]", "test.yaml", new Dictionary<string, string>()).Options!.Sandboxes.CostPerSecond);

        var bad = ConfigLoader.Load("models: [{name: m, provider: mock}]\nsandboxes: {cost_per_second: -1}", "test.yaml", new Dictionary<string, string>());
        Assert.Null(bad.Options);
        Assert.Contains(bad.Errors, e => e.Contains("sandboxes.cost_per_second", StringComparison.Ordinal));
    }
}
