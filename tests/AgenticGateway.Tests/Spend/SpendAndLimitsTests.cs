using System.Net;
using System.Text.Json;
using AgenticGateway.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace AgenticGateway.Tests.Spend;

/// <summary>
/// Teams, users, budgets, rate limits and spend logs through the HTTP API, as a LiteLLM user would drive them, on
/// each database backend (the embedded SQLite, and a real PostgreSQL).
/// </summary>
[Trait("Category", "integration")]
public class SpendAndLimitsTests
{
    private const string Master = "sk-master-key-for-spend-tests";

    private static readonly string Config = $"""
        master_key: {Master}
        models:
          - {"{"}name: gpt-4o, provider: mock{"}"}
          - {"{"}name: gpt-4o-mini, provider: mock{"}"}
          - name: slow
            provider: mock
            model: gpt-4o
            mock: {"{"}latency: 2s{"}"}
        """;

    private static Task<GatewayServer> StartAsync(string backend, string? data = null) => Backends.StartGatewayAsync(Config, backend, data);

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task LiteLlm_style_script_generate_use_info_and_spend_logs_works_unchanged(string backend)
    {
        await using var g = await StartAsync(backend);
        var key = await g.GenerateKeyAsync("""{"max_budget": 5, "rpm_limit": 100, "models": ["gpt-4o"], "key_alias": "script-key", "tags": ["batch"]}""", Master);

        using var ok = await g.ChatAsync(key);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        var cost = decimal.Parse(ok.Headers.GetValues("x-agw-response-cost").Single(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(cost > 0, "a priced model costs something");
        Assert.Equal("100", ok.Headers.GetValues("x-ratelimit-limit-requests").Single());
        Assert.Equal("99", ok.Headers.GetValues("x-ratelimit-remaining-requests").Single());
        using var forbidden = await g.ChatAsync(key, "gpt-4o-mini");
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);

        await g.FlushSpendAsync();
        var (status, info) = await g.AdminAsync($"/key/info?key={key}", null, Master);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(cost, info.GetProperty("info").GetProperty("spend").GetDecimal());
        Assert.Equal(5m, info.GetProperty("info").GetProperty("max_budget").GetDecimal());

        var (logsStatus, logs) = await g.AdminAsync($"/spend/logs?api_key={key}", null, Master);
        Assert.Equal(HttpStatusCode.OK, logsStatus);
        var entries = logs.EnumerateArray().ToList();
        // The 403 never reached a provider: only the served request is logged.
        var log = Assert.Single(entries);
        Assert.Equal(cost, log.GetProperty("spend").GetDecimal());
        Assert.Equal("gpt-4o", log.GetProperty("model").GetString());
        Assert.Equal("success", log.GetProperty("status").GetString());
        Assert.True(log.GetProperty("total_tokens").GetInt64() > 0);
        Assert.Equal("batch", log.GetProperty("request_tags")[0].GetString());
        Assert.Equal(ok.Headers.GetValues("x-request-id").Single(), log.GetProperty("request_id").GetString());

        // Seed 000's usage summary, read by the key itself.
        using var usageRequest = new HttpRequestMessage(HttpMethod.Get, "/v1/usage");
        usageRequest.Headers.Authorization = new("Bearer", key);
        using var usage = await g.Client.SendAsync(usageRequest);
        Assert.Equal(HttpStatusCode.OK, usage.StatusCode);
        var u = JsonDocument.Parse(await usage.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(1, u.GetProperty("requests").GetInt64());
        Assert.Equal(cost, u.GetProperty("cost_usd").GetDecimal());
        Assert.Equal(log.GetProperty("total_tokens").GetInt64(), u.GetProperty("tokens_used").GetInt64());

        var (reportStatus, report) = await g.AdminAsync("/global/spend/report?group_by=api_key", null, Master);
        Assert.Equal(HttpStatusCode.OK, reportStatus);
        Assert.Equal(cost, report[0].GetProperty("total_spend").GetDecimal());
    }

    [Fact]
    public async Task Count_tokens_and_the_model_list_take_nothing_from_a_keys_limits()
    {
        // They call no provider: no request from rpm, no parallel slot, no budget hold, no x-ratelimit headers.
        await using var g = await StartAsync("sqlite");
        var key = await g.GenerateKeyAsync("""{"rpm_limit": 1, "max_parallel_requests": 1, "max_budget": 5, "key_alias": "one"}""", Master);
        for (var i = 0; i < 3; i++)
        {
            using var count = new HttpRequestMessage(HttpMethod.Post, "/v1/messages/count_tokens")
            {
                Content = new StringContent("""{"model": "gpt-4o", "messages": [{"role": "user", "content": "hello"}]}""", System.Text.Encoding.UTF8, "application/json"),
            };
            count.Headers.Add("x-api-key", key);
            count.Headers.Add("anthropic-version", "2023-06-01");
            using var counted = await g.Client.SendAsync(count);
            Assert.Equal(HttpStatusCode.OK, counted.StatusCode);
            Assert.False(counted.Headers.Contains("x-ratelimit-remaining-requests"));
            using var models = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
            models.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
            using var listed = await g.Client.SendAsync(models);
            Assert.Equal(HttpStatusCode.OK, listed.StatusCode);
        }
        using var chat = await g.ChatAsync(key);
        Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        Assert.Equal("0", chat.Headers.GetValues("x-ratelimit-remaining-requests").Single());
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Rpm_limit_refuses_with_429_retry_after_and_names_the_limit(string backend)
    {
        await using var g = await StartAsync(backend);
        var key = await g.GenerateKeyAsync("""{"rpm_limit": 3, "key_alias": "rpm3"}""", Master);
        for (var i = 0; i < 3; i++)
        {
            using var ok = await g.ChatAsync(key);
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            Assert.Equal((2 - i).ToString(System.Globalization.CultureInfo.InvariantCulture), ok.Headers.GetValues("x-ratelimit-remaining-requests").Single());
        }
        using var refused = await g.ChatAsync(key);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        var retryAfter = int.Parse(refused.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(retryAfter, 1, 61);
        var error = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal("rate_limit_exceeded", error.GetProperty("code").GetString());
        Assert.Contains("rpm_limit", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("rpm3", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("llm_rate_limit_exceeded_total{scope=\"key\",limit=\"rpm\"} 1", await g.Client.GetStringAsync("/metrics"));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Team_limits_and_model_access_bind_every_key_of_the_team(string backend)
    {
        await using var g = await StartAsync(backend);
        var (status, team) = await g.AdminAsync("/team/new", """{"team_alias": "research", "rpm_limit": 2, "models": ["gpt-4o"], "members_with_roles": [{"role": "admin", "user_id": "ann"}]}""", Master);
        Assert.Equal(HttpStatusCode.OK, status);
        var teamId = team.GetProperty("team_id").GetString()!;
        (status, _) = await g.AdminAsync("/team/member_add", $$$"""{"team_id": "{{{teamId}}}", "member": {"role": "user", "user_id": "bob"}}""", Master);
        Assert.Equal(HttpStatusCode.OK, status);

        // Each key alone allows plenty; the team allows two requests a minute across both.
        var a = await g.GenerateKeyAsync($$"""{"team_id": "{{teamId}}", "rpm_limit": 100}""", Master);
        var b = await g.GenerateKeyAsync($$"""{"team_id": "{{teamId}}"}""", Master);
        using (var r1 = await g.ChatAsync(a)) Assert.Equal(HttpStatusCode.OK, r1.StatusCode);
        using (var r2 = await g.ChatAsync(b)) Assert.Equal(HttpStatusCode.OK, r2.StatusCode);
        using (var r3 = await g.ChatAsync(a))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, r3.StatusCode);
            Assert.Contains("team", await r3.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        using (var denied = await g.ChatAsync(b, "gpt-4o-mini")) Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);

        var (infoStatus, info) = await g.AdminAsync($"/team/info?team_id={teamId}", null, Master);
        Assert.Equal(HttpStatusCode.OK, infoStatus);
        Assert.Equal(2, info.GetProperty("keys").GetArrayLength());
        Assert.Equal(2, info.GetProperty("team_info").GetProperty("members_with_roles").GetArrayLength());

        // Blocking the team blocks its keys.
        (status, _) = await g.AdminAsync("/team/update", $$"""{"team_id": "{{teamId}}", "blocked": true}""", Master);
        Assert.Equal(HttpStatusCode.OK, status);
        using (var blocked = await g.ChatAsync(b)) Assert.Equal(HttpStatusCode.Unauthorized, blocked.StatusCode);

        var (auditStatus, audit) = await g.AdminAsync($"/audit/logs?object_type=team&object_id={teamId}", null, Master);
        Assert.Equal(HttpStatusCode.OK, auditStatus);
        var actions = audit.EnumerateArray().Select(e => e.GetProperty("action").GetString()).ToList();
        Assert.Equal(["team.update", "team.member_add", "team.create"], actions);
        var update = audit[0];
        Assert.False(update.GetProperty("before").GetProperty("blocked").GetBoolean());
        Assert.True(update.GetProperty("after").GetProperty("blocked").GetBoolean());
        Assert.Equal("master_key", update.GetProperty("actor").GetString());

        (status, var deleted) = await g.AdminAsync("/team/delete", $$"""{"team_ids": ["{{teamId}}"]}""", Master);
        Assert.True(status == HttpStatusCode.OK, deleted.ToString());
        (status, _) = await g.AdminAsync($"/team/info?team_id={teamId}", null, Master);
        Assert.Equal(HttpStatusCode.NotFound, status);
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Users_own_keys_and_their_budget_binds_them(string backend)
    {
        await using var g = await StartAsync(backend);
        var (status, user) = await g.AdminAsync("/user/new", """{"user_id": "carol", "user_email": "carol@example.com", "max_budget": 0.0001}""", Master);
        Assert.Equal(HttpStatusCode.OK, status);
        var key = user.GetProperty("key").GetString()!;

        // The first request fits the small budget; what it really cost uses it up, so the next is refused.
        using (var first = await g.ChatAsync(key)) Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        using var second = await g.ChatAsync(key);
        Assert.Equal(HttpStatusCode.BadRequest, second.StatusCode);
        var error = JsonDocument.Parse(await second.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal("budget_exceeded", error.GetProperty("type").GetString());
        Assert.Contains("user carol", error.GetProperty("message").GetString(), StringComparison.Ordinal);

        await g.FlushSpendAsync();
        var (infoStatus, info) = await g.AdminAsync("/user/info?user_id=carol", null, Master);
        Assert.Equal(HttpStatusCode.OK, infoStatus);
        Assert.True(info.GetProperty("user_info").GetProperty("spend").GetDecimal() > 0);
        Assert.Equal(1, info.GetProperty("keys").GetArrayLength());

        (status, _) = await g.AdminAsync("/user/update", """{"user_id": "carol", "max_budget": 100}""", Master);
        Assert.Equal(HttpStatusCode.OK, status);
        using (var again = await g.ChatAsync(key)) Assert.Equal(HttpStatusCode.OK, again.StatusCode);

        (status, _) = await g.AdminAsync("/user/delete", """{"user_ids": ["carol"]}""", Master);
        Assert.Equal(HttpStatusCode.OK, status);
    }

    [Fact]
    public async Task A_reservation_larger_than_what_remains_waits_for_the_requests_in_flight()
    {
        await using var g = await StartAsync("sqlite");
        // gpt-4o output costs $10 per million tokens: 1000 max_tokens reserve $0.01, more than this budget holds.
        var key = await g.GenerateKeyAsync("""{"max_budget": 0.005}""", Master);
        // While a slow request holds part of the budget, one that may cost more than the rest is refused, and says why.
        var holding = g.ChatAsync(key, "slow", extra: ",\"max_tokens\":50");
        await WaitInFlightAsync(g, "slow");
        using (var refused = await g.ChatAsync(key, extra: ",\"max_tokens\":1000"))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            var text = await refused.Content.ReadAsStringAsync();
            Assert.Contains("budget_in_flight", text, StringComparison.Ordinal);
            Assert.Contains("may cost up to", text, StringComparison.Ordinal);
            Assert.NotNull(refused.Headers.RetryAfter);
        }
        // One that fits beside it is admitted; and once nothing else is in flight, the large one may run alone.
        using (var fits = await g.ChatAsync(key, extra: ",\"max_tokens\":50")) Assert.Equal(HttpStatusCode.OK, fits.StatusCode);
        using (var done = await holding) Assert.Equal(HttpStatusCode.OK, done.StatusCode);
        using var alone = await g.ChatAsync(key, extra: ",\"max_tokens\":1000");
        Assert.Equal(HttpStatusCode.OK, alone.StatusCode);
    }

    [Fact]
    public async Task Tpm_limit_reserves_the_estimate_and_settles_to_real_usage()
    {
        await using var g = await StartAsync("sqlite");
        var key = await g.GenerateKeyAsync("""{"tpm_limit": 400}""", Master);
        // Reserving 1000 output tokens cannot fit in 400 while another request is in flight.
        var holding = g.ChatAsync(key, "slow", extra: ",\"max_tokens\":10");
        await WaitInFlightAsync(g, "slow");
        using (var tooBig = await g.ChatAsync(key, extra: ",\"max_tokens\":1000")) Assert.Equal(HttpStatusCode.TooManyRequests, tooBig.StatusCode);
        long held;
        using (var done = await holding)
        {
            Assert.Equal(HttpStatusCode.OK, done.StatusCode);
            held = JsonDocument.Parse(await done.Content.ReadAsStringAsync()).RootElement.GetProperty("usage").GetProperty("total_tokens").GetInt64();
        }
        using var ok = await g.ChatAsync(key, extra: ",\"max_tokens\":100");
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal("400", ok.Headers.GetValues("x-ratelimit-limit-tokens").Single());
        var usage = JsonDocument.Parse(await ok.Content.ReadAsStringAsync()).RootElement.GetProperty("usage").GetProperty("total_tokens").GetInt64();
        // After settling, the requests count their real usage, not their reservations; the next one reserves its own estimate.
        const string nextExtra = ",\"max_tokens\":1";
        var nextReservation = AgenticGateway.Pricing.TokenEstimator.EstimatePromptTokens(System.Text.Encoding.UTF8.GetBytes(Support.Chat.Request("gpt-4o", extra: nextExtra))) + 1;
        using var next = await g.ChatAsync(key, extra: nextExtra);
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        var remaining = long.Parse(next.Headers.GetValues("x-ratelimit-remaining-tokens").Single(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(400 - held - usage - nextReservation, remaining);
    }

    /// <summary>Waits until a request for <paramref name="model"/> is in flight at its deployment.</summary>
    private static async Task WaitInFlightAsync(GatewayServer g, string model)
    {
        // The slow request lasts 2 s: long enough to be seen in flight on a loaded machine (at 400 ms a busy test run
        // could miss it, and the next request then ran alone instead of beside it). Not seeing it fails here, clearly.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!(await g.AdminAsync("/health", null, Master)).Body.GetProperty("deployments").EnumerateArray()
                   .Any(d => d.GetProperty("model").GetString() == model && d.GetProperty("in_flight").GetInt32() == 1))
        {
            Assert.True(DateTime.UtcNow < deadline, $"the {model} request was never seen in flight");
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task Max_parallel_requests_refuses_the_extra_concurrent_request()
    {
        await using var g = await StartAsync("sqlite");
        var key = await g.GenerateKeyAsync("""{"max_parallel_requests": 1}""", Master);
        var first = g.ChatAsync(key, "slow");
        // The first request holds the key's only slot once it is in flight at its deployment.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline && !(await g.AdminAsync("/health", null, Master)).Body.GetProperty("deployments").EnumerateArray()
                   .Any(d => d.GetProperty("model").GetString() == "slow" && d.GetProperty("in_flight").GetInt32() == 1))
            await Task.Delay(10);
        using (var second = await g.ChatAsync(key, "slow"))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
            Assert.Contains("max_parallel_requests", await second.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        using (var done = await first) Assert.Equal(HttpStatusCode.OK, done.StatusCode);
        using var after = await g.ChatAsync(key, "slow");
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    [Fact]
    public async Task Streamed_requests_are_priced_and_logged_too()
    {
        await using var g = await StartAsync("sqlite");
        var key = await g.GenerateKeyAsync("""{"key_alias": "streamer"}""", Master);
        using var response = await g.PostJsonAsync("/v1/chat/completions", Support.Chat.Request("gpt-4o", stream: true), configure: r => r.Headers.Authorization = new("Bearer", key));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await Sse.ReadEventsAsync(response);
        await g.FlushSpendAsync();
        var (_, logs) = await g.AdminAsync($"/spend/logs?api_key={key}", null, Master);
        var log = Assert.Single(logs.EnumerateArray());
        Assert.True(log.GetProperty("stream").GetBoolean());
        Assert.True(log.GetProperty("spend").GetDecimal() > 0);
        Assert.True(log.GetProperty("completion_tokens").GetInt64() > 0);
    }

    [Fact]
    public async Task A_deployment_at_its_rpm_is_passed_over_while_another_has_room()
    {
        await using var g = await GatewayServer.StartAsync("""
            router: {strategy: round-robin}
            models:
              - {name: pool, provider: mock, model: gpt-4o, id: small, rpm: 2}
              - {name: pool, provider: mock, model: gpt-4o, id: large, rpm: 1000}
            """);
        var served = new List<string>();
        for (var i = 0; i < 8; i++)
        {
            using var r = await g.PostJsonAsync("/v1/chat/completions", Support.Chat.Request("pool"));
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            served.Add(r.Headers.GetValues("x-agw-deployment").Single());
        }
        Assert.Equal(2, served.Count(d => d == "small"));
        Assert.Equal(6, served.Count(d => d == "large"));
    }

    [Fact]
    public async Task Crossing_a_budget_threshold_posts_one_webhook_event_per_threshold()
    {
        var events = new System.Collections.Concurrent.ConcurrentQueue<JsonElement>();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var hook = builder.Build();
        hook.MapPost("/hook", async (HttpContext c) =>
        {
            events.Enqueue(JsonDocument.Parse(await new StreamReader(c.Request.Body).ReadToEndAsync()).RootElement.Clone());
            return Results.Ok();
        });
        await hook.StartAsync();
        var hookUrl = AgenticGateway.Hosting.GatewayApp.BoundAddresses(hook)[0] + "/hook";

        await using var g = await GatewayServer.StartAsync(Config + $"\nalerts: {{webhook_url: \"{hookUrl}\", budget_thresholds: [0.5, 1.0]}}\n");
        var key = await g.GenerateKeyAsync("""{"max_budget": 0.0005, "key_alias": "watched"}""", Master);
        var served = 0;
        for (var i = 0; i < 20; i++)
        {
            using var r = await g.ChatAsync(key);
            if (r.StatusCode != HttpStatusCode.OK) break;
            served++;
        }
        Assert.InRange(served, 2, 19);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (events.Count < 2 && DateTime.UtcNow < deadline) await Task.Delay(50);
        await Task.Delay(200);
        var list = events.ToList();
        Assert.Equal(["threshold_crossed", "budget_crossed"], list.Select(e => e.GetProperty("event").GetString()).ToList());
        Assert.All(list, e => Assert.Equal("watched", e.GetProperty("key_alias").GetString()));
        Assert.All(list, e => Assert.Equal("key", e.GetProperty("event_group").GetString()));
        Assert.Equal(0.0005m, list[0].GetProperty("max_budget").GetDecimal());
        Assert.True(list[1].GetProperty("spend").GetDecimal() >= 0.0005m);
    }

    [Fact]
    public async Task A_wildcard_deployment_is_priced_by_the_model_it_was_asked_for()
    {
        await using var g = await GatewayServer.StartAsync("""
            models:
              - {name: "openai/*", provider: mock, model: "*"}
            """);
        using var r = await g.PostJsonAsync("/v1/chat/completions", Support.Chat.Request("openai/gpt-4o"));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var usage = JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.GetProperty("usage");
        var expected = AgenticGateway.Pricing.PriceBook.Find("gpt-4o")!.Cost(new AgenticGateway.OpenAi.Usage(usage.GetProperty("prompt_tokens").GetInt64(), usage.GetProperty("completion_tokens").GetInt64()));
        Assert.True(expected > 0);
        Assert.Equal(expected, decimal.Parse(r.Headers.GetValues("x-agw-response-cost").Single(), System.Globalization.CultureInfo.InvariantCulture));
    }
}
