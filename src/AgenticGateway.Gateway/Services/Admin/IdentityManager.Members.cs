using System.Text.Json;
using AgenticGateway.Keys;
using AgenticGateway.OpenAi;
using AgenticGateway.Pricing;

namespace AgenticGateway.Services.Admin;

/// <summary>
/// Team members (LiteLLM's /team/member_add, /team/member_update, /team/member_delete): a member named by user_id or
/// user_email is linked to that user, created as LiteLLM creates it when it does not exist yet, and may carry a budget
/// in the team (max_budget_in_team) that binds the user's keys of that team.
/// </summary>
internal sealed partial class IdentityManager
{
    public async Task<KeyResult> AddMemberAsync(KeyRequest r, CancellationToken ct)
    {
        var (team, error) = await FindTeamAsync(r, ct);
        if (team is null) return KeyResult.Fail(error!);
        var added = ReadMembers(r, "member");
        var budget = r.Decimal("max_budget_in_team");
        if (r.Error is { } invalid) return KeyResult.Fail(invalid);
        if (added is null || added.Count == 0) return KeyResult.Fail(ApiError.BadRequest("Give the member to add in 'member' ({\"role\": \"user\", \"user_id\": ...}).", "member"));
        // LiteLLM refuses to add a member already in the team (by user_id or user_email) rather than moving it: one
        // member given as an object, or a list of only such members, is a 400; a list mixing old and new adds the new.
        var duplicates = added.Where(a => team.Members.Any(m => Same(a, m))).ToList();
        if (duplicates.Count == added.Count)
        {
            var single = r.Element("member") is { ValueKind: not JsonValueKind.Array };
            var message = single
                ? $"User already in team. Member: user_id={PyStr(added[0].UserId)}, user_email={PyStr(added[0].UserEmail)}. Existing members={PyMembers(team.Members)}"
                : $"All users are already in team. Existing members={PyMembers(team.Members)}";
            return KeyResult.Fail(new ApiError(400, message, "team_member_already_in_team", "400", "member"));
        }
        added = added.Except(duplicates).ToList();
        var now = time.GetUtcNow();
        var users = new List<User>();
        var linked = new List<TeamMember>();
        foreach (var m in added)
        {
            var found = await FindOrCreateUserAsync(m.UserId, m.UserEmail, r.Actor, ct);
            // LiteLLM keeps the user's teams in the user row too (its user_info.teams, updated_users[].teams).
            var user = await JoinTeamAsync(found, team.TeamId, now, ct);
            users.Add(user);
            linked.Add(m with { UserId = user.UserId, UserEmail = m.UserEmail ?? user.UserEmail });
        }
        var memberships = new List<TeamMembership>();
        if (budget is not null)
        {
            foreach (var u in users)
            {
                var membership = new TeamMembership(team.TeamId, u.UserId, budget, now);
                await store.SaveTeamMembershipAsync(membership, ct);
                memberships.Add(membership);
            }
        }
        var members = team.Members.Where(m => !linked.Any(a => Same(a, m))).Concat(linked).ToList();
        var after = team with { Members = members, UpdatedAt = now };
        await SaveTeamAsync(r, "team.member_add", team, after, ct);
        // LiteLLM's TeamAddMemberResponse: the team, with the users and memberships the call touched.
        return KeyResult.Ok(w =>
        {
            WriteTeam(w, after, null, end: false);
            w.WriteStartArray("updated_users");
            foreach (var u in users) WriteUser(w, u);
            w.WriteEndArray();
            w.WriteStartArray("updated_team_memberships");
            foreach (var m in memberships) WriteMembership(w, m, 0);
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    public async Task<KeyResult> UpdateMemberAsync(KeyRequest r, CancellationToken ct)
    {
        var (team, error) = await FindTeamAsync(r, ct);
        if (team is null) return KeyResult.Fail(error!);
        var (member, missing) = FindMember(r, team);
        var role = r.String("role");
        var budgetGiven = r.Has("max_budget_in_team");
        var budget = r.Decimal("max_budget_in_team");
        if (role is not (null or "admin" or "user")) r.Errors.Add($"'role' is 'admin' or 'user', got '{role}'");
        if (r.Error is { } invalid) return KeyResult.Fail(invalid);
        if (member is null) return KeyResult.Fail(missing!);
        var userId = member.UserId ?? (member.UserEmail is { } email ? (await store.FindUserByEmailAsync(email, ct))?.UserId : null);
        if (userId is null) return KeyResult.Fail(ApiError.BadRequest("That member has no user to hold a budget: add it by user_id.", "user_id"));
        var now = time.GetUtcNow();
        if (role is not null && role != member.Role)
        {
            var members = team.Members.Select(m => Same(member, m) ? m with { Role = role } : m).ToList();
            await SaveTeamAsync(r, "team.member_update", team, team with { Members = members, UpdatedAt = now }, ct);
        }
        var current = await store.FindTeamMembershipAsync(team.TeamId, userId, ct);
        if (budgetGiven)
        {
            if (budget is null) await store.DeleteTeamMembershipAsync(team.TeamId, userId, ct);
            else await store.SaveTeamMembershipAsync(new TeamMembership(team.TeamId, userId, budget, current?.CreatedAt ?? now), ct);
            var change = KeyResult.Ok(w =>
            {
                w.WriteStartObject();
                w.WriteString("user_id", userId);
                if (budget is { } b) w.WriteNumber("max_budget_in_team", b); else w.WriteNull("max_budget_in_team");
                w.WriteEndObject();
            }).Text;
            await audit.RecordAsync(r.Actor, "team.member_update", "team", team.TeamId, null, change, ct);
            registry.InvalidateAll();
        }
        var finalBudget = budgetGiven ? budget : current?.MaxBudgetInTeam;
        // LiteLLM's TeamMemberUpdateResponse.
        return KeyResult.Ok(w =>
        {
            w.WriteStartObject();
            w.WriteString("team_id", team.TeamId);
            w.WriteString("user_id", userId);
            JsonOut.Nullable(w, "user_email", member.UserEmail);
            if (finalBudget is { } fb) w.WriteNumber("max_budget_in_team", fb); else w.WriteNull("max_budget_in_team");
            w.WriteEndObject();
        });
    }

    public async Task<KeyResult> DeleteMemberAsync(KeyRequest r, CancellationToken ct)
    {
        var (team, error) = await FindTeamAsync(r, ct);
        if (team is null) return KeyResult.Fail(error!);
        var (member, missing) = FindMember(r, team);
        if (r.Error is { } invalid) return KeyResult.Fail(invalid);
        if (member is null) return KeyResult.Fail(missing!);
        var members = team.Members.Where(m => !Same(member, m)).ToList();
        if (member.UserId is { } userId)
        {
            await store.DeleteTeamMembershipAsync(team.TeamId, userId, ct);
            if (await store.FindUserAsync(userId, ct) is { } user && user.Teams.Contains(team.TeamId))
                await store.SaveUserAsync(user with { Teams = [.. user.Teams.Where(t => t != team.TeamId)], UpdatedAt = time.GetUtcNow() }, insert: false, ct);
        }
        return await SaveTeamAsync(r, "team.member_delete", team, team with { Members = members, UpdatedAt = time.GetUtcNow() }, ct);
    }

    /// <summary>The member a request names by user_id or user_email (either matches a member linked by both).</summary>
    private static (TeamMember?, ApiError?) FindMember(KeyRequest r, Team team)
    {
        var named = new TeamMember(r.String("user_id"), r.String("user_email"), "user");
        if (named.UserId is null && named.UserEmail is null) return (null, ApiError.BadRequest("Name the member in 'user_id' or 'user_email'.", "user_id"));
        var found = team.Members.FirstOrDefault(m => Same(named, m));
        return found is null ? (null, new ApiError(404, "That user is not a member of this team.", "invalid_request_error", "member_not_found", "user_id")) : (found, null);
    }

    /// <summary>
    /// The user a member entry names: by user_id, else by user_email. One that does not exist is created as LiteLLM
    /// creates it (the given id, or a new one, with the email), so /user/info lists the team.
    /// </summary>
    /// <summary>The user with the team among its teams, saved when it was not there yet.</summary>
    private async Task<User> JoinTeamAsync(User user, string teamId, DateTimeOffset now, CancellationToken ct)
    {
        if (user.Teams.Contains(teamId)) return user;
        var joined = user with { Teams = [.. user.Teams, teamId], UpdatedAt = now };
        await store.SaveUserAsync(joined, insert: false, ct);
        return joined;
    }

    /// <summary>A value as LiteLLM's message prints it (Python's repr: 'text' or None).</summary>
    private static string PyStr(string? s) => s is null ? "None" : $"'{s}'";

    /// <summary>The team's members as LiteLLM's error message prints its members_with_roles (a list of pydantic Member reprs).</summary>
    private static string PyMembers(IEnumerable<TeamMember> members) =>
        "[" + string.Join(", ", members.Select(m => $"Member(role={PyStr(m.Role)}, user_id={PyStr(m.UserId)}, user_email={PyStr(m.UserEmail)})")) + "]";

    internal async Task<User> FindOrCreateUserAsync(string? userId, string? email, string actor, CancellationToken ct)
    {
        var existing = userId is not null ? await store.FindUserAsync(userId, ct) : email is not null ? await store.FindUserByEmailAsync(email, ct) : null;
        if (existing is not null) return existing;
        var now = time.GetUtcNow();
        var user = new User { UserId = userId ?? Guid.NewGuid().ToString(), UserEmail = email, UserRole = "internal_user", CreatedAt = now, UpdatedAt = now };
        try { await store.SaveUserAsync(user, insert: true, ct); }
        catch (System.Data.Common.DbException)
        {
            // Another request (or replica) created it first; anything else is the store's failure.
            var raced = await store.FindUserAsync(user.UserId, ct);
            if (raced is null) throw;
            return raced;
        }
        await audit.RecordAsync(actor, "user.create", "user", user.UserId, null, UserJson(user), ct);
        return user;
    }

    /// <summary>Members named only by email are linked to the user with that email, when there is one.</summary>
    private async Task<List<TeamMember>> LinkAsync(List<TeamMember> members, CancellationToken ct)
    {
        var linked = new List<TeamMember>(members.Count);
        foreach (var m in members)
        {
            if (m.UserId is null && m.UserEmail is { } email && await store.FindUserByEmailAsync(email, ct) is { } user) linked.Add(m with { UserId = user.UserId });
            else linked.Add(m);
        }
        return linked;
    }

    /// <summary>A team's budgeted memberships (of one user, or all), each with its spend so far in the team.</summary>
    private async Task<List<(TeamMembership, long)>> MembershipsAsync(Team team, string? userId, CancellationToken ct)
    {
        var list = new List<(TeamMembership, long)>();
        if (userId is not null && !team.Members.Any(m => m.UserId == userId)) return list;
        var budgeted = await store.ListTeamMembershipsAsync(team.TeamId, userId, ct);
        // LiteLLM lists a membership for each member, with its budget table when it has one.
        var ids = userId is not null ? [userId] : team.Members.Select(m => m.UserId).OfType<string>().Distinct().ToList();
        foreach (var id in ids)
        {
            var m = budgeted.FirstOrDefault(b => b.UserId == id) ?? new TeamMembership(team.TeamId, id, null, team.CreatedAt);
            list.Add((m, await spend.SpendSinceAsync(m, DateTimeOffset.MinValue, ct)));
        }
        return list;
    }

    private static void WriteMemberships(Utf8JsonWriter w, List<(TeamMembership, long)> memberships)
    {
        w.WriteStartArray("team_memberships");
        foreach (var (m, spent) in memberships) WriteMembership(w, m, spent);
        w.WriteEndArray();
    }

    /// <summary>LiteLLM's LiteLLM_TeamMembership: the user, the team, its spend there and its budget table (null when it has none).</summary>
    private static void WriteMembership(Utf8JsonWriter w, TeamMembership m, long spentNanos)
    {
        w.WriteStartObject();
        w.WriteString("user_id", m.UserId);
        w.WriteString("team_id", m.TeamId);
        w.WriteNumber("spend", Money.FromNanos(spentNanos));
        if (m.MaxBudgetInTeam is { } max)
        {
            w.WriteString("budget_id", $"{m.TeamId}/{m.UserId}");
            w.WriteStartObject("litellm_budget_table");
            w.WriteString("budget_id", $"{m.TeamId}/{m.UserId}");
            w.WriteNumber("max_budget", max);
            w.WriteNull("soft_budget");
            w.WriteNull("max_parallel_requests");
            w.WriteNull("tpm_limit");
            w.WriteNull("rpm_limit");
            w.WriteNull("budget_duration");
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("budget_id");
            w.WriteNull("litellm_budget_table");
        }
        w.WriteEndObject();
    }
}
