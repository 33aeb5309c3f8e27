using System.Collections.Concurrent;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Internal;

namespace AgenticGateway.Keys;

/// <summary>
/// A virtual key with the user and team it belongs to (when they exist), the user's budget in that team, the team's
/// organization: everything its limits come from (the global proxy budget is the runtime's, see Budgets).
/// </summary>
internal sealed record KeyIdentity(VirtualKey Key, User? User, Team? Team, TeamMembership? Membership = null, Organization? Organization = null,
    OrganizationMember? OrganizationMembership = null);

/// <summary>
/// Identities for the request path: a <see cref="MemoryCache"/> in front of the stores, so authenticating a request
/// does not touch the database. Concurrent misses for one identity share a single lookup; a failed lookup is not
/// cached. Writes through this node invalidate at once; entries expire after a short time so changes made by other
/// replicas are seen too.
/// </summary>
internal sealed class KeyRegistry(IKeyStore store, IIdentityStore identities, TimeProvider time) : IDisposable
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(10);
    /// <summary>Entries held at most (each counts 1): past it the cache refuses new ones and compacts, expired first.</summary>
    internal const int MaxCached = 100_000;

    private readonly IKeyStore _store = store;
    private readonly IIdentityStore _identities = identities;
    private readonly MemoryCache _cache = new(new MemoryCacheOptions { SizeLimit = MaxCached, Clock = new Clock(time) });
    /// <summary>Lookups under way, by cache key: what concurrent misses share. An entry leaves when its lookup ends.</summary>
    private readonly ConcurrentDictionary<string, TaskCompletionSource<KeyIdentity?>> _inFlight = new(StringComparer.Ordinal);

    /// <summary>The key with this token (the secret's SHA-256, hex), or null. Unknown tokens are cached briefly too (bounded).</summary>
    public ValueTask<KeyIdentity?> FindByTokenAsync(string token, CancellationToken cancellationToken) =>
        GetAsync(token, token, static async (registry, token, ct) =>
        {
            var key = await registry._store.FindAsync(token, ct);
            return key is null ? null : await registry.WithOwnersAsync(key, ct);
        }, cancellationToken);

    /// <summary>The key name of a JWT caller's stand-in key.</summary>
    public const string JwtKeyName = "jwt";

    /// <summary>
    /// The identity a JWT's claims name: a key-shaped stand-in bound by that user's and team's records (either may be
    /// missing from the store: the caller decides whether that is allowed). <paramref name="principal"/> names the
    /// stand-in (spend logs, sandbox ownership): the user, else the team, else the token's subject.
    /// </summary>
    public ValueTask<KeyIdentity?> FindForClaimsAsync(string? user, string? team, string principal, CancellationToken cancellationToken) =>
        GetAsync($"jwt\n{user}\n{team}\n{principal}", (user, team, principal), static async (registry, claims, ct) =>
        {
            var (user, team, principal) = claims;
            var userRecord = user is null ? null : await registry._identities.FindUserAsync(user, ct);
            var teamRecord = team is null ? null : await registry._identities.FindTeamAsync(team, ct);
            var organization = teamRecord?.OrganizationId is { } o ? await registry._identities.FindOrganizationAsync(o, ct) : null;
            var key = new VirtualKey
            {
                Token = "jwt:" + principal, KeyName = JwtKeyName, KeyAlias = "jwt:" + principal, UserId = user, TeamId = teamRecord?.TeamId,
                CreatedAt = userRecord?.CreatedAt ?? DateTimeOffset.UnixEpoch, UpdatedAt = DateTimeOffset.UnixEpoch,
            };
            var membership = teamRecord is not null && user is not null ? await registry._identities.FindTeamMembershipAsync(teamRecord.TeamId, user, ct) : null;
            var orgMembership = organization is not null && user is not null
                ? (await registry._identities.ListOrganizationMembersAsync(organization.OrganizationId, user, ct)).FirstOrDefault()
                : null;
            return new KeyIdentity(key, userRecord, teamRecord, membership, organization, orgMembership);
        }, cancellationToken);

    /// <summary>Creates a user a JWT names on its first request (LiteLLM's user_id_upsert): no limits, every model.</summary>
    public async Task CreateUserAsync(string userId, string? email, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        try { await _identities.SaveUserAsync(new User { UserId = userId, UserEmail = email, CreatedAt = now, UpdatedAt = now }, insert: true, ct); }
        catch (System.Data.Common.DbException)
        {
            // Another request (or replica) created it first; anything else is the store's failure.
            if (await _identities.FindUserAsync(userId, ct) is null) throw;
        }
        InvalidateAll();
    }

    /// <summary>Creates a team a JWT names on its first request (LiteLLM's team_id_upsert): no limits, every model.</summary>
    public async Task CreateTeamAsync(string teamId, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        try { await _identities.SaveTeamAsync(new Team { TeamId = teamId, CreatedAt = now, UpdatedAt = now }, insert: true, ct); }
        catch (System.Data.Common.DbException)
        {
            if (await _identities.FindTeamAsync(teamId, ct) is null) throw;
        }
        InvalidateAll();
    }

    private async Task<KeyIdentity> WithOwnersAsync(VirtualKey key, CancellationToken ct)
    {
        var user = key.UserId is { } u ? await _identities.FindUserAsync(u, ct) : null;
        var team = key.TeamId is { } t ? await _identities.FindTeamAsync(t, ct) : null;
        var membership = team is not null && key.UserId is { } member ? await _identities.FindTeamMembershipAsync(team.TeamId, member, ct) : null;
        var organization = team?.OrganizationId is { } o ? await _identities.FindOrganizationAsync(o, ct) : null;
        var orgMembership = organization is not null && key.UserId is { } orgMember
            ? (await _identities.ListOrganizationMembersAsync(organization.OrganizationId, orgMember, ct)).FirstOrDefault()
            : null;
        return new KeyIdentity(key, user, team, membership, organization, orgMembership);
    }

    /// <summary>The cached identity, or the (shared) lookup's. The loader is static and gets its state passed: a hit allocates nothing.</summary>
    private ValueTask<KeyIdentity?> GetAsync<TState>(string cacheKey, TState state, Func<KeyRegistry, TState, CancellationToken, Task<KeyIdentity?>> load,
        CancellationToken cancellationToken)
    {
        // Unknown tokens are cached too, as null.
        if (_cache.TryGetValue(cacheKey, out var cached)) return new ValueTask<KeyIdentity?>((KeyIdentity?)cached);
        var mine = new TaskCompletionSource<KeyIdentity?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var shared = _inFlight.GetOrAdd(cacheKey, mine);
        if (shared == mine) _ = LoadAsync(cacheKey, mine, state, load);
        // Not tied to one caller's cancellation: others may be waiting on the same lookup.
        return new ValueTask<KeyIdentity?>(shared.Task.WaitAsync(cancellationToken));
    }

    private async Task LoadAsync<TState>(string cacheKey, TaskCompletionSource<KeyIdentity?> lookup, TState state, Func<KeyRegistry, TState, CancellationToken, Task<KeyIdentity?>> load)
    {
        KeyIdentity? identity;
        try { identity = await load(this, state, CancellationToken.None); }
        catch (Exception ex)
        {
            // A failed lookup (database down) is not cached: the next request tries again.
            _inFlight.TryRemove(KeyValuePair.Create(cacheKey, lookup));
            lookup.SetException(ex);
            return;
        }
        using (var entry = _cache.CreateEntry(cacheKey))
        {
            entry.Value = identity;
            entry.Size = 1;
            entry.AbsoluteExpirationRelativeToNow = Ttl;
        }
        // Invalidated while it ran: what it read may predate the write, so it is not kept.
        if (!_inFlight.TryRemove(KeyValuePair.Create(cacheKey, lookup))) _cache.Remove(cacheKey);
        lookup.SetResult(identity);
    }

    /// <summary>Entries held now (for tests of the bound).</summary>
    internal int CachedCount => _cache.Count;

    public void Invalidate(string token)
    {
        _inFlight.TryRemove(token, out _);
        _cache.Remove(token);
    }

    /// <summary>After a team or user changes, every cached identity may carry stale limits.</summary>
    public void InvalidateAll()
    {
        _inFlight.Clear();
        _cache.Clear();
    }

    public void Dispose() => _cache.Dispose();

    /// <summary>The cache reads time from the gateway's <see cref="TimeProvider"/> (a fake one in tests).</summary>
    private sealed class Clock(TimeProvider time) : ISystemClock
    {
        public DateTimeOffset UtcNow => time.GetUtcNow();
    }
}
