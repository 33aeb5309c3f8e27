using System.Collections.Concurrent;

namespace AgenticGateway.Keys;

/// <summary>
/// Virtual keys for the request path: a cache in front of the store, so authenticating a request does not touch the
/// database. Writes through this node invalidate at once; entries expire after a short time so changes made by other
/// replicas are seen too.
/// </summary>
internal sealed class KeyRegistry(IKeyStore store, TimeProvider time)
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(10);
    private const int MaxCached = 100_000;
    private readonly ConcurrentDictionary<string, (VirtualKey? Key, long Expires)> _cache = new(StringComparer.Ordinal);

    /// <summary>The key with this token (the secret's SHA-256, hex), or null. Unknown tokens are cached briefly too (bounded).</summary>
    public async ValueTask<VirtualKey?> FindByTokenAsync(string token, CancellationToken cancellationToken)
    {
        var now = time.GetTimestamp();
        if (_cache.TryGetValue(token, out var hit) && hit.Expires > now) return hit.Key;
        var key = await store.FindAsync(token, cancellationToken);
        if (_cache.Count >= MaxCached) _cache.Clear();
        _cache[token] = (key, now + (long)(Ttl.TotalSeconds * time.TimestampFrequency));
        return key;
    }

    public void Invalidate(string token) => _cache.TryRemove(token, out _);
}
