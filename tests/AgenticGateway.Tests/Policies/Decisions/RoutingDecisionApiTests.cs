using System.Diagnostics;
using System.Net;
using System.Text.Json;
using AgenticGateway.Policies;
using AgenticGateway.Routing;
using AgenticGateway.Tests.Support;
using static AgenticGateway.Tests.Policies.Decisions.DecisionSamples;

namespace AgenticGateway.Tests.Policies.Decisions;

/// <summary>
/// GET /routing/decisions on a real gateway: the master key's alone (401 without a key, 403 for a virtual key), the
/// decisions the gateway's own sink took, newest first in the documented shape, its filters, and a 400 in the OpenAI
/// error shape for each bad filter.
/// </summary>
[Trait("Category", "functional")]
public sealed class RoutingDecisionApiTests : IAsyncLifetime
{
    private const string Master = "sk-decisions-master-key-for-tests";
    private GatewayServer _gateway = null!;

    public async Task InitializeAsync()
    {
        _gateway = await GatewayServer.StartAsync($"""
            master_key: {Master}
            models:
              - name: smart
                provider: mock
            """);
        // Through the interface the request path uses: the registration must reach the writer.
        var sink = _gateway.Services.GetRequiredService<IRoutingDecisionSink>();
        Assert.True(sink.TryWrite(Allow("req-a", Start)));
        Assert.True(sink.TryWrite(Deny("req-d", Start.AddMinutes(1), group: "smart")));
        Assert.True(sink.TryWrite(DryRun("req-r", Start.AddMinutes(2))));
        Assert.True(sink.TryWrite(Allow("req-x", Start.AddMinutes(3), group: "fast", requested: "fast")));
        var writer = _gateway.Services.GetRequiredService<RoutingDecisionWriter>();
        var deadline = Stopwatch.StartNew();
        while (writer.Written < 4 && deadline.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(20);
        Assert.Equal(4, writer.Written);
    }

    public Task DisposeAsync() => _gateway.DisposeAsync().AsTask();

    private async Task<JsonElement> ListAsync(string query = "")
    {
        var (status, body) = await _gateway.AdminAsync("/routing/decisions" + query, null, Master);
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        Assert.Equal("list", body.GetProperty("object").GetString());
        return body.GetProperty("data");
    }

    private static string[] Ids(JsonElement data) => [.. data.EnumerateArray().Select(d => d.GetProperty("id").GetString()!)];

    [Fact]
    public async Task Only_the_admin_reads_decisions()
    {
        using var anonymous = await _gateway.Client.GetAsync("/routing/decisions");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        using (var body = await GatewayServer.JsonAsync(anonymous))
            Assert.Equal("missing_api_key", body.RootElement.GetProperty("error").GetProperty("code").GetString());

        var key = await _gateway.GenerateKeyAsync("""{"key_alias":"not-admin"}""", Master);
        var (status, error) = await _gateway.AdminAsync("/routing/decisions", null, key);
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("permission_error", error.GetProperty("error").GetProperty("type").GetString());
        Assert.False(error.ToString().Contains("req-a", StringComparison.Ordinal));

        (status, _) = await _gateway.AdminAsync("/routing/decisions", null, "sk-wrong-key-0000000000000");
        Assert.Equal(HttpStatusCode.Unauthorized, status);
    }

    [Fact]
    public async Task Decisions_come_newest_first_in_the_documented_shape()
    {
        var data = await ListAsync();
        Assert.Equal(["req-x", "req-r", "req-d", "req-a"], Ids(data));
        var allow = data[3];
        Assert.Equal(
            ["id", "created_at", "model_group", "requested_model", "chosen_deployment", "provider", "decision", "deciding_policy", "policies", "candidates",
             "key_alias", "team_id", "user_id", "dry_run", "latency_us"],
            allow.EnumerateObject().Select(p => p.Name));
        Assert.Equal(Start.UtcDateTime, allow.GetProperty("created_at").GetDateTimeOffset().UtcDateTime);
        Assert.Equal("smart", allow.GetProperty("model_group").GetString());
        Assert.Equal("llama-vllm", allow.GetProperty("chosen_deployment").GetString());
        Assert.Equal("vllm", allow.GetProperty("provider").GetString());
        Assert.Equal("allow", allow.GetProperty("decision").GetString());
        Assert.Equal("prefer_vllm", allow.GetProperty("deciding_policy").GetString());
        Assert.Equal(["prefer_vllm"], allow.GetProperty("policies").EnumerateArray().Select(p => p.GetString()));
        Assert.Equal(("team-key", "team-1", "user-1"), (allow.GetProperty("key_alias").GetString(), allow.GetProperty("team_id").GetString(), allow.GetProperty("user_id").GetString()));
        Assert.False(allow.GetProperty("dry_run").GetBoolean());
        Assert.Equal(17, allow.GetProperty("latency_us").GetInt64());
        var forbidden = allow.GetProperty("candidates")[0];
        Assert.Equal(["index", "deployment", "provider", "allowed", "preferred", "reasons"], forbidden.EnumerateObject().Select(p => p.Name));
        Assert.Equal(("gpt-4o-openai", false, false), (forbidden.GetProperty("deployment").GetString(), forbidden.GetProperty("allowed").GetBoolean(), forbidden.GetProperty("preferred").GetBoolean()));
        Assert.Equal("forbid: slow_for_sla", forbidden.GetProperty("reasons")[0].GetString());
        Assert.True(allow.GetProperty("candidates")[1].GetProperty("preferred").GetBoolean());

        var deny = data[2];
        Assert.Equal(JsonValueKind.Null, deny.GetProperty("chosen_deployment").ValueKind);
        Assert.Equal(JsonValueKind.Null, deny.GetProperty("deciding_policy").ValueKind);
        Assert.Equal(JsonValueKind.Null, deny.GetProperty("key_alias").ValueKind);
        Assert.Equal(["breaker", "slow_for_sla"], deny.GetProperty("policies").EnumerateArray().Select(p => p.GetString()));
        Assert.True(data[1].GetProperty("dry_run").GetBoolean());
        Assert.Equal("dry_run", data[1].GetProperty("decision").GetString());
    }

    [Fact]
    public async Task Filters_select_by_model_decision_and_time_and_limit_the_count()
    {
        Assert.Equal(["req-r", "req-d", "req-a"], Ids(await ListAsync("?model=smart")));
        Assert.Equal(["req-x"], Ids(await ListAsync("?model=fast")));
        Assert.Equal(["req-d"], Ids(await ListAsync("?decision=deny")));
        Assert.Equal(["req-x", "req-a"], Ids(await ListAsync("?decision=allow")));
        Assert.Equal(["req-x", "req-r"], Ids(await ListAsync("?since=" + Uri.EscapeDataString(Start.AddMinutes(2).ToString("O")))));
        Assert.Equal(["req-x", "req-r", "req-d", "req-a"], Ids(await ListAsync("?since=" + Start.AddSeconds(-1).ToUnixTimeSeconds())));
        Assert.Equal(["req-x", "req-r", "req-d", "req-a"], Ids(await ListAsync("?since=2026-12-07")));
        Assert.Empty(Ids(await ListAsync("?since=2026-12-08")));
        Assert.Equal(["req-x", "req-r"], Ids(await ListAsync("?limit=2")));
        Assert.Equal(["req-a"], Ids(await ListAsync("?model=smart&decision=allow&limit=5")));
        Assert.Empty(Ids(await ListAsync("?model=unknown-model")));
    }

    [Theory]
    [InlineData("?limit=0", "limit")]
    [InlineData("?limit=1001", "limit")]
    [InlineData("?limit=ten", "limit")]
    [InlineData("?limit=-5", "limit")]
    [InlineData("?decision=maybe", "decision")]
    [InlineData("?since=yesterday", "since")]
    public async Task A_bad_filter_is_a_400_naming_it(string query, string name)
    {
        var (status, body) = await _gateway.AdminAsync("/routing/decisions" + query, null, Master);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var error = body.GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Contains($"'{name}'", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_writers_counters_are_exported_on_metrics()
    {
        using var metrics = await _gateway.Client.GetAsync("/metrics");
        var text = await metrics.Content.ReadAsStringAsync();
        Assert.Contains("agw_routing_decisions_written_total 4", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_admin_ui_links_its_routing_page_and_serves_its_script()
    {
        using var index = await _gateway.Client.GetAsync("/ui");
        var html = await index.Content.ReadAsStringAsync();
        Assert.Contains("""<a href="#/routing" data-page="routing">Routing</a>""", html, StringComparison.Ordinal);
        Assert.Contains("""<script src="/ui/routing.js" defer></script>""", html, StringComparison.Ordinal);
        using var script = await _gateway.Client.GetAsync("/ui/routing.js");
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Assert.Equal("text/javascript", script.Content.Headers.ContentType?.MediaType);
        var js = await script.Content.ReadAsStringAsync();
        // It reads the two admin APIs the page is about.
        Assert.Contains("pages.routing", js, StringComparison.Ordinal);
        Assert.Contains("/routing/decisions?", js, StringComparison.Ordinal);
        Assert.Contains("api(\"/policies\")", js, StringComparison.Ordinal);
    }
}
