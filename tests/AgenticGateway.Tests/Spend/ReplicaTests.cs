using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using AgenticGateway.Tests.Support;
using Xunit.Abstractions;

namespace AgenticGateway.Tests.Spend;

/// <summary>
/// Three gateway replicas sharing one Redis and one PostgreSQL: limits and budgets are global, not per replica; and
/// when Redis goes away the gateway keeps serving on local limits (fail-open) or refuses (fail-closed), and says so.
/// </summary>
[Trait("Category", "integration")]
public class ReplicaTests(ITestOutputHelper output)
{
    private const string Master = "sk-master-key-for-replica-tests";

    private static readonly string Config = $"""
        master_key: {Master}
        models:
          - {"{"}name: gpt-4o, provider: mock{"}"}
        """;

    private static async Task<GatewayServer[]> StartReplicasAsync(int count, string redis)
    {
        // One database and one Redis for all of them.
        var shared = await Backends.StorageAsync("postgres", redis);
        // These tests are about sharing, not outages: a generous call timeout keeps a loaded machine's slow first
        // calls from falling back to local counters (the outage test below uses the default).
        Func<AgenticGateway.Configuration.StorageOptions, AgenticGateway.Configuration.StorageOptions> storage = s => shared!(s) with { RedisTimeout = TimeSpan.FromSeconds(10) };
        var replicas = new GatewayServer[count];
        for (var i = 0; i < count; i++) replicas[i] = await GatewayServer.StartAsync(Config, storage: storage);
        return replicas;
    }

    private static async Task<HttpStatusCode> ChatAsync(GatewayServer g, string key)
    {
        using var r = await g.ChatAsync(key);
        await r.Content.ReadAsByteArrayAsync();
        return r.StatusCode;
    }

    [Fact]
    public async Task An_rpm_limit_of_60_admits_60_in_total_across_three_replicas()
    {
        var redis = await RedisInstance.SharedAsync();
        var replicas = await StartReplicasAsync(3, redis.Endpoint);
        try
        {
            var key = await replicas[0].GenerateKeyAsync("""{"rpm_limit": 60}""", Master);

            // 240 requests, 12 at a time, spread over the three replicas: far more than a minute's allowance.
            var statuses = new ConcurrentBag<HttpStatusCode>();
            var next = -1;
            var started = DateTime.UtcNow;
            await Task.WhenAll(Enumerable.Range(0, 12).Select(async _ =>
            {
                int n;
                while ((n = Interlocked.Increment(ref next)) < 240) statuses.Add(await ChatAsync(replicas[n % 3], key));
            }));
            var elapsed = DateTime.UtcNow - started;
            var admitted = statuses.Count(s => s == HttpStatusCode.OK);
            var refused = statuses.Count(s => s == HttpStatusCode.TooManyRequests);
            output.WriteLine($"admitted {admitted}, refused {refused}, overshoot {admitted - 60}, in {elapsed.TotalSeconds:F1}s");
            Assert.Equal(240, admitted + refused);
            Assert.True(elapsed < TimeSpan.FromSeconds(55), "the burst must fit in one window for the count to be exact");
            Assert.Equal(60, admitted);
        }
        finally
        {
            foreach (var r in replicas) await r.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_budget_is_never_exceeded_by_more_than_one_request_across_replicas()
    {
        var redis = await RedisInstance.SharedAsync();
        var replicas = await StartReplicasAsync(3, redis.Endpoint);
        const decimal budget = 0.003m;
        const int concurrency = 6;
        try
        {
            var (_, created) = await replicas[0].AdminAsync("/key/generate", $$"""{"max_budget": {{budget}}}""", Master);
            var key = created.GetProperty("key").GetString()!;
            var token = created.GetProperty("token").GetString()!;

            var costs = new ConcurrentBag<decimal>();
            var refused = 0;
            var n = -1;
            await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
            {
                while (Volatile.Read(ref refused) == 0 && Interlocked.Increment(ref n) < 2000)
                {
                    using var r = await replicas[n % 3].ChatAsync(key);
                    await r.Content.ReadAsByteArrayAsync();
                    if (r.StatusCode == HttpStatusCode.OK) costs.Add(decimal.Parse(r.Headers.GetValues("x-agw-response-cost").Single(), System.Globalization.CultureInfo.InvariantCulture));
                    else if (r.StatusCode == HttpStatusCode.BadRequest) Interlocked.Increment(ref refused);
                    // What is left is held by requests in flight on some replica: an SDK retries.
                    else if (r.StatusCode != HttpStatusCode.TooManyRequests) Assert.Fail($"unexpected {r.StatusCode}");
                }
            }));
            Assert.True(refused > 0, "the budget must run out");
            foreach (var r in replicas) await r.FlushSpendAsync();
            var (_, logs) = await replicas[1].AdminAsync($"/spend/logs?api_key={token}&limit=10000", null, Master);
            var logged = logs.EnumerateArray().Sum(l => l.GetProperty("spend").GetDecimal());
            var spent = costs.Sum();
            var largest = costs.Max();
            output.WriteLine($"budget {budget}, spent {spent} in {costs.Count} requests, overshoot {spent - budget} (at most one request: {largest})");
            Assert.Equal(spent, logged);
            Assert.True(spent <= budget + largest, $"spent {spent} exceeds the budget {budget} by more than one request ({largest})");
        }
        finally
        {
            foreach (var r in replicas) await r.DisposeAsync();
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task When_Redis_goes_away_the_gateway_fails_open_or_closed_as_configured_and_recovers(bool failOpen)
    {
        await using var redis = await RedisInstance.StartAsync();
        await using var g = await GatewayServer.StartAsync(Config, storage: s => s with { RedisUrl = new AgenticGateway.Configuration.Secret(redis.Endpoint), RedisFailOpen = failOpen });
        var key = await g.GenerateKeyAsync("""{"rpm_limit": 1000}""", Master);
        // The connection to Redis is made in the background at start; until it is up a fail-closed gateway refuses.
        var connected = DateTime.UtcNow.AddSeconds(20);
        while ((await HealthAsync(g)).GetProperty("redis").GetProperty("status").GetString() != "up" && DateTime.UtcNow < connected) await Task.Delay(100);
        Assert.Equal("up", (await HealthAsync(g)).GetProperty("redis").GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.OK, await ChatAsync(g, key));

        await redis.StopAsync();
        var during = await ChatAsync(g, key);
        Assert.Equal(failOpen ? HttpStatusCode.OK : HttpStatusCode.ServiceUnavailable, during);
        var health = await HealthAsync(g);
        Assert.Equal("down", health.GetProperty("redis").GetProperty("status").GetString());
        Assert.Equal("degraded", health.GetProperty("status").GetString());
        Assert.Contains("gateway_redis_up 0", await g.Client.GetStringAsync("/metrics"), StringComparison.Ordinal);
        // A caller without limits is never affected.
        using (var master = await g.ChatAsync(Master))
            Assert.Equal(HttpStatusCode.OK, master.StatusCode);

        await redis.RestartAsync();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while ((await HealthAsync(g)).GetProperty("redis").GetProperty("status").GetString() != "up" && DateTime.UtcNow < deadline) await Task.Delay(200);
        Assert.Equal("up", (await HealthAsync(g)).GetProperty("redis").GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.OK, await ChatAsync(g, key));
    }

    /// <summary>/health's details, which need the master key.</summary>
    private static async Task<JsonElement> HealthAsync(GatewayServer g) => (await g.AdminAsync("/health", null, Master)).Body;
}
