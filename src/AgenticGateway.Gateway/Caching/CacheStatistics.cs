using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using AgenticGateway.Runtime;
using StackExchange.Redis;

namespace AgenticGateway.Caching;

/// <summary>
/// Hits, misses and what hits saved, per model group. Counted in this process always; when the cache is in Redis
/// also there (fire-and-forget increments, so a hit never waits on them), and a snapshot reads Redis so every replica
/// reports the same figures. The metrics <c>agw_cache_requests_total{result,model_group}</c>,
/// <c>agw_cache_tokens_saved_total{direction,model_group}</c> and <c>agw_cache_cost_saved_usd_total{model_group}</c>
/// are this process's.
/// </summary>
internal sealed class CacheStatistics : ICacheStatistics
{
    private sealed class Counters
    {
        public long Hits, SemanticHits, Misses, PromptTokens, CompletionTokens, CostNanos;
    }

    private readonly ConcurrentDictionary<string, Counters> _local = new(StringComparer.Ordinal);
    private readonly CacheStores _stores;
    private readonly RuntimeHolder _runtimes;
    private readonly Counter<long> _requests;
    private readonly Counter<long> _tokensSaved;
    private readonly Counter<double> _costSaved;

    public CacheStatistics(CacheStores stores, RuntimeHolder runtimes, IMeterFactory meters)
    {
        _stores = stores;
        _runtimes = runtimes;
        var meter = meters.Create(Telemetry.TelemetryNames.Meter);
        _requests = meter.CreateCounter<long>("agw.cache.requests", "{request}", "Cache lookups by result (hit, semantic_hit, miss, bypass) and model group.");
        _tokensSaved = meter.CreateCounter<long>("agw.cache.tokens_saved", "{token}", "Tokens cache hits did not spend, by direction (input, output).");
        // The unit is in the name: the exporter only appends units for seconds.
        _costSaved = meter.CreateCounter<double>("agw.cache.cost_saved.usd", "USD", "What cache hits would have cost, in US dollars.");
    }

    public void Hit(string modelGroup, bool semantic, long promptTokens, long completionTokens, long costNanos)
    {
        var c = _local.GetOrAdd(modelGroup, static _ => new Counters());
        Interlocked.Increment(ref c.Hits);
        if (semantic) Interlocked.Increment(ref c.SemanticHits);
        Interlocked.Add(ref c.PromptTokens, promptTokens);
        Interlocked.Add(ref c.CompletionTokens, completionTokens);
        Interlocked.Add(ref c.CostNanos, costNanos);
        var model = new KeyValuePair<string, object?>("model_group", modelGroup);
        _requests.Add(1, new("result", semantic ? "semantic_hit" : "hit"), model);
        if (_tokensSaved.Enabled)
        {
            _tokensSaved.Add(promptTokens, new("direction", "input"), model);
            _tokensSaved.Add(completionTokens, new("direction", "output"), model);
        }
        _costSaved.Add(costNanos / 1e9, model);
        Shared(modelGroup, semantic ? [("hits", 1), ("semantic_hits", 1), ("prompt_tokens", promptTokens), ("completion_tokens", completionTokens), ("cost_nanos", costNanos)]
            : [("hits", 1), ("prompt_tokens", promptTokens), ("completion_tokens", completionTokens), ("cost_nanos", costNanos)]);
    }

    public void Miss(string modelGroup)
    {
        Interlocked.Increment(ref _local.GetOrAdd(modelGroup, static _ => new Counters()).Misses);
        _requests.Add(1, new("result", "miss"), new("model_group", modelGroup));
        Shared(modelGroup, [("misses", 1)]);
    }

    /// <summary>A request the cache let through untouched (no-cache, default_off without use-cache, a call type not cached).</summary>
    public void Bypass(string modelGroup) => _requests.Add(1, new("result", "bypass"), new("model_group", modelGroup));

    private void Shared(string modelGroup, (string Field, long By)[] increments)
    {
        if (StatsRedis() is not { } r) return;
        try
        {
            var batch = r.Redis.Database.CreateBatch();
            var hash = r.Prefix + "stats:" + modelGroup;
            foreach (var (field, by) in increments)
                if (by != 0) _ = batch.HashIncrementAsync(hash, field, by, CommandFlags.FireAndForget);
            _ = batch.SetAddAsync(r.Prefix + "stats:models", modelGroup, CommandFlags.FireAndForget);
            batch.Execute();
        }
        catch (Exception ex) when (RedisCacheStore.IsRedisFailure(ex)) { r.Redis.MarkDown(ex); }
    }

    private (Limits.RedisConnection Redis, string Prefix)? StatsRedis()
    {
        var options = _runtimes.Current.Options.Cache;
        if (_stores.RedisFor(options) is not { IsUp: true } redis) return null;
        return (redis, "agw:cache:" + (options.Namespace is { Length: > 0 } ns ? ns + ":" : ""));
    }

    public async ValueTask<CacheStatsSnapshot> SnapshotAsync(CancellationToken ct)
    {
        if (StatsRedis() is { } r)
        {
            try { return await SharedSnapshotAsync(r.Redis, r.Prefix, ct); }
            catch (Exception ex) when (RedisCacheStore.IsRedisFailure(ex)) { r.Redis.MarkDown(ex); }
        }
        var byModel = _local.ToDictionary(kv => kv.Key, kv => Snap(kv.Value), StringComparer.Ordinal);
        return Total(byModel);
    }

    private static async Task<CacheStatsSnapshot> SharedSnapshotAsync(Limits.RedisConnection redis, string prefix, CancellationToken ct)
    {
        var db = redis.Database;
        var models = await db.SetMembersAsync(prefix + "stats:models").WaitAsync(redis.CallTimeout, ct);
        var byModel = new Dictionary<string, CacheStatsSnapshot>(StringComparer.Ordinal);
        foreach (var m in models)
        {
            var fields = await db.HashGetAllAsync(prefix + "stats:" + m).WaitAsync(redis.CallTimeout, ct);
            long Get(string name) => fields.FirstOrDefault(f => f.Name == name).Value is { IsNull: false } v ? (long)v : 0;
            byModel[(string)m!] = new CacheStatsSnapshot(Get("hits"), Get("semantic_hits"), Get("misses"), Get("prompt_tokens"), Get("completion_tokens"), Get("cost_nanos"));
        }
        return Total(byModel);
    }

    private static CacheStatsSnapshot Snap(Counters c) => new(Volatile.Read(ref c.Hits), Volatile.Read(ref c.SemanticHits), Volatile.Read(ref c.Misses),
        Volatile.Read(ref c.PromptTokens), Volatile.Read(ref c.CompletionTokens), Volatile.Read(ref c.CostNanos));

    private static CacheStatsSnapshot Total(Dictionary<string, CacheStatsSnapshot> byModel) => new(
        byModel.Values.Sum(s => s.Hits), byModel.Values.Sum(s => s.SemanticHits), byModel.Values.Sum(s => s.Misses),
        byModel.Values.Sum(s => s.PromptTokensSaved), byModel.Values.Sum(s => s.CompletionTokensSaved), byModel.Values.Sum(s => s.CostNanosSaved), byModel);
}
