using System.Text.Json;
using AgenticGateway.OpenAi;
using AgenticGateway.Spend;
using AgenticGateway.Keys;

namespace AgenticGateway.Services.Admin;

/// <summary>LiteLLM's /team/* and /user/* operations, in its request and response shapes.</summary>
internal sealed partial class IdentityManager(IIdentityStore store, IKeyStore keys, KeyManager keyManager, KeyRegistry registry, AuditLog audit, TimeProvider time,
    SpendStore spend, Runtime.RuntimeHolder runtimes)
{
    // ----- teams -----

    public async Task<KeyResult> NewTeamAsync(KeyRequest r, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var id = r.String("team_id") ?? Guid.NewGuid().ToString();
        var team = ApplyTeam(r, new Team { TeamId = id, CreatedAt = now, UpdatedAt = now });
        var members = ReadMembers(r, "members_with_roles");
        if (members is not null) team = team with { Members = await LinkAsync(members, ct) };
        if (r.Error is { } error) return KeyResult.Fail(error);
        if (await UnknownOrganizationAsync(team, null, ct) is { } noOrg) return KeyResult.Fail(noOrg);
        if (await store.FindTeamAsync(id, ct) is not null) return KeyResult.Fail(ApiError.BadRequest($"Team '{id}' already exists.", "team_id", "duplicate_team"));
        await store.SaveTeamAsync(team, insert: true, ct);
        await audit.RecordAsync(r.Actor, "team.create", "team", id, null, TeamJson(team), ct);
        return KeyResult.Ok(w => WriteTeam(w, team));
    }

    public async Task<KeyResult> UpdateTeamAsync(KeyRequest r, CancellationToken ct)
    {
        var (team, error) = await FindTeamAsync(r, ct);
        if (team is null) return KeyResult.Fail(error!);
        var updated = ApplyTeam(r, team) with { UpdatedAt = time.GetUtcNow() };
        if (r.Error is { } invalid) return KeyResult.Fail(invalid);
        if (await UnknownOrganizationAsync(updated, team, ct) is { } noOrg) return KeyResult.Fail(noOrg);
        await SaveTeamAsync(r, "team.update", team, updated, ct);
        // LiteLLM answers /team/update with the team under "data".
        return KeyResult.Ok(w =>
        {
            w.WriteStartObject();
            w.WriteString("team_id", updated.TeamId);
            w.WritePropertyName("data");
            WriteTeam(w, updated);
            w.WriteEndObject();
        });
    }

    private async Task<ApiError?> UnknownOrganizationAsync(Team team, Team? before, CancellationToken ct) =>
        team.OrganizationId is { } org && org != before?.OrganizationId && await store.FindOrganizationAsync(org, ct) is null
            ? ApiError.BadRequest($"Organization '{org}' does not exist. Create it via `/organization/new`.", "organization_id", "organization_not_found")
            : null;

    public async Task<KeyResult> TeamInfoAsync(KeyRequest r, CancellationToken ct)
    {
        // A virtual key reads its own team only (with no team_id named: its own).
        var ownTeam = r.Caller?.Key?.TeamId;
        if (!r.IsAdmin)
        {
            var named = r.String("team_id");
            if (ownTeam is null || (named is not null && named != ownTeam)) return KeyResult.Fail(SelfService.Denied("team"));
        }
        var (team, error) = await FindTeamAsync(r, ct, r.IsAdmin ? null : ownTeam);
        if (team is null) return KeyResult.Fail(error!);
        var (teamKeys, _) = await keys.ListAsync(new KeyQuery(TeamId: team.TeamId, PageSize: 1000), ct);
        var memberships = await MembershipsAsync(team, null, ct);
        return KeyResult.Ok(w =>
        {
            w.WriteStartObject();
            w.WriteString("team_id", team.TeamId);
            w.WritePropertyName("team_info");
            WriteTeam(w, team);
            w.WriteStartArray("keys");
            foreach (var k in teamKeys) KeyManager.WriteKey(w, k, null);
            w.WriteEndArray();
            WriteMemberships(w, memberships);
            w.WriteEndObject();
        });
    }

    public async Task<KeyResult> ListTeamsAsync(KeyRequest r, CancellationToken ct)
    {
        var teams = await store.ListTeamsAsync(r.String("user_id"), ct);
        return KeyResult.Ok(w =>
        {
            w.WriteStartArray();
            foreach (var t in teams) WriteTeam(w, t);
            w.WriteEndArray();
        });
    }

    public async Task<KeyResult> DeleteTeamsAsync(KeyRequest r, CancellationToken ct)
    {
        var ids = r.StringList("team_ids");
        if (r.Error is { } invalid) return KeyResult.Fail(invalid);
        if (ids is null || ids.Count == 0) return KeyResult.Fail(ApiError.BadRequest("Name the teams to delete in 'team_ids'.", "team_ids"));
        var members = new List<string>();
        foreach (var id in ids)
        {
            if (await store.FindTeamAsync(id, ct) is { } t) members.AddRange(t.Members.Select(m => m.UserId).OfType<string>());
        }
        var deleted = await store.DeleteTeamsAsync(ids, ct);
        if (deleted.Count == 0) return KeyResult.Fail(new ApiError(404, "None of those teams exist.", "invalid_request_error", "team_not_found", "team_ids"));
        // The users' own lists of teams (user_info.teams) lose the deleted teams too.
        foreach (var userId in members.Distinct(StringComparer.Ordinal))
        {
            if (await store.FindUserAsync(userId, ct) is { } u && u.Teams.Any(deleted.Contains))
                await store.SaveUserAsync(u with { Teams = [.. u.Teams.Where(t => !deleted.Contains(t))], UpdatedAt = time.GetUtcNow() }, insert: false, ct);
        }
        foreach (var id in deleted) await audit.RecordAsync(r.Actor, "team.delete", "team", id, null, null, ct);
        registry.InvalidateAll();
        return KeyResult.Ok(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("deleted_teams");
            foreach (var id in deleted) w.WriteStringValue(id);
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    private async Task<KeyResult> SaveTeamAsync(KeyRequest r, string action, Team before, Team after, CancellationToken ct)
    {
        await store.SaveTeamAsync(after, insert: false, ct);
        await audit.RecordAsync(r.Actor, action, "team", after.TeamId, TeamJson(before), TeamJson(after), ct);
        registry.InvalidateAll();
        return KeyResult.Ok(w => WriteTeam(w, after));
    }

    private static bool Same(TeamMember a, TeamMember b) =>
        (a.UserId is not null && a.UserId == b.UserId) || (a.UserEmail is not null && a.UserEmail == b.UserEmail);

    private static Team ApplyTeam(KeyRequest r, Team t) => t with
    {
        TeamAlias = r.Has("team_alias") ? r.String("team_alias") : t.TeamAlias,
        Models = r.StringList("models") ?? t.Models,
        Limits = r.Limits(t.Limits),
        Metadata = r.Metadata(t.Metadata),
        Blocked = r.Bool("blocked") ?? t.Blocked,
        OrganizationId = r.Has("organization_id") ? r.String("organization_id") : t.OrganizationId,
        ModelAliases = r.StringMap("model_aliases") ?? t.ModelAliases,
        ObjectPermission = r.Permission("object_permission", t.ObjectPermission),
    };

    /// <summary>A member object or a list of them: {"role": "admin"|"user", "user_id"?, "user_email"?}.</summary>
    private static List<TeamMember>? ReadMembers(KeyRequest r, string name)
    {
        if (r.Element(name) is not { } e) return null;
        var items = e.ValueKind == JsonValueKind.Array ? e.EnumerateArray().ToList() : [e];
        var members = new List<TeamMember>();
        foreach (var item in items)
        {
            if (item.ValueKind != JsonValueKind.Object) { r.Errors.Add($"'{name}' must hold member objects"); return null; }
            string? Str(string p) => item.TryGetProperty(p, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            var member = new TeamMember(Str("user_id"), Str("user_email"), Str("role") ?? "user");
            if (member.UserId is null && member.UserEmail is null) { r.Errors.Add($"each '{name}' entry needs a user_id or user_email"); return null; }
            if (member.Role is not ("admin" or "user")) { r.Errors.Add($"a member's role is 'admin' or 'user', got '{member.Role}'"); return null; }
            members.Add(member);
        }
        return members;
    }

    private async Task<(Team?, ApiError?)> FindTeamAsync(KeyRequest r, CancellationToken ct, string? fallback = null)
    {
        var id = r.String("team_id") ?? fallback;
        if (r.Error is { } invalid) return (null, invalid);
        if (string.IsNullOrEmpty(id)) return (null, ApiError.BadRequest("Name the team in 'team_id'.", "team_id"));
        var team = await store.FindTeamAsync(id, ct);
        return team is null ? (null, new ApiError(404, $"Team '{id}' does not exist.", "invalid_request_error", "team_not_found", "team_id")) : (team, null);
    }

    private static string TeamJson(Team t) => KeyResult.Ok(w => WriteTeam(w, t)).Text;

    internal static void WriteTeam(Utf8JsonWriter w, Team t) => WriteTeam(w, t, null);

    /// <param name="memberships">When given, the team's team_memberships (a user's budget and spend there), as /user/info lists them.</param>
    internal static void WriteTeam(Utf8JsonWriter w, Team t, List<(TeamMembership, long)>? memberships, bool end = true)
    {
        w.WriteStartObject();
        w.WriteString("team_id", t.TeamId);
        JsonOut.Nullable(w, "team_alias", t.TeamAlias);
        JsonOut.Nullable(w, "organization_id", t.OrganizationId);
        JsonOut.Strings(w, "models", t.Models);
        JsonOut.Map(w, "model_aliases", t.ModelAliases);
        JsonOut.Limits(w, t, DateTimeOffset.UtcNow);
        w.WriteStartArray("members_with_roles");
        foreach (var m in t.Members)
        {
            w.WriteStartObject();
            w.WriteString("role", m.Role);
            JsonOut.Nullable(w, "user_id", m.UserId);
            JsonOut.Nullable(w, "user_email", m.UserEmail);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        JsonOut.Permission(w, t.ObjectPermission);
        JsonOut.Raw(w, "metadata", t.Metadata);
        w.WriteBoolean("blocked", t.Blocked);
        w.WriteString("created_at", t.CreatedAt);
        w.WriteString("updated_at", t.UpdatedAt);
        if (memberships is not null) WriteMemberships(w, memberships);
        if (end) w.WriteEndObject();
    }

    // ----- users -----

    public async Task<KeyResult> NewUserAsync(KeyRequest r, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var id = r.String("user_id") ?? Guid.NewGuid().ToString();
        var user = ApplyUser(r, new User { UserId = id, CreatedAt = now, UpdatedAt = now });
        var autoKey = r.Bool("auto_create_key") ?? true;
        // LiteLLM's (deprecated, still used) team_id: the user joins that team and its key is the team's.
        var teamId = r.String("team_id");
        var aliases = r.StringMap("aliases");
        if (r.Error is { } error) return KeyResult.Fail(error);
        var team = teamId is null ? null : await store.FindTeamAsync(teamId, ct);
        if (teamId is not null && team is null)
            return KeyResult.Fail(ApiError.BadRequest($"Team doesn't exist in db. Team={teamId}. Create team via `/team/new` call.", "team_id", "team_not_found"));
        if (await store.FindUserAsync(id, ct) is not null) return KeyResult.Fail(ApiError.BadRequest($"User '{id}' already exists.", "user_id", "duplicate_user"));
        // LiteLLM keeps the user's teams on the user too (its user_info.teams).
        if (team is not null && !user.Teams.Contains(team.TeamId)) user = user with { Teams = [.. user.Teams, team.TeamId] };
        await store.SaveUserAsync(user, insert: true, ct);
        await audit.RecordAsync(r.Actor, "user.create", "user", id, null, UserJson(user), ct);
        if (team is not null && !team.Members.Any(m => m.UserId == id))
            await SaveTeamAsync(r, "team.member_add", team, team with { Members = [.. team.Members, new TeamMember(id, user.UserEmail, "user")], UpdatedAt = now }, ct);
        // LiteLLM creates a key for a new user unless told not to, and returns it with the user.
        string? secret = null;
        VirtualKey? key = null;
        if (autoKey) (key, secret) = await keyManager.CreateForUserAsync(id, user.Models, r.Actor, ct, teamId, aliases);
        return KeyResult.Ok(w =>
        {
            w.WriteStartObject();
            WriteUserFields(w, user);
            if (secret is not null) { w.WriteString("key", secret); w.WriteString("token", key!.Token); }
            w.WriteEndObject();
        });
    }

    public async Task<KeyResult> UpdateUserAsync(KeyRequest r, CancellationToken ct)
    {
        await EnsureProxyBudgetUserAsync(r.String("user_id"), ct);
        var (user, error) = await FindUserAsync(r, ct);
        if (user is null) return KeyResult.Fail(error!);
        var updated = ApplyUser(r, user) with { UpdatedAt = time.GetUtcNow() };
        // LiteLLM's "spend" sets the recorded spend (its tests reset the litellm-proxy-budget user with it).
        var newSpend = r.Decimal("spend");
        if (r.Error is { } invalid) return KeyResult.Fail(invalid);
        await store.SaveUserAsync(updated, insert: false, ct);
        if (newSpend is { } s)
        {
            await store.SetUserSpendAsync(updated.UserId, s, ct);
            updated = updated with { Spend = s };
        }
        await audit.RecordAsync(r.Actor, "user.update", "user", updated.UserId, UserJson(user), UserJson(updated), ct);
        registry.InvalidateAll();
        return KeyResult.Ok(w => WriteUser(w, updated));
    }

    public async Task<KeyResult> UserInfoAsync(KeyRequest r, CancellationToken ct)
    {
        // A virtual key reads its own user only (with no user_id named: its own).
        var ownUser = r.Caller?.Key?.UserId;
        if (!r.IsAdmin)
        {
            var named = r.String("user_id");
            if (ownUser is null || (named is not null && named != ownUser)) return KeyResult.Fail(SelfService.Denied("user"));
        }
        await EnsureProxyBudgetUserAsync(r.String("user_id"), ct);
        var (user, error) = await FindUserAsync(r, ct, r.IsAdmin ? null : ownUser);
        if (user is null) return KeyResult.Fail(error!);
        var (userKeys, _) = await keys.ListAsync(new KeyQuery(UserId: user.UserId, PageSize: 1000), ct);
        var teams = await store.ListTeamsAsync(user.UserId, ct);
        var memberships = new Dictionary<string, List<(TeamMembership, long)>>(StringComparer.Ordinal);
        foreach (var t in teams) memberships[t.TeamId] = await MembershipsAsync(t, user.UserId, ct);
        return KeyResult.Ok(w =>
        {
            w.WriteStartObject();
            w.WriteString("user_id", user.UserId);
            w.WritePropertyName("user_info");
            // The teams it is a member of, also those joined before member_add kept them on the user (team/new's members_with_roles).
            WriteUser(w, user with { Teams = [.. user.Teams.Union(teams.Select(t => t.TeamId))] });
            w.WriteStartArray("keys");
            foreach (var k in userKeys) KeyManager.WriteKey(w, k, null);
            w.WriteEndArray();
            w.WriteStartArray("teams");
            foreach (var t in teams) WriteTeam(w, t, memberships[t.TeamId]);
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    /// <summary>
    /// LiteLLM keeps its global budget's spend as the user litellm-proxy-budget, which it creates at start when
    /// litellm_settings.max_budget is set. We create it when first read or updated, with the spend of the current
    /// period so far; every spend log adds to it from then on (see SpendStore).
    /// </summary>
    private async Task EnsureProxyBudgetUserAsync(string? userId, CancellationToken ct)
    {
        if (userId != ProxyBudget.UserId || runtimes.Current.Options.Budgets is not { ProxyMaxBudget: { } max } budgets) return;
        if (await store.FindUserAsync(userId, ct) is not null) return;
        var now = time.GetUtcNow();
        var limits = new LimitSettings { MaxBudget = max, BudgetDuration = budgets.ProxyBudgetDuration };
        var (start, _) = BudgetPeriod.Current(limits.BudgetDuration, DateTimeOffset.UnixEpoch, now);
        var spent = await spend.SpendSinceAsync(new ProxyBudget(limits), start, ct);
        try
        {
            await store.SaveUserAsync(new User { UserId = userId, Limits = limits, CreatedAt = now, UpdatedAt = now }, insert: true, ct);
            await store.SetUserSpendAsync(userId, Pricing.Money.FromNanos(spent), ct);
        }
        catch (System.Data.Common.DbException)
        {
            // Another request (or replica) created it first; anything else is the store's failure.
            if (await store.FindUserAsync(userId, ct) is null) throw;
        }
    }

    public async Task<KeyResult> DeleteUsersAsync(KeyRequest r, CancellationToken ct)
    {
        var ids = r.StringList("user_ids");
        if (r.Error is { } invalid) return KeyResult.Fail(invalid);
        if (ids is null || ids.Count == 0) return KeyResult.Fail(ApiError.BadRequest("Name the users to delete in 'user_ids'.", "user_ids"));
        var deleted = await store.DeleteUsersAsync(ids, ct);
        if (deleted.Count == 0) return KeyResult.Fail(new ApiError(404, "None of those users exist.", "invalid_request_error", "user_not_found", "user_ids"));
        foreach (var id in deleted) await audit.RecordAsync(r.Actor, "user.delete", "user", id, null, null, ct);
        registry.InvalidateAll();
        return KeyResult.Ok(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("deleted_users");
            foreach (var id in deleted) w.WriteStringValue(id);
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    private static User ApplyUser(KeyRequest r, User u) => u with
    {
        UserEmail = r.Has("user_email") ? r.String("user_email") : u.UserEmail,
        UserRole = r.Has("user_role") ? r.String("user_role") : u.UserRole,
        Teams = r.StringList("teams") ?? u.Teams,
        Models = r.StringList("models") ?? u.Models,
        Limits = r.Limits(u.Limits),
        Metadata = r.ObjectText("metadata") ?? u.Metadata,
    };

    private async Task<(User?, ApiError?)> FindUserAsync(KeyRequest r, CancellationToken ct, string? fallback = null)
    {
        var id = r.String("user_id") ?? fallback;
        if (r.Error is { } invalid) return (null, invalid);
        if (string.IsNullOrEmpty(id)) return (null, ApiError.BadRequest("Name the user in 'user_id'.", "user_id"));
        var user = await store.FindUserAsync(id, ct);
        return user is null ? (null, new ApiError(404, $"User '{id}' does not exist.", "invalid_request_error", "user_not_found", "user_id")) : (user, null);
    }

    private static string UserJson(User u) => KeyResult.Ok(w => WriteUser(w, u)).Text;

    internal static void WriteUser(Utf8JsonWriter w, User u)
    {
        w.WriteStartObject();
        WriteUserFields(w, u);
        w.WriteEndObject();
    }

    private static void WriteUserFields(Utf8JsonWriter w, User u)
    {
        w.WriteString("user_id", u.UserId);
        JsonOut.Nullable(w, "user_email", u.UserEmail);
        JsonOut.Nullable(w, "user_role", u.UserRole);
        JsonOut.Strings(w, "teams", u.Teams);
        JsonOut.Strings(w, "models", u.Models);
        JsonOut.Limits(w, u, DateTimeOffset.UtcNow);
        JsonOut.Raw(w, "metadata", u.Metadata);
        w.WriteString("created_at", u.CreatedAt);
        w.WriteString("updated_at", u.UpdatedAt);
    }
}
