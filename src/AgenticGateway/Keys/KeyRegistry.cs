using System.Collections.Concurrent;

namespace AgenticGateway.Keys;

/// <summary>A virtual key with the user and team it belongs to (when they exist): everything its limits come from.</summary>
internal sealed record KeyIdentity(VirtualKey Key, User? User, Team? Team);

/// <summary>
/// Identities for the request path: a cache in front of the stores, so authenticating a request does not touch the
/// database. Concurrent misses for one identity share a single lookup. Writes through this node invalidate at once;
/// entries expire after a short time so changes made by other replicas are seen too.
/// </summary>
internal sealed class KeyRegistry(IKeyStore store, IIdentityStore identities, TimeProvider time)
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(10);
    private const int MaxCached = 100_000;
    private readonly ConcurrentDictionary<string, (Task<KeyIdentity?> Lookup, long Expires)> _cache = new(StringComparer.Ordinal);

    /// <summary>The key with this token (the secret's SHA-256, hex), or null. Unknown tokens are cached briefly too (bounded).</summary>
    public ValueTask<KeyIdentity?> FindByTokenAsync(string token, CancellationToken cancellationToken) =>
        GetAsync(token, async ct =>
        {
            var key = await store.FindAsync(token, ct);
            return key is null ? null : await WithOwnersAsync(key, ct);
        }, cancellationToken);

    /// <summary>The key name of a JWT caller's stand-in key.</summary>
    public const string JwtKeyName = "jwt";

    /// <summary>
    /// The identity a JWT's claims name: a key-shaped stand-in bound by that user's and team's records (either may be
    /// missing from the store: the caller decides whether that is allowed). <paramref name="principal"/> names the
    /// stand-in (spend logs, sandbox ownership): the user, else the team, else the token's subject.
    /// </summary>
    public ValueTask<KeyIdentity?> FindForClaimsAsync(string? user, string? team, string principal, CancellationToken cancellationToken) =>
        GetAsync($"jwt\n{user}\n{team}\n{principal}", async ct =>
        {
            var userRecord = user is null ? null : await identities.FindUserAsync(user, ct);
            var teamRecord = team is null ? null : await identities.FindTeamAsync(team, ct);
            var key = new VirtualKey
            {
                Token = "jwt:" + principal, KeyName = JwtKeyName, KeyAlias = "jwt:" + principal, UserId = user, TeamId = teamRecord?.TeamId,
                CreatedAt = userRecord?.CreatedAt ?? DateTimeOffset.UnixEpoch, UpdatedAt = DateTimeOffset.UnixEpoch,
            };
            return new KeyIdentity(key, userRecord, teamRecord);
        }, cancellationToken);

    /// <summary>Creates a user a JWT names on its first request (LiteLLM's user_id_upsert): no limits, every model.</summary>
    public async Task CreateUserAsync(string userId, string? email, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        try { await identities.SaveUserAsync(new User { UserId = userId, UserEmail = email, CreatedAt = now, UpdatedAt = now }, insert: true, ct); }
        catch (System.Data.Common.DbException)
        {
            // Another request (or replica) created it first; anything else is the store's failure.
            if (await identities.FindUserAsync(userId, ct) is null) throw;
        }
        InvalidateAll();
    }

    /// <summary>Creates a team a JWT names on its first request (LiteLLM's team_id_upsert): no limits, every model.</summary>
    public async Task CreateTeamAsync(string teamId, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        try { await identities.SaveTeamAsync(new Team { TeamId = teamId, CreatedAt = now, UpdatedAt = now }, insert: true, ct); }
        catch (System.Data.Common.DbException)
        {
            if (await identities.FindTeamAsync(teamId, ct) is null) throw;
        }
        InvalidateAll();
    }

    private async Task<KeyIdentity> WithOwnersAsync(VirtualKey key, CancellationToken ct)
    {
        var user = key.UserId is { } u ? await identities.FindUserAsync(u, ct) : null;
        var team = key.TeamId is { } t ? await identities.FindTeamAsync(t, ct) : null;
        return new KeyIdentity(key, user, team);
    }

    private async ValueTask<KeyIdentity?> GetAsync(string cacheKey, Func<CancellationToken, Task<KeyIdentity?>> load, CancellationToken cancellationToken)
    {
        var now = time.GetTimestamp();
        if (_cache.TryGetValue(cacheKey, out var hit) && hit.Expires > now && !hit.Lookup.IsFaulted && !hit.Lookup.IsCanceled)
            return await hit.Lookup.WaitAsync(cancellationToken);
        if (_cache.Count >= MaxCached) _cache.Clear();
        // Not tied to one caller's cancellation: others may be waiting on the same lookup.
        var entry = (load(CancellationToken.None), now + (long)(Ttl.TotalSeconds * time.TimestampFrequency));
        entry = _cache.AddOrUpdate(cacheKey, entry, (_, old) => old.Expires > now && !old.Lookup.IsFaulted ? old : entry);
        try
        {
            return await entry.Item1.WaitAsync(cancellationToken);
        }
        catch (Exception) when (entry.Item1.IsFaulted)
        {
            // A failed lookup (database down) is not cached.
            _cache.TryRemove(KeyValuePair.Create(cacheKey, entry));
            throw;
        }
    }

    public void Invalidate(string token) => _cache.TryRemove(token, out _);

    /// <summary>After a team or user changes, every cached identity may carry stale limits.</summary>
    public void InvalidateAll() => _cache.Clear();
}
