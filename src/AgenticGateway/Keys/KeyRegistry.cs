using System.Collections.Concurrent;

namespace AgenticGateway.Keys;

/// <summary>A virtual key with the user and team it belongs to (when they exist): everything its limits come from.</summary>
internal sealed record KeyIdentity(VirtualKey Key, User? User, Team? Team);

/// <summary>
/// Virtual keys for the request path: a cache in front of the stores, so authenticating a request does not touch the
/// database. Writes through this node invalidate at once; entries expire after a short time so changes made by other
/// replicas are seen too.
/// </summary>
internal sealed class KeyRegistry(IKeyStore store, IdentityStore identities, TimeProvider time)
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(10);
    private const int MaxCached = 100_000;
    private readonly ConcurrentDictionary<string, (KeyIdentity? Identity, long Expires)> _cache = new(StringComparer.Ordinal);

    /// <summary>The key with this token (the secret's SHA-256, hex), or null. Unknown tokens are cached briefly too (bounded).</summary>
    public async ValueTask<KeyIdentity?> FindByTokenAsync(string token, CancellationToken cancellationToken)
    {
        var now = time.GetTimestamp();
        if (_cache.TryGetValue(token, out var hit) && hit.Expires > now) return hit.Identity;
        var key = await store.FindAsync(token, cancellationToken);
        KeyIdentity? identity = null;
        if (key is not null)
        {
            var user = key.UserId is { } u ? await identities.FindUserAsync(u, cancellationToken) : null;
            var team = key.TeamId is { } t ? await identities.FindTeamAsync(t, cancellationToken) : null;
            identity = new KeyIdentity(key, user, team);
        }
        if (_cache.Count >= MaxCached) _cache.Clear();
        _cache[token] = (identity, now + (long)(Ttl.TotalSeconds * time.TimestampFrequency));
        return identity;
    }

    public void Invalidate(string token) => _cache.TryRemove(token, out _);

    /// <summary>After a team or user changes, every cached key may carry stale limits.</summary>
    public void InvalidateAll() => _cache.Clear();
}
