using System.Diagnostics;
using System.Net;
using System.Text.Json;
using AgenticGateway.Routing;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Policies.Decisions;

/// <summary>
/// Decisions made on the request path reach the table: a gateway with routing policies and every decision sampled
/// records an allow (the chosen deployment, the forbidden one with its reason) and a 403 deny (its forbidding
/// policy), readable from GET /routing/decisions.
/// </summary>
[Trait("Category", "functional")]
public sealed class RoutingDecisionFlowTests : IAsyncLifetime
{
    private const string Master = "sk-decisions-flow-master-key";
    private readonly TempDirectory _dir = new("agw-decisions-flow-");
    private GatewayServer _gateway = null!;

    public async Task InitializeAsync()
    {
        var rules = Path.Combine(_dir.Path, "rules.cedar");
        await File.WriteAllTextAsync(rules, """
            @id("no_b")
            forbid (principal, action == "routing:select_model", resource)
            when { resource.deployment == "smart-b" };

            @id("closed_group")
            forbid (principal, action == "routing:select_model", resource)
            when { context.model_group == "closed" };
            """);
        _gateway = await GatewayServer.StartAsync($"""
            master_key: {Master}
            models:
              - name: smart
                id: smart-a
                provider: mock
                model: mock-a
              - name: smart
                id: smart-b
                provider: mock
                model: mock-b
              - name: closed
                id: closed-a
                provider: mock
            routing_policies:
              file: {rules}
              decision_sample_rate: 1.0
            """);
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        _dir.Dispose();
    }

    [Fact]
    public async Task An_allow_and_a_deny_from_real_requests_are_recorded_with_their_reasons()
    {
        using (var allowed = await _gateway.ChatAsync(Master, "smart")) Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        using (var denied = await _gateway.ChatAsync(Master, "closed"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
            using var error = await GatewayServer.JsonAsync(denied);
            Assert.Equal("routing_policy_denied", error.RootElement.GetProperty("error").GetProperty("code").GetString());
        }
        var writer = _gateway.Services.GetRequiredService<RoutingDecisionWriter>();
        var deadline = Stopwatch.StartNew();
        while (writer.Written < 2 && deadline.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(20);
        Assert.Equal(2, writer.Written);

        var (status, body) = await _gateway.AdminAsync("/routing/decisions?model=smart", null, Master);
        Assert.Equal(HttpStatusCode.OK, status);
        var allow = Assert.Single(body.GetProperty("data").EnumerateArray());
        Assert.Equal("allow", allow.GetProperty("decision").GetString());
        Assert.Equal("smart-a", allow.GetProperty("chosen_deployment").GetString());
        Assert.Equal("mock", allow.GetProperty("provider").GetString());
        Assert.Equal(JsonValueKind.Null, allow.GetProperty("deciding_policy").ValueKind);
        var b = allow.GetProperty("candidates").EnumerateArray().Single(c => c.GetProperty("deployment").GetString() == "smart-b");
        Assert.False(b.GetProperty("allowed").GetBoolean());
        Assert.Contains("forbid: no_b", b.GetProperty("reasons").EnumerateArray().Select(r => r.GetString()));
        Assert.True(allow.GetProperty("latency_us").GetInt64() >= 0);

        (status, body) = await _gateway.AdminAsync("/routing/decisions?decision=deny", null, Master);
        Assert.Equal(HttpStatusCode.OK, status);
        var deny = Assert.Single(body.GetProperty("data").EnumerateArray());
        Assert.Equal("closed", deny.GetProperty("model_group").GetString());
        Assert.Equal(JsonValueKind.Null, deny.GetProperty("chosen_deployment").ValueKind);
        Assert.Equal(["closed_group"], deny.GetProperty("policies").EnumerateArray().Select(p => p.GetString()));
    }
}
