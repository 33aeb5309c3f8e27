using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using AgenticGateway.Configuration;
using AgenticGateway.Tests.Support;
using Xunit.Abstractions;

namespace AgenticGateway.Tests.Spend;

/// <summary>
/// Budgets and token limits hold under concurrency: each request reserves its worst case (max_tokens, else the model's
/// maximum output, times n) at admission and settles to its real cost, so parallel requests, streams and n &gt; 1
/// overshoot a budget by at most one request, on one node and across replicas sharing Redis. A budget never runs open
/// on a model without a price.
/// </summary>
[Trait("Category", "integration")]
public class BudgetReservationTests(ITestOutputHelper output)
{
    private const string Master = "sk-master-key-for-budget-reservations";

    // Answers take a while (about 0.3 to 1 s), so many requests are in flight together.
    private static readonly string Config = $$"""
        master_key: {{Master}}
        models:
          - {name: gpt-4o, provider: mock, mock: {tokens_per_second: 600} }
        """;

    private static readonly string LongAnswer = string.Join(' ', Enumerable.Repeat("budget", 300));

    /// <summary>A mix of what overshot before: long answers without max_tokens, n &gt; 1, streams with and without usage.</summary>
    private static string Body(int i) => (i % 4) switch
    {
        0 => Chat.Request("gpt-4o", stream: true, extra: $",\"mock_response\":\"{LongAnswer}\""),
        1 => Chat.Request("gpt-4o", extra: $",\"n\":3,\"mock_response\":\"{LongAnswer}\""),
        2 => Chat.Request("gpt-4o", extra: $",\"max_tokens\":400,\"mock_response\":\"{LongAnswer}\""),
        _ => Chat.Request("gpt-4o", stream: true, extra: $",\"max_tokens\":350,\"stream_options\":{{\"include_usage\":true}},\"mock_response\":\"{LongAnswer}\""),
    };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Fifty_parallel_requests_spend_within_one_request_of_the_budget(bool replicasSharingRedis)
    {
        const decimal budget = 0.03m;
        var replicas = replicasSharingRedis ? await StartReplicasAsync(2) : [await GatewayServer.StartAsync(Config)];
        try
        {
            var (status, created) = await replicas[0].AdminAsync("/key/generate", $$"""{"max_budget": {{budget}}}""", Master);
            Assert.Equal(HttpStatusCode.OK, status);
            var key = created.GetProperty("key").GetString()!;
            var token = created.GetProperty("token").GetString()!;

            var outcomes = new ConcurrentBag<(HttpStatusCode Status, string Code)>();
            await Task.WhenAll(Enumerable.Range(0, 50).Select(async i =>
            {
                var g = replicas[i % replicas.Length];
                // A request refused because others hold the budget (429 budget_in_flight) tries again, as an SDK would.
                for (var attempt = 0; attempt < 400; attempt++)
                {
                    using var r = await g.PostJsonAsync("/v1/chat/completions", Body(i), configure: m => m.Headers.Authorization = new("Bearer", key));
                    var text = await r.Content.ReadAsStringAsync();
                    var code = r.StatusCode == HttpStatusCode.OK ? "" : JsonDocument.Parse(text).RootElement.GetProperty("error").GetProperty("code").GetString()!;
                    if (code == "budget_in_flight") { await Task.Delay(25); continue; }
                    outcomes.Add((r.StatusCode, code));
                    return;
                }
                outcomes.Add((HttpStatusCode.TooManyRequests, "budget_in_flight"));
            }));

            foreach (var g in replicas) await g.FlushSpendAsync();
            var (_, logs) = await replicas[0].AdminAsync($"/spend/logs?api_key={token}&limit=10000", null, Master);
            var costs = logs.EnumerateArray().Select(l => l.GetProperty("spend").GetDecimal()).ToList();
            var spent = costs.Sum();
            var largest = costs.DefaultIfEmpty(0).Max();
            var served = outcomes.Count(o => o.Status == HttpStatusCode.OK);
            output.WriteLine($"budget {budget}: {served} served, {outcomes.Count(o => o.Code == "budget_exceeded")} refused; spent {spent} (overshoot {spent - budget}, largest request {largest})");
            Assert.All(outcomes, o => Assert.True(o.Status == HttpStatusCode.OK || o.Code == "budget_exceeded", $"unexpected {o.Status} {o.Code}"));
            Assert.True(served >= 3, "several requests fit in the budget");
            Assert.Contains(outcomes, o => o.Code == "budget_exceeded");
            Assert.True(spent <= budget + largest, $"spent {spent} exceeds the budget {budget} by more than one request ({largest})");
        }
        finally
        {
            foreach (var g in replicas) await g.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_tpm_limit_holds_under_parallel_requests_without_max_tokens()
    {
        const long tpm = 3000;
        await using var g = await GatewayServer.StartAsync(Config);
        var key = await g.GenerateKeyAsync($$"""{"tpm_limit": {{tpm}}}""", Master);
        var used = new ConcurrentBag<long>();
        var refused = 0;
        var started = DateTime.UtcNow;
        await Task.WhenAll(Enumerable.Range(0, 30).Select(async i =>
        {
            using var r = await g.PostJsonAsync("/v1/chat/completions", Chat.Request("gpt-4o", extra: $",\"mock_response\":\"{LongAnswer}\""),
                configure: m => m.Headers.Authorization = new("Bearer", key));
            var text = await r.Content.ReadAsStringAsync();
            if (r.StatusCode == HttpStatusCode.OK) used.Add(JsonDocument.Parse(text).RootElement.GetProperty("usage").GetProperty("total_tokens").GetInt64());
            else if (r.StatusCode == HttpStatusCode.TooManyRequests) Interlocked.Increment(ref refused);
            else Assert.Fail($"unexpected {r.StatusCode}: {text}");
        }));
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(50), "the burst must fit in one window");
        output.WriteLine($"tpm {tpm}: {used.Count} served using {used.Sum()} tokens, {refused} refused");
        Assert.True(refused > 0);
        Assert.True(used.Sum() <= tpm + used.Max(), $"{used.Sum()} tokens in the window exceed tpm_limit {tpm} by more than one request ({used.Max()})");
    }

    [Fact]
    public async Task A_client_that_leaves_a_stream_early_is_charged_for_what_it_received()
    {
        await using var g = await GatewayServer.StartAsync($$"""
            master_key: {{Master}}
            models:
              - {name: gpt-4o, provider: mock, mock: {tokens_per_second: 50} }
            """);
        var (_, created) = await g.AdminAsync("/key/generate", "{}", Master);
        var key = created.GetProperty("key").GetString()!;
        var received = 0;
        using (var response = await g.PostJsonAsync("/v1/chat/completions", Chat.Request("gpt-4o", stream: true, extra: $",\"mock_response\":\"{LongAnswer}\""),
                   configure: m => m.Headers.Authorization = new("Bearer", key)))
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            while (received < 40 && await reader.ReadLineAsync() is { } line)
                if (line.StartsWith("data:", StringComparison.Ordinal)) received++;
        } // the client goes away with most of the answer still to come

        var token = created.GetProperty("token").GetString()!;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        JsonElement log = default;
        while (DateTime.UtcNow < deadline)
        {
            await g.FlushSpendAsync();
            var (_, logs) = await g.AdminAsync($"/spend/logs?api_key={token}", null, Master);
            if (logs.GetArrayLength() == 1) { log = logs[0]; break; }
            await Task.Delay(100);
        }
        Assert.Equal(JsonValueKind.Object, log.ValueKind);
        var charged = log.GetProperty("completion_tokens").GetInt64();
        output.WriteLine($"received {received} events, charged {charged} completion tokens");
        Assert.InRange(charged, received, 300);
        Assert.True(log.GetProperty("spend").GetDecimal() > 0);
    }

    private const string UnpricedConfig = $$"""
        master_key: {{Master}}
        models:
          - {name: house, provider: mock, model: house-model}
          - {name: cheap, provider: mock, model: gpt-4o-mini, mock: {fault: "status=500"} }
        router:
          num_retries: 0
          fallbacks: {cheap: [house]}
        """;

    [Fact]
    public async Task A_budgeted_caller_is_refused_on_a_model_without_a_price_and_others_are_not()
    {
        await using var g = await GatewayServer.StartAsync(UnpricedConfig);
        var budgeted = await g.GenerateKeyAsync("""{"max_budget": 5}""", Master);
        using (var refused = await g.ChatAsync(budgeted, "house"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            var error = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
            Assert.Equal("model_unpriced", error.GetProperty("code").GetString());
            Assert.Contains("house", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        // A team's budget binds its keys the same way.
        var (_, team) = await g.AdminAsync("/team/new", """{"max_budget": 5}""", Master);
        var member = await g.GenerateKeyAsync($$"""{"team_id": "{{team.GetProperty("team_id").GetString()}}"}""", Master);
        using (var refused = await g.ChatAsync(member, "house")) Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);

        // A budgeted caller is not moved onto an unpriced fallback either; an unbudgeted one is.
        using (var failed = await g.ChatAsync(budgeted, "cheap"))
        {
            Assert.NotEqual(HttpStatusCode.OK, failed.StatusCode);
            Assert.False(failed.Headers.Contains("x-agw-model-group"));
        }
        var free = await g.GenerateKeyAsync("{}", Master);
        using (var served = await g.ChatAsync(free, "house")) Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        using (var fellBack = await g.ChatAsync(free, "cheap")) Assert.Equal("house", fellBack.Headers.GetValues("x-agw-model-group").Single());
    }

    [Fact]
    public async Task The_operator_may_allow_unpriced_models_under_budgets()
    {
        await using var g = await GatewayServer.StartAsync(UnpricedConfig + "\nbudgets: {allow_unpriced_models: true}\n");
        var budgeted = await g.GenerateKeyAsync("""{"max_budget": 5}""", Master);
        using var served = await g.ChatAsync(budgeted, "house");
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
    }

    [Fact]
    public void Every_deployment_without_a_price_is_named_in_a_warning()
    {
        var result = ConfigLoader.Load(UnpricedConfig, "test.yaml", new Dictionary<string, string>());
        Assert.NotNull(result.Options);
        var warning = Assert.Single(result.Warnings, w => w.Contains("no price is known", StringComparison.Ordinal));
        Assert.Contains("'house-model'", warning, StringComparison.Ordinal);
        Assert.StartsWith("models[0]", warning, StringComparison.Ordinal);

        var litellm = ConfigLoader.Load("""
            model_list:
              - model_name: mine
                litellm_params: {model: openai/my-finetune, api_key: sk-x}
              - model_name: free
                litellm_params: {model: openai/local, api_key: sk-x, input_cost_per_token: 0, output_cost_per_token: 0}
            """, "litellm.yaml", new Dictionary<string, string>());
        Assert.Single(litellm.Warnings, w => w.Contains("no price is known for model 'my-finetune'", StringComparison.Ordinal));
        Assert.DoesNotContain(litellm.Warnings, w => w.Contains("'local'", StringComparison.Ordinal));
    }

    private static async Task<GatewayServer[]> StartReplicasAsync(int count)
    {
        var redis = await RedisInstance.SharedAsync();
        var shared = await Backends.StorageAsync("postgres", redis.Endpoint);
        // What is tested is sharing, not an outage: on a loaded machine a 500 ms call may time out and (fail-open) fall
        // back to local counters, which the replica tests cover on their own.
        Func<StorageOptions, StorageOptions> storage = s => shared!(s) with { RedisTimeout = TimeSpan.FromSeconds(10) };
        var replicas = new GatewayServer[count];
        for (var i = 0; i < count; i++) replicas[i] = await GatewayServer.StartAsync(Config, storage: storage);
        // The Redis connection comes up in the background: wait until each replica counts there.
        foreach (var g in replicas)
        {
            var redisConnection = g.Services.GetRequiredService<AgenticGateway.Limits.RedisConnection>();
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (!redisConnection.IsUp && DateTime.UtcNow < deadline) await Task.Delay(50);
            Assert.True(redisConnection.IsUp);
        }
        return replicas;
    }
}
