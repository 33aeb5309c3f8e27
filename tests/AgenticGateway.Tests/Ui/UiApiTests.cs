using System.Net;
using System.Text.Json;
using AgenticGateway.Tests.Support;
using AgenticGateway.Ui;
using AgenticGateway.Observability;

namespace AgenticGateway.Tests.Ui;

/// <summary>The admin UI's JSON endpoints (/ui/api/...) and its files, against a real gateway with the mock provider.</summary>
[Trait("Category", "functional")]
public class UiApiTests : IAsyncLifetime
{
    private const string Master = "sk-ui-master-key-for-tests";
    private const string ProviderSecret = "sk-provider-secret-0123456789";
    private const string HeaderSecret = "Bearer header-secret-abcdef";
    private const string JwtSecret = "jwt-hs256-secret-that-is-long-enough-0123";
    private GatewayServer _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayServer.StartAsync($$"""
        master_key: {{Master}}
        models:
          - name: gpt-4o
            provider: mock
            api_key: {{ProviderSecret}}
            headers:
              Authorization: "{{HeaderSecret}}"
              x-team: blue
          - name: gpt-4o-mini
            provider: mock
        jwt:
          secret: {{JwtSecret}}
        alerts:
          webhook_url: https://hooks.example.com/services/T000/B000/webhook-path-secret
        """);

    public Task DisposeAsync() => _gateway.DisposeAsync().AsTask();

    private static readonly string[] Routes =
        ["/ui/api/session", "/ui/api/overview", "/ui/api/requests", "/ui/api/deployments", "/ui/api/config", "/ui/api/server", "/ui/api/users", "/ui/api/sandboxes"];

    [Fact]
    public async Task Every_api_route_wants_the_master_key()
    {
        var key = await _gateway.GenerateKeyAsync("""{"key_alias":"not-admin"}""", Master);
        foreach (var route in Routes)
        {
            using var anonymous = await _gateway.Client.GetAsync(route);
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            using (var body = await GatewayServer.JsonAsync(anonymous))
                Assert.Equal("missing_api_key", body.RootElement.GetProperty("error").GetProperty("code").GetString());

            var (status, error) = await _gateway.AdminAsync(route, null, "sk-wrong-key-0000000000000");
            Assert.Equal(HttpStatusCode.Unauthorized, status);
            Assert.Equal("invalid_api_key", error.GetProperty("error").GetProperty("code").GetString());

            (status, error) = await _gateway.AdminAsync(route, null, key);
            Assert.Equal(HttpStatusCode.Forbidden, status);
            Assert.Equal("permission_error", error.GetProperty("error").GetProperty("type").GetString());

            (status, _) = await _gateway.AdminAsync(route, null, Master);
            Assert.True(status == HttpStatusCode.OK, $"{route}: {status}");
        }
        var (killStatus, _) = await _gateway.AdminAsync("/ui/api/sandboxes/sb-none", null, key, HttpMethod.Delete);
        Assert.Equal(HttpStatusCode.Forbidden, killStatus);
    }

    [Fact]
    public async Task Config_view_masks_every_secret()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/ui/api/config");
        request.Headers.Authorization = new("Bearer", Master);
        using var response = await _gateway.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        foreach (var secret in new[] { Master, ProviderSecret, "header-secret-abcdef", JwtSecret, "webhook-path-secret" })
            Assert.DoesNotContain(secret, text, StringComparison.Ordinal);

        var root = JsonDocument.Parse(text).RootElement;
        Assert.Equal(ConfigView.Mask, root.GetProperty("master_key").GetString());
        var deployment = root.GetProperty("deployments")[0];
        Assert.Equal("gpt-4o", deployment.GetProperty("model_name").GetString());
        Assert.Equal(ConfigView.Mask, deployment.GetProperty("api_key").GetString());
        Assert.Equal(ConfigView.Mask, deployment.GetProperty("headers").GetProperty("Authorization").GetString());
        Assert.Equal("blue", deployment.GetProperty("headers").GetProperty("x-team").GetString());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("deployments")[1].GetProperty("api_key").ValueKind);
        Assert.Equal(ConfigView.Mask, root.GetProperty("jwt").GetProperty("secret").GetString());
        Assert.Equal("https://hooks.example.com/***", root.GetProperty("alerts").GetProperty("webhook_url").GetString());
        // Non-secret settings come through, defaults included.
        Assert.Equal("simple-shuffle", root.GetProperty("router").GetProperty("strategy").GetString());
        Assert.Equal("5s", root.GetProperty("router").GetProperty("cooldown_time").GetString());
    }

    [Fact]
    public async Task A_request_shows_in_the_live_log_and_the_overview_without_its_prompt()
    {
        // A key's team must exist (the gateway refuses a key naming an unknown team).
        await _gateway.AdminAsync("/team/new", """{"team_id":"team-live"}""", Master);
        var key = await _gateway.GenerateKeyAsync("""{"key_alias":"live-log-key","team_id":"team-live"}""", Master);
        var (_, before) = await _gateway.AdminAsync("/ui/api/requests", null, Master);
        var after = before.GetProperty("last_seq").GetInt64();

        using (var chat = await _gateway.ChatAsync(key)) Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        using (var missing = await _gateway.ChatAsync(key, model: "no-such-model")) Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);

        using var request = new HttpRequestMessage(HttpMethod.Get, $"/ui/api/requests?after={after}");
        request.Headers.Authorization = new("Bearer", Master);
        using var response = await _gateway.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("hello there", text, StringComparison.Ordinal); // the prompt
        Assert.DoesNotContain(key, text, StringComparison.Ordinal);
        var data = JsonDocument.Parse(text).RootElement.GetProperty("data");
        Assert.Equal(2, data.GetArrayLength());
        var ok = data[1]; // newest first: the chat came before the 404
        Assert.Equal("live-log-key", ok.GetProperty("key_alias").GetString());
        Assert.Equal($"sk-...{key[^4..]}", ok.GetProperty("key_name").GetString());
        Assert.Equal("team-live", ok.GetProperty("team_id").GetString());
        Assert.Equal("gpt-4o", ok.GetProperty("model").GetString());
        Assert.Equal(200, ok.GetProperty("status").GetInt32());
        Assert.Equal("mock", ok.GetProperty("provider").GetString());
        Assert.True(ok.GetProperty("prompt_tokens").GetInt64() > 0);
        Assert.True(ok.GetProperty("latency_ms").GetDouble() > 0);
        Assert.Equal(404, data[0].GetProperty("status").GetInt32());
        Assert.Equal("model_not_found", data[0].GetProperty("error").GetString());
        Assert.Equal("live-log-key", data[0].GetProperty("key_alias").GetString()); // refused before routing, still attributed

        var (status, overview) = await _gateway.AdminAsync("/ui/api/overview?minutes=5&buckets=10", null, Master);
        Assert.Equal(HttpStatusCode.OK, status);
        var totals = overview.GetProperty("totals");
        Assert.True(totals.GetProperty("requests").GetInt32() >= 2);
        Assert.True(totals.GetProperty("errors").GetInt32() >= 1);
        Assert.True(totals.GetProperty("p50_ms").GetDouble() > 0);
        Assert.True(totals.GetProperty("prompt_tokens").GetInt64() > 0);
        var series = overview.GetProperty("series");
        Assert.Equal(10, series.GetArrayLength());
        Assert.Equal(totals.GetProperty("requests").GetInt32(), series.EnumerateArray().Sum(b => b.GetProperty("requests").GetInt32()));

        (status, var bad) = await _gateway.AdminAsync("/ui/api/overview?minutes=0", null, Master);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("minutes", bad.GetProperty("error").GetProperty("param").GetString());
    }

    [Fact]
    public async Task Deployments_show_state_and_load()
    {
        var (_, body) = await _gateway.AdminAsync("/ui/api/deployments", null, Master);
        var data = body.GetProperty("data");
        Assert.Equal(2, data.GetArrayLength());
        var first = data[0];
        Assert.Equal("gpt-4o", first.GetProperty("model").GetString());
        Assert.Equal("healthy", first.GetProperty("state").GetString());
        Assert.Equal(0, first.GetProperty("in_flight").GetInt32());
        Assert.DoesNotContain(ProviderSecret, body.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_pages_are_served_with_a_strict_content_security_policy()
    {
        using var page = await _gateway.Client.GetAsync("/ui");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("script-src 'self'", page.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        Assert.Contains("/ui/app.js", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var script = await _gateway.Client.GetAsync("/ui/app.js");
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Assert.Equal("text/javascript", script.Content.Headers.ContentType?.MediaType);
        using var cached = new HttpRequestMessage(HttpMethod.Get, "/ui/app.js");
        cached.Headers.TryAddWithoutValidation("If-None-Match", script.Headers.ETag!.ToString());
        using var notModified = await _gateway.Client.SendAsync(cached);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);

        using var missing = await _gateway.Client.GetAsync("/ui/nope.js");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public void Recent_requests_keep_only_the_newest_capacity()
    {
        var ring = new RecentRequests(capacity: 5);
        for (var i = 1; i <= 12; i++) ring.Add(new RequestRecord { Time = DateTimeOffset.UtcNow, RequestId = "r" + i, Operation = "chat_completions", Model = "m" });
        Assert.Equal(12, ring.Total);
        var all = ring.Snapshot();
        Assert.Equal(["r8", "r9", "r10", "r11", "r12"], all.Select(r => r.RequestId));
        Assert.Equal([11L, 12L], ring.Snapshot(afterSeq: 10).Select(r => r.Seq));
        Assert.Equal(["r11", "r12"], ring.Snapshot(limit: 2).Select(r => r.RequestId));
    }

    [Fact]
    public async Task Recent_requests_stay_bounded_under_concurrent_writers()
    {
        var ring = new RecentRequests(capacity: 64);
        await Task.WhenAll(Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < 5000; i++) ring.Add(new RequestRecord { Time = DateTimeOffset.UtcNow, RequestId = $"{t}-{i}", Operation = "chat_completions", Model = "m" });
        })));
        Assert.Equal(20_000, ring.Total);
        var all = ring.Snapshot();
        Assert.Equal(64, all.Count);
        Assert.All(all, r => Assert.True(r.Seq > 20_000 - 64));
    }

    [Fact]
    public void Percentiles_use_the_nearest_rank()
    {
        double[] sorted = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        Assert.Equal(5, OverviewSeries.Percentile(sorted, 0.5));
        Assert.Equal(10, OverviewSeries.Percentile(sorted, 0.95));
        Assert.Equal(1, OverviewSeries.Percentile([1], 0.99));
        Assert.Null(OverviewSeries.Percentile([], 0.5));
    }
}
