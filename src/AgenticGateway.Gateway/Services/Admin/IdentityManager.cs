using System.Text.Json;
using AgenticGateway.OpenAi;
using AgenticGateway.Spend;
using AgenticGateway.Keys;

namespace AgenticGateway.Services.Admin;

/// <summary>LiteLLM's /team/* and /user/* operations, in its request and response shapes.</summary>
internal sealed class IdentityManager(IIdentityStore store, IKeyStore keys, KeyManager keyManager, KeyRegistry registry, AuditLog audit, TimeProvider time)
{
    // ----- teams -----

    public async Task<KeyResult> NewTeamAsync(KeyRequest r, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var id = r.String("team_id") ?? Guid.NewGuid().ToString();
        var team = ApplyTeam(r, new Team { TeamId = id, CreatedAt = now, UpdatedAt = now });
        var members = ReadMembers(r, "members_with_roles");
        if (members is not null) team = team with { Members = members };
        if (r.Error is { } error) return KeyResult.Fail(error);
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
        return await SaveTeamAsync(r, "team.update", team, updated, ct);
    }

    public async Task<KeyResult> TeamInfoAsync(KeyRequest r, CancellationToken ct)
    {
        var (team, error) = await FindTeamAsync(r, ct);
        if (team is null) return KeyResult.Fail(error!);
        var (teamKeys, _) = await keys.ListAsync(new KeyQuery(TeamId: team.TeamId, PageSize: 1000), ct);
        return KeyResult.Ok(w =>
        {
            w.WriteStartObject();
            w.WriteString("team_id", team.TeamId);
            w.WritePropertyName("team_info");
            WriteTeam(w, team);
            w.WriteStartArray("keys");
            foreach (var k in teamKeys) KeyManager.WriteKey(w, k, null);
            w.WriteEndArray();
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
        var deleted = await store.DeleteTeamsAsync(ids, ct);
        if (deleted.Count == 0) return KeyResult.Fail(new ApiError(404, "None of those teams exist.", "invalid_request_error", "team_not_found", "team_ids"));
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

    public async Task<KeyResult> AddMemberAsync(KeyRequest r, CancellationToken ct)
    {
        var (team, error) = await FindTeamAsync(r, ct);
        if (team is null) return KeyResult.Fail(error!);
        var added = ReadMembers(r, "member");
        if (r.Error is { } invalid) return KeyResult.Fail(invalid);
        if (added is null || added.Count == 0) return KeyResult.Fail(ApiError.BadRequest("Give the member to add in 'member' ({\"role\": \"user\", \"user_id\": ...}).", "member"));
        var members = team.Members.Where(m => !added.Any(a => Same(a, m))).Concat(added).ToList();
        return await SaveTeamAsync(r, "team.member_add", team, team with { Members = members, UpdatedAt = time.GetUtcNow() }, ct);
    }

    public async Task<KeyResult> DeleteMemberAsync(KeyRequest r, CancellationToken ct)
    {
        var (team, error) = await FindTeamAsync(r, ct);
        if (team is null) return KeyResult.Fail(error!);
        var removed = new TeamMember(r.String("user_id"), r.String("user_email"), "user");
        if (r.Error is { } invalid) return KeyResult.Fail(invalid);
        if (removed.UserId is null && removed.UserEmail is null) return KeyResult.Fail(ApiError.BadRequest("Name the member in 'user_id' or 'user_email'.", "user_id"));
        var members = team.Members.Where(m => !Same(removed, m)).ToList();
        if (members.Count == team.Members.Count) return KeyResult.Fail(new ApiError(404, "That user is not a member of this team.", "invalid_request_error", "member_not_found", "user_id"));
        return await SaveTeamAsync(r, "team.member_delete", team, team with { Members = members, UpdatedAt = time.GetUtcNow() }, ct);
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
        Metadata = r.ObjectText("metadata") ?? t.Metadata,
        Blocked = r.Bool("blocked") ?? t.Blocked,
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

    private async Task<(Team?, ApiError?)> FindTeamAsync(KeyRequest r, CancellationToken ct)
    {
        var id = r.String("team_id");
        if (r.Error is { } invalid) return (null, invalid);
        if (string.IsNullOrEmpty(id)) return (null, ApiError.BadRequest("Name the team in 'team_id'.", "team_id"));
        var team = await store.FindTeamAsync(id, ct);
        return team is null ? (null, new ApiError(404, $"Team '{id}' does not exist.", "invalid_request_error", "team_not_found", "team_id")) : (team, null);
    }

    private static string TeamJson(Team t) => KeyResult.Ok(w => WriteTeam(w, t)).Text;

    internal static void WriteTeam(Utf8JsonWriter w, Team t)
    {
        w.WriteStartObject();
        w.WriteString("team_id", t.TeamId);
        JsonOut.Nullable(w, "team_alias", t.TeamAlias);
        JsonOut.Strings(w, "models", t.Models);
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
        JsonOut.Raw(w, "metadata", t.Metadata);
        w.WriteBoolean("blocked", t.Blocked);
        w.WriteString("created_at", t.CreatedAt);
        w.WriteString("updated_at", t.UpdatedAt);
        w.WriteEndObject();
    }

    // ----- users -----

    public async Task<KeyResult> NewUserAsync(KeyRequest r, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var id = r.String("user_id") ?? Guid.NewGuid().ToString();
        var user = ApplyUser(r, new User { UserId = id, CreatedAt = now, UpdatedAt = now });
        var autoKey = r.Bool("auto_create_key") ?? true;
        if (r.Error is { } error) return KeyResult.Fail(error);
        if (await store.FindUserAsync(id, ct) is not null) return KeyResult.Fail(ApiError.BadRequest($"User '{id}' already exists.", "user_id", "duplicate_user"));
        await store.SaveUserAsync(user, insert: true, ct);
        await audit.RecordAsync(r.Actor, "user.create", "user", id, null, UserJson(user), ct);
        // LiteLLM creates a key for a new user unless told not to, and returns it with the user.
        string? secret = null;
        VirtualKey? key = null;
        if (autoKey) (key, secret) = await keyManager.CreateForUserAsync(id, user.Models, r.Actor, ct);
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
        var (user, error) = await FindUserAsync(r, ct);
        if (user is null) return KeyResult.Fail(error!);
        var updated = ApplyUser(r, user) with { UpdatedAt = time.GetUtcNow() };
        if (r.Error is { } invalid) return KeyResult.Fail(invalid);
        await store.SaveUserAsync(updated, insert: false, ct);
        await audit.RecordAsync(r.Actor, "user.update", "user", updated.UserId, UserJson(user), UserJson(updated), ct);
        registry.InvalidateAll();
        return KeyResult.Ok(w => WriteUser(w, updated));
    }

    public async Task<KeyResult> UserInfoAsync(KeyRequest r, CancellationToken ct)
    {
        var (user, error) = await FindUserAsync(r, ct);
        if (user is null) return KeyResult.Fail(error!);
        var (userKeys, _) = await keys.ListAsync(new KeyQuery(UserId: user.UserId, PageSize: 1000), ct);
        var teams = await store.ListTeamsAsync(user.UserId, ct);
        return KeyResult.Ok(w =>
        {
            w.WriteStartObject();
            w.WriteString("user_id", user.UserId);
            w.WritePropertyName("user_info");
            WriteUser(w, user);
            w.WriteStartArray("keys");
            foreach (var k in userKeys) KeyManager.WriteKey(w, k, null);
            w.WriteEndArray();
            w.WriteStartArray("teams");
            foreach (var t in teams) WriteTeam(w, t);
            w.WriteEndArray();
            w.WriteEndObject();
        });
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

    private async Task<(User?, ApiError?)> FindUserAsync(KeyRequest r, CancellationToken ct)
    {
        var id = r.String("user_id");
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
