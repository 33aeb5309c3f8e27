using System.Net;
using AgenticGateway.Caching;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Caching;

/// <summary>
/// The cache in a real Redis: two gateway replicas share entries (an answer made on one is served by the other),
/// invalidation by model and user and flush work on the shared entries, statistics agree across replicas, and a Redis
/// that goes away turns the cache into a bypass, never an error.
/// </summary>
[Trait("Category", "integration")]
public sealed class RedisCacheTests : IAsyncLifetime
{
    private const string Master = "sk-master-key-for-redis-cache-tests";
    private EmulatorServer _upstream = null!;

    public async Task InitializeAsync() => _upstream = await EmulatorServer.StartAsync();

    public async Task DisposeAsync() => await _upstream.DisposeAsync();

    private string Config(string redis, string ns) => $"""
        master_key: {Master}
        router: {"{"}num_retries: 0{"}"}
        models:
          - {"{"}name: gpt-4o, provider: openai, api_base: "{_upstream.ApiBase}", api_key: k{"}"}
        cache:
          type: redis
          url: "redis://{redis}"
          namespace: {ns}
          partition: global
        """;

    private static async Task<(HttpStatusCode Status, string Body, string? Cache, string? Key)> SendAsync(GatewayServer g, string content)
    {
        using var r = await g.PostJsonAsync("/v1/chat/completions", Chat.Request("gpt-4o", false, content), configure: m => m.Headers.Authorization = new("Bearer", Master));
        var body = await r.Content.ReadAsStringAsync();
        return (r.StatusCode, body, r.Headers.TryGetValues("x-agw-cache", out var v) ? v.Single() : null,
            r.Headers.TryGetValues("x-litellm-cache-key", out var k) ? k.Single() : null);
    }

    private static ICacheStore StoreOf(GatewayServer g) =>
        g.Services.GetRequiredService<CacheStores>().For(g.Services.GetRequiredService<AgenticGateway.Runtime.RuntimeHolder>().Current.Options.Cache)!;

    /// <summary>The cache's own Redis connection is made in the background at start: waits for it.</summary>
    private static async Task ConnectedAsync(GatewayServer g)
    {
        var redis = g.Services.GetRequiredService<CacheStores>().RedisFor(g.Services.GetRequiredService<AgenticGateway.Runtime.RuntimeHolder>().Current.Options.Cache)!;
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!redis.IsUp && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.True(redis.IsUp, "the cache's Redis was not connected within 20 s");
    }

    /// <summary>Stores in Redis go through a background queue: waits until the entry is there.</summary>
    private static async Task StoredAsync(GatewayServer g, string key)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (await StoreOf(g).GetAsync(key, default) is null)
        {
            Assert.True(DateTime.UtcNow < deadline, "the entry was not stored within 10 s");
            await Task.Delay(20);
        }
    }


    [Fact]
    public async Task Two_replicas_share_entries_invalidation_and_statistics_through_Redis()
    {
        var redis = await RedisInstance.SharedAsync();
        var ns = "t" + Guid.NewGuid().ToString("N")[..8];
        await using var a = await GatewayServer.StartAsync(Config(redis.Endpoint, ns));
        await using var b = await GatewayServer.StartAsync(Config(redis.Endpoint, ns));
        await ConnectedAsync(a);
        await ConnectedAsync(b);

        var made = await SendAsync(a, "shared question");
        Assert.Equal("miss", made.Cache);
        await StoredAsync(a, made.Key!);
        var served = await SendAsync(b, "shared question");
        Assert.Equal("hit", served.Cache);
        Assert.Equal(made.Body, served.Body);

        var statsA = await a.Services.GetRequiredService<ICacheStatistics>().SnapshotAsync(default);
        var statsB = await b.Services.GetRequiredService<ICacheStatistics>().SnapshotAsync(default);
        Assert.Equal(statsA, statsB with { ByModel = statsA.ByModel });
        Assert.True(statsA.Hits >= 1 && statsA.Misses >= 1);

        // Invalidating the model group on one replica removes the entry for both.
        var store = StoreOf(a);
        Assert.True(await store.InvalidateModelAsync("gpt-4o", default) >= 1);
        var remade = await SendAsync(b, "shared question");
        Assert.Equal("miss", remade.Cache);
        await StoredAsync(b, remade.Key!);
        Assert.Equal("hit", (await SendAsync(a, "shared question")).Cache);
        await store.FlushAllAsync(default);
        Assert.Equal("miss", (await SendAsync(a, "shared question")).Cache);
    }

    [Fact]
    public async Task A_Redis_that_goes_away_makes_the_cache_a_bypass_not_an_error()
    {
        var redis = await RedisInstance.StartAsync();
        try
        {
            await using var g = await GatewayServer.StartAsync(Config(redis.Endpoint, "down"));
            await ConnectedAsync(g);
            var first = await SendAsync(g, "q");
            Assert.Equal("miss", first.Cache);
            await StoredAsync(g, first.Key!);
            Assert.Equal("hit", (await SendAsync(g, "q")).Cache);

            await redis.StopAsync();
            var during = await SendAsync(g, "q");
            Assert.Equal(HttpStatusCode.OK, during.Status);
            Assert.Equal("miss", during.Cache);
            var again = await SendAsync(g, "q");
            Assert.Equal(HttpStatusCode.OK, again.Status);
        }
        finally
        {
            await redis.DisposeAsync();
        }
    }
}
