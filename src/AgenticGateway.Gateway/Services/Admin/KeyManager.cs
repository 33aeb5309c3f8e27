using System.Text.Json;
using AgenticGateway.OpenAi;
using AgenticGateway.Runtime;
using AgenticGateway.Keys;

namespace AgenticGateway.Services.Admin;

/// <summary>The key management operations behind <see cref="KeyEndpoints"/>, in LiteLLM's request and response shapes.</summary>
internal sealed class KeyManager(IKeyStore store, IIdentityStore identities, KeyRegistry registry, AuditLog audit, TimeProvider time)
{
    public async Task<KeyResult> GenerateAsync(KeyRequest r, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var secret = r.String("key") ?? VirtualKey.NewSecret();
        if (InvalidSecret(secret, "key") is { } badSecret) return KeyResult.Fail(badSecret);
        var key = Apply(r, new VirtualKey { Token = VirtualKey.HashOf(secret), KeyName = VirtualKey.Mask(secret), CreatedAt = now, UpdatedAt = now }, now);
        if (r.Error is { } error) return KeyResult.Fail(error);
        if (await UnknownOwnerAsync(key, null, ct) is { } owner) return KeyResult.Fail(owner);
        if (await AliasTakenAsync(key.KeyAlias, null, ct) is { } taken) return KeyResult.Fail(taken);
        if (await store.FindAsync(key.Token, ct) is not null)
            return KeyResult.Fail(ApiError.BadRequest("That key already exists.", "key", "duplicate_key"));
        await store.InsertAsync(key, ct);
        registry.Invalidate(key.Token);
        await audit.RecordAsync(r.Actor, "key.create", "key", key.Token, null, KeyJson(key), ct);
        // The secret is returned this once and never stored.
        return KeyResult.Ok(w => WriteKey(w, key, secret));
    }

    /// <summary>The key /user/new makes for a new user (LiteLLM's auto_create_key).</summary>
    public async Task<(VirtualKey Key, string Secret)> CreateForUserAsync(string userId, IReadOnlyList<string> models, string actor, CancellationToken ct, string? teamId = null,
        IReadOnlyDictionary<string, string>? aliases = null)
    {
        var now = time.GetUtcNow();
        var secret = VirtualKey.NewSecret();
        var key = new VirtualKey
        {
            Token = VirtualKey.HashOf(secret), KeyName = VirtualKey.Mask(secret), UserId = userId, TeamId = teamId, Models = models,
            Aliases = aliases ?? EmptyAliases.Instance, CreatedAt = now, UpdatedAt = now,
        };
        await store.InsertAsync(key, ct);
        await audit.RecordAsync(actor, "key.create", "key", key.Token, null, KeyJson(key), ct);
        return (key, secret);
    }

    public async Task<KeyResult> UpdateAsync(KeyRequest r, CancellationToken ct)
    {
        var (key, error) = await FindAsync(r, ct);
        if (key is null) return KeyResult.Fail(error!);
        var now = time.GetUtcNow();
        var updated = Apply(r, key, now) with { UpdatedAt = now };
        if (r.Error is { } invalid) return KeyResult.Fail(invalid);
        if (await UnknownOwnerAsync(updated, key, ct) is { } owner) return KeyResult.Fail(owner);
        if (await AliasTakenAsync(updated.KeyAlias, key.KeyAlias, ct) is { } taken) return KeyResult.Fail(taken);
        await store.UpdateAsync(updated, ct);
        registry.Invalidate(updated.Token);
        await audit.RecordAsync(r.Actor, "key.update", "key", key.Token, KeyJson(key), KeyJson(updated), ct);
        return KeyResult.Ok(w => WriteKey(w, updated, null));
    }

    public async Task<KeyResult> InfoAsync(KeyRequest r, CancellationToken ct)
    {
        // A virtual key reads itself: with no key named, the caller's own (LiteLLM's /key/info without ?key=).
        var own = r.Caller?.Key;
        if (!r.IsAdmin && own is null) return KeyResult.Fail(SelfService.Denied("key"));
        if (own is not null && !r.IsAdmin && r.RouteKey is null && string.IsNullOrEmpty(r.String("key")))
            return InfoOf(await store.FindAsync(own.Token, ct) ?? own);
        var (key, error) = await FindAsync(r, ct);
        if (!r.IsAdmin && (key is null || key.Token != own!.Token)) return KeyResult.Fail(SelfService.Denied("key"));
        if (key is null) return KeyResult.Fail(error!);
        return InfoOf(key);
    }

    private static KeyResult InfoOf(VirtualKey key)
    {
        return KeyResult.Ok(w =>
        {
            w.WriteStartObject();
            w.WriteString("key", key.Token);
            w.WritePropertyName("info");
            WriteKey(w, key, null);
            w.WriteEndObject();
        });
    }

    public async Task<KeyResult> ListAsync(KeyRequest r, CancellationToken ct)
    {
        var page = int.TryParse(r.String("page"), out var p) && p > 0 ? p : 1;
        var size = int.TryParse(r.String("size"), out var s) && s is > 0 and <= 1000 ? s : 100;
        var detailed = r.String("return_full_object") is "true" or "True";
        // LiteLLM's sort_by/sort_order; created_at is the one column kept in order here (the default stays oldest first).
        var sortBy = r.String("sort_by");
        var sortOrder = r.String("sort_order");
        if (sortBy is not (null or "created_at")) return KeyResult.Fail(ApiError.BadRequest($"sort_by can be 'created_at', not '{sortBy}'.", "sort_by"));
        if (sortOrder is not (null or "asc" or "desc")) return KeyResult.Fail(ApiError.BadRequest($"sort_order is 'asc' or 'desc', not '{sortOrder}'.", "sort_order"));
        var query = new KeyQuery(r.String("user_id"), r.String("team_id"), r.String("key_alias"), page, size) { NewestFirst = sortBy is not null && sortOrder is null or "desc" };
        var (keys, total) = await store.ListAsync(query, ct);
        return KeyResult.Ok(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("keys");
            foreach (var k in keys)
            {
                if (detailed) WriteKey(w, k, null); else w.WriteStringValue(k.Token);
            }
            w.WriteEndArray();
            w.WriteNumber("total_count", total);
            w.WriteNumber("current_page", page);
            w.WriteNumber("total_pages", (total + size - 1) / size);
            w.WriteEndObject();
        });
    }

    public async Task<KeyResult> DeleteAsync(KeyRequest r, CancellationToken ct)
    {
        // Each token with what the caller named it by: LiteLLM answers with the keys (or key_aliases) it was given,
        // so the answer never shows a hash the caller did not send.
        var tokens = new List<string>();
        var named = new List<(string Token, string Given)>();
        foreach (var k in r.StringList("keys") ?? [])
        {
            var token = VirtualKey.TokenOf(k);
            tokens.Add(token);
            named.Add((token, k));
        }
        foreach (var alias in r.StringList("key_aliases") ?? [])
        {
            if (await store.FindByAliasAsync(alias, ct) is not { } found) continue;
            tokens.Add(found.Token);
            named.Add((found.Token, alias));
        }
        if (r.Error is { } invalid) return KeyResult.Fail(invalid);
        if (tokens.Count == 0) return KeyResult.Fail(ApiError.BadRequest("Name the keys to delete in 'keys' (or 'key_aliases').", "keys"));
        var deleted = await store.DeleteAsync(tokens, ct);
        foreach (var t in tokens) registry.Invalidate(t);
        foreach (var t in deleted) await audit.RecordAsync(r.Actor, "key.delete", "key", t, null, null, ct);
        if (deleted.Count == 0) return KeyResult.Fail(new ApiError(404, "None of those keys exist.", "invalid_request_error", "key_not_found", "keys"));
        return KeyResult.Ok(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("deleted_keys");
            foreach (var (token, given) in named)
            {
                if (deleted.Contains(token)) w.WriteStringValue(given);
            }
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    public async Task<KeyResult> SetBlockedAsync(KeyRequest r, bool blocked, CancellationToken ct)
    {
        var (key, error) = await FindAsync(r, ct);
        if (key is null) return KeyResult.Fail(error!);
        var updated = key with { Blocked = blocked, UpdatedAt = time.GetUtcNow() };
        await store.UpdateAsync(updated, ct);
        registry.Invalidate(updated.Token);
        await audit.RecordAsync(r.Actor, blocked ? "key.block" : "key.unblock", "key", key.Token, KeyJson(key), KeyJson(updated), ct);
        return KeyResult.Ok(w => WriteKey(w, updated, null));
    }

    /// <summary>Rotation: a new secret for the same key. With grace_period, the old secret keeps working that long.</summary>
    public async Task<KeyResult> RegenerateAsync(KeyRequest r, CancellationToken ct)
    {
        var (key, error) = await FindAsync(r, ct);
        if (key is null) return KeyResult.Fail(error!);
        var grace = r.Duration("grace_period");
        var custom = r.String("new_key");
        if (r.Error is { } invalid) return KeyResult.Fail(invalid);
        var secret = custom ?? VirtualKey.NewSecret();
        if (InvalidSecret(secret, "new_key") is { } badSecret) return KeyResult.Fail(badSecret);
        var now = time.GetUtcNow();
        var renewed = key with { Token = VirtualKey.HashOf(secret), KeyName = VirtualKey.Mask(secret), UpdatedAt = now };
        if (!await store.ReplaceTokenAsync(key.Token, renewed, ct)) return KeyResult.Fail(NotFound());
        if (grace is { } g)
        {
            // The old secret stays valid, with the same limits, until the grace period ends.
            var old = key with { KeyAlias = null, ExpiresAt = Min(key.ExpiresAt, now + g), UpdatedAt = now };
            await store.InsertAsync(old, ct);
        }
        registry.Invalidate(key.Token);
        registry.Invalidate(renewed.Token);
        await audit.RecordAsync(r.Actor, "key.regenerate", "key", renewed.Token, KeyJson(key), KeyJson(renewed), ct);
        return KeyResult.Ok(w => WriteKey(w, renewed, secret));
    }

    private static DateTimeOffset Min(DateTimeOffset? a, DateTimeOffset b) => a is { } x && x < b ? x : b;

    private VirtualKey Apply(KeyRequest r, VirtualKey key, DateTimeOffset now)
    {
        var duration = r.Duration("duration");
        return key with
        {
            KeyAlias = r.Has("key_alias") ? r.String("key_alias") : key.KeyAlias,
            UserId = r.Has("user_id") ? r.String("user_id") : key.UserId,
            TeamId = r.Has("team_id") ? r.String("team_id") : key.TeamId,
            Models = r.StringList("models") ?? key.Models,
            Aliases = r.StringMap("aliases") ?? key.Aliases,
            Limits = r.Limits(key.Limits),
            Metadata = r.Metadata(key.Metadata),
            Tags = r.StringList("tags") ?? key.Tags,
            ObjectPermission = r.Permission("object_permission", key.ObjectPermission),
            Blocked = r.Bool("blocked") ?? key.Blocked,
            ExpiresAt = duration is { } d ? now + d : key.ExpiresAt,
        };
    }

    /// <summary>
    /// The team and user a key names must exist (LiteLLM mints such a key and refuses it at every request with "Team
    /// doesn't exist in db"; we refuse it once, here, with LiteLLM's words). Model names are not checked: as in LiteLLM,
    /// a key may list models not configured yet, and access groups (model_info.access_groups).
    /// </summary>
    private async Task<ApiError?> UnknownOwnerAsync(VirtualKey key, VirtualKey? before, CancellationToken ct)
    {
        if (key.TeamId is { } team && team != before?.TeamId && await identities.FindTeamAsync(team, ct) is null)
            return ApiError.BadRequest($"Team doesn't exist in db. Team={team}. Create team via `/team/new` call.", "team_id", "team_not_found");
        if (key.UserId is { } user && user != before?.UserId && await identities.FindUserAsync(user, ct) is null)
            return ApiError.BadRequest($"User doesn't exist in db. 'user_id'={user}. Create user via `/user/new` call.", "user_id", "user_not_found");
        return null;
    }

    /// <summary>An alias names one key only; <paramref name="current"/> is the key's own alias, which it may keep.</summary>
    private async Task<ApiError?> AliasTakenAsync(string? alias, string? current, CancellationToken ct) =>
        alias is not null && alias != current && await store.FindByAliasAsync(alias, ct) is not null
            ? ApiError.BadRequest($"A key with alias '{alias}' already exists.", "key_alias", "duplicate_alias")
            : null;

    private static ApiError? InvalidSecret(string secret, string param) =>
        secret.StartsWith("sk-", StringComparison.Ordinal) && secret.Length >= 20
            ? null
            : ApiError.BadRequest($"'{param}' must start with 'sk-' and be at least 20 characters long.", param);

    /// <summary>The key named in the path, or else in the body's or query's "key".</summary>
    private async Task<(VirtualKey? Key, ApiError? Error)> FindAsync(KeyRequest r, CancellationToken ct)
    {
        var name = r.RouteKey ?? r.String("key");
        if (r.Error is { } invalid) return (null, invalid);
        if (string.IsNullOrEmpty(name)) return (null, ApiError.BadRequest("Name the key in 'key' (its secret or its token).", "key"));
        var key = await store.FindAsync(VirtualKey.TokenOf(name), ct);
        return key is null ? (null, NotFound()) : (key, null);
    }

    private static ApiError NotFound() => new(404, "No such key.", "invalid_request_error", "key_not_found", "key");


    private static string KeyJson(VirtualKey k) => KeyResult.Ok(w => WriteKey(w, k, null)).Text;

    internal static void WriteKey(Utf8JsonWriter w, VirtualKey k, string? secret)
    {
        w.WriteStartObject();
        if (secret is not null) w.WriteString("key", secret);
        w.WriteString("token", k.Token);
        w.WriteString("key_name", k.KeyName);
        JsonOut.Nullable(w, "key_alias", k.KeyAlias);
        JsonOut.Nullable(w, "user_id", k.UserId);
        JsonOut.Nullable(w, "team_id", k.TeamId);
        JsonOut.Strings(w, "models", k.Models);
        JsonOut.Map(w, "aliases", k.Aliases);
        JsonOut.Limits(w, k, DateTimeOffset.UtcNow);
        JsonOut.Raw(w, "metadata", k.Metadata);
        JsonOut.Strings(w, "tags", k.Tags);
        JsonOut.Permission(w, k.ObjectPermission);
        if (k.ExpiresAt is { } e) w.WriteString("expires", e); else w.WriteNull("expires");
        w.WriteBoolean("blocked", k.Blocked);
        w.WriteString("created_at", k.CreatedAt);
        w.WriteString("updated_at", k.UpdatedAt);
        w.WriteEndObject();
    }
}
