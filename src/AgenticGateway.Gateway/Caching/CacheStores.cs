using AgenticGateway.Configuration;
using AgenticGateway.Limits;

namespace AgenticGateway.Caching;

/// <summary>
/// The store the running configuration names, built once per cache backend: a reload that keeps the backend keeps
/// the store (and its entries); one that changes it (type, Redis, namespace, size) builds a new one. The Redis of
/// <c>storage</c>/<c>router_settings</c> is shared when the cache names the same one; another gets its own connection.
/// </summary>
internal sealed class CacheStores(TimeProvider time, ILoggerFactory loggers, RedisConnection? sharedRedis = null) : IDisposable
{
    /// <summary>The local cache's byte bound: entries are whole answers, so the entry count alone does not bound memory.</summary>
    internal const long LocalMaxBytes = 256L * 1024 * 1024;

    private sealed record Backend(string Type, string? RedisUrl, string? Namespace, int MaxLocalEntries);

    private sealed record Built(Backend Backend, ICacheStore Store, RedisConnection? Redis, bool OwnsRedis);

    private readonly Lock _gate = new();
    private volatile Built? _built;

    /// <summary>The store for <paramref name="options"/>; null when the cache is off.</summary>
    public ICacheStore? For(CacheOptions options) => options.Enabled ? BuiltFor(options).Store : null;

    /// <summary>The Redis the cache lives in, when it does (statistics are kept there too, so replicas agree).</summary>
    public RedisConnection? RedisFor(CacheOptions options) => options.Enabled ? BuiltFor(options).Redis : null;

    private Built BuiltFor(CacheOptions options)
    {
        var wanted = new Backend(options.Type == "local" ? "local" : "redis", options.Type == "local" ? null : options.RedisUrl, options.Namespace, options.MaxLocalEntries);
        var built = _built;
        if (built is not null && built.Backend == wanted) return built;
        lock (_gate)
        {
            built = _built;
            if (built is not null && built.Backend == wanted) return built;
            var next = Build(wanted);
            _built = next;
            // Requests that started on the old backend may still be using it; a disposed connection fails their calls
            // into misses, which is what a changed backend means anyway.
            if (built is { OwnsRedis: true, Redis: { } old }) old.Dispose();
            return next;
        }
    }

    private Built Build(Backend b)
    {
        if (b.Type == "local") return new Built(b, new LocalCacheStore(b.MaxLocalEntries, LocalMaxBytes, time), null, false);
        var url = b.RedisUrl!;
        var shared = sharedRedis is not null && SameRedis(sharedRedis, url);
        var redis = shared ? sharedRedis! : new RedisConnection(url, failOpen: true, TimeSpan.FromSeconds(1), loggers.CreateLogger<RedisConnection>());
        return new Built(b, new RedisCacheStore(redis, b.Namespace), redis, !shared);
    }

    private static bool SameRedis(RedisConnection connection, string url)
    {
        try { return RedisConnection.Parse(url).EndPoints.Count > 0 && RedisConnection.Parse(url).EndPoints[0].ToString() == connection.Endpoint; }
        catch (ArgumentException) { return false; }
    }

    public void Dispose()
    {
        if (_built is { OwnsRedis: true, Redis: { } redis }) redis.Dispose();
    }
}
