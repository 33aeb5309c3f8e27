using System.Text.Json;
using AgenticGateway.Keys;
using AgenticGateway.OpenAi;
using AgenticGateway.Pricing;

namespace AgenticGateway.Services.Admin;

/// <summary>
/// LiteLLM's /organization/* operations, in its request and response shapes: organizations own teams, and their
/// budget (reserved like a team's), rate limits and models bind every key of those teams; a member's
/// max_budget_in_organization binds that user's keys there. LiteLLM keeps an
/// organization's budget in a budget table row; we answer with the same litellm_budget_table object.
/// </summary>
internal sealed class OrganizationManager(IIdentityStore store, IdentityManager identities, KeyRegistry registry, AuditLog audit, TimeProvider time, Spend.SpendStore spend)
{
    /// <summary>The roles LiteLLM allows inside an organization (LitellmUserRoles).</summary>
    private static readonly string[] Roles = ["org_admin", "internal_user", "internal_user_viewer"];

    public async Task<KeyResult> NewAsync(KeyRequest r, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var id = r.String("organization_id") ?? Guid.NewGuid().ToString();
        var alias = r.String("organization_alias");
        var org = Apply(r, new Organization { OrganizationId = id, CreatedBy = r.Actor, UpdatedBy = r.Actor, CreatedAt = now, UpdatedAt = now });
        if (alias is null && r.Errors.Count == 0) r.Errors.Add("'organization_alias' is required");
        if (r.Error is { } error) return KeyResult.Fail(error);
        if (await store.FindOrganizationAsync(id, ct) is not null)
            return KeyResult.Fail(ApiError.BadRequest($"Organization '{id}' already exists.", "organization_id", "duplicate_organization"));
        await store.SaveOrganizationAsync(org, insert: true, ct);
        await audit.RecordAsync(r.Actor, "organization.create", "organization", id, null, Json(org), ct);
        return KeyResult.Ok(w => Write(w, org, null, null));
    }

    public async Task<KeyResult> InfoAsync(KeyRequest r, CancellationToken ct)
    {
        // LiteLLM's POST /organization/info of old took {"organizations": [...]} and answered a list.
        if (r.StringList("organizations") is { } many)
        {
            var found = new List<Organization>();
            foreach (var one in many) if (await store.FindOrganizationAsync(one, ct) is { } o) found.Add(o);
            return await ListOfAsync(found, ct);
        }
        var (org, error) = await FindAsync(r, ct);
        if (org is null) return KeyResult.Fail(error!);
        var (members, teams) = await DetailsAsync(org, ct);
        return KeyResult.Ok(w => Write(w, org, members, teams));
    }

    public async Task<KeyResult> ListAsync(KeyRequest r, CancellationToken ct) => await ListOfAsync(await store.ListOrganizationsAsync(ct), ct);

    private async Task<KeyResult> ListOfAsync(IReadOnlyList<Organization> orgs, CancellationToken ct)
    {
        // The teams are read once for the whole list, not once per organization.
        var allTeams = await store.ListTeamsAsync(null, ct);
        var details = new List<(Organization, IReadOnlyList<(OrganizationMember, long)>, IReadOnlyList<Team>)>();
        foreach (var o in orgs)
        {
            var (members, teams) = await DetailsAsync(o, allTeams, ct);
            details.Add((o, members, teams));
        }
        return KeyResult.Ok(w => WriteAll(w, details));
    }

    private static void WriteAll(Utf8JsonWriter w, List<(Organization, IReadOnlyList<(OrganizationMember, long)>, IReadOnlyList<Team>)> details)
    {
        w.WriteStartArray();
        foreach (var (o, members, teams) in details) Write(w, o, members, teams);
        w.WriteEndArray();
    }

    public async Task<KeyResult> UpdateAsync(KeyRequest r, CancellationToken ct)
    {
        var (org, error) = await FindAsync(r, ct);
        if (org is null) return KeyResult.Fail(error!);
        var updated = Apply(r, org) with { UpdatedBy = r.Actor, UpdatedAt = time.GetUtcNow() };
        if (r.Error is { } invalid) return KeyResult.Fail(invalid);
        await store.SaveOrganizationAsync(updated, insert: false, ct);
        await audit.RecordAsync(r.Actor, "organization.update", "organization", org.OrganizationId, Json(org), Json(updated), ct);
        registry.InvalidateAll();
        var (members, teams) = await DetailsAsync(updated, ct);
        return KeyResult.Ok(w => Write(w, updated, members, teams));
    }

    public async Task<KeyResult> DeleteAsync(KeyRequest r, CancellationToken ct)
    {
        var ids = r.StringList("organization_ids");
        if (r.Error is { } invalid) return KeyResult.Fail(invalid);
        if (ids is null || ids.Count == 0) return KeyResult.Fail(ApiError.BadRequest("Name the organizations to delete in 'organization_ids'.", "organization_ids"));
        var found = new List<(Organization, IReadOnlyList<(OrganizationMember, long)>, IReadOnlyList<Team>)>();
        var allTeams = await store.ListTeamsAsync(null, ct);
        foreach (var id in ids)
        {
            if (await store.FindOrganizationAsync(id, ct) is not { } org) return KeyResult.Fail(NotFound(id));
            var (members, teams) = await DetailsAsync(org, allTeams, ct);
            found.Add((org, members, teams));
        }
        foreach (var (org, _, _) in found)
        {
            await store.DeleteOrganizationAsync(org.OrganizationId, ct);
            await audit.RecordAsync(r.Actor, "organization.delete", "organization", org.OrganizationId, Json(org), null, ct);
        }
        registry.InvalidateAll();
        return KeyResult.Ok(w => WriteAll(w, found));
    }

    /// <summary>LiteLLM's /organization/member_add: members by user_id or user_email (created when missing), with a role and an optional budget there.</summary>
    public async Task<KeyResult> MemberAddAsync(KeyRequest r, CancellationToken ct)
    {
        var (org, error) = await FindAsync(r, ct);
        if (org is null) return KeyResult.Fail(error!);
        var budget = r.Decimal("max_budget_in_organization");
        var entries = new List<(string? UserId, string? Email, string Role)>();
        if (r.Element("member") is { } e)
        {
            foreach (var item in e.ValueKind == JsonValueKind.Array ? e.EnumerateArray().ToList() : [e])
            {
                if (item.ValueKind != JsonValueKind.Object) { r.Errors.Add("'member' must hold member objects"); break; }
                string? Str(string p) => item.TryGetProperty(p, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
                var role = Str("role");
                if (Str("user_id") is null && Str("user_email") is null) r.Errors.Add("each 'member' entry needs a user_id or user_email");
                else if (role is null || !Roles.Contains(role)) r.Errors.Add($"a member's role is one of {string.Join(", ", Roles)}, got '{role}'");
                else entries.Add((Str("user_id"), Str("user_email"), role));
            }
        }
        if (r.Error is { } invalid) return KeyResult.Fail(invalid);
        if (entries.Count == 0) return KeyResult.Fail(ApiError.BadRequest("Give the member to add in 'member' ({\"role\": \"internal_user\", \"user_id\": ...}).", "member"));
        var now = time.GetUtcNow();
        var users = new List<User>();
        var memberships = new List<OrganizationMember>();
        foreach (var (userId, email, role) in entries)
        {
            var user = await identities.FindOrCreateUserAsync(userId, email, r.Actor, ct);
            var membership = new OrganizationMember(org.OrganizationId, user.UserId, role, budget, now, now);
            await store.SaveOrganizationMemberAsync(membership, ct);
            users.Add(user);
            memberships.Add(membership);
        }
        await audit.RecordAsync(r.Actor, "organization.member_add", "organization", org.OrganizationId, null,
            $"[{string.Join(",", users.Select(u => JsonSerializer.Serialize(u.UserId, KeyJsonContext.Default.String)))}]", ct);
        registry.InvalidateAll();
        // LiteLLM's OrganizationAddMemberResponse.
        return KeyResult.Ok(w =>
        {
            w.WriteStartObject();
            w.WriteString("organization_id", org.OrganizationId);
            w.WriteStartArray("updated_users");
            foreach (var u in users) IdentityManager.WriteUser(w, u);
            w.WriteEndArray();
            w.WriteStartArray("updated_organization_memberships");
            foreach (var m in memberships) WriteMember(w, m, 0);
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    private async Task<(IReadOnlyList<(OrganizationMember, long)>, IReadOnlyList<Team>)> DetailsAsync(Organization org, CancellationToken ct) =>
        await DetailsAsync(org, await store.ListTeamsAsync(null, ct), ct);

    private async Task<(IReadOnlyList<(OrganizationMember, long)>, IReadOnlyList<Team>)> DetailsAsync(Organization org, IReadOnlyList<Team> allTeams, CancellationToken ct)
    {
        var members = new List<(OrganizationMember, long)>();
        foreach (var m in await store.ListOrganizationMembersAsync(org.OrganizationId, null, ct)) members.Add((m, await spend.SpendSinceAsync(m, DateTimeOffset.MinValue, ct)));
        var teams = allTeams.Where(t => t.OrganizationId == org.OrganizationId).ToList();
        return (members, teams);
    }

    private static Organization Apply(KeyRequest r, Organization o) => o with
    {
        OrganizationAlias = r.Has("organization_alias") ? r.String("organization_alias") : o.OrganizationAlias,
        Models = r.StringList("models") ?? o.Models,
        Limits = r.Limits(o.Limits),
        Metadata = r.ObjectText("metadata") ?? o.Metadata,
    };

    private async Task<(Organization?, ApiError?)> FindAsync(KeyRequest r, CancellationToken ct)
    {
        var id = r.String("organization_id");
        if (r.Error is { } invalid) return (null, invalid);
        if (string.IsNullOrEmpty(id)) return (null, ApiError.BadRequest("Name the organization in 'organization_id'.", "organization_id"));
        var org = await store.FindOrganizationAsync(id, ct);
        return org is null ? (null, NotFound(id)) : (org, null);
    }

    private static ApiError NotFound(string id) =>
        new(404, $"Organization not found for organization_id={id}", "invalid_request_error", "organization_not_found", "organization_id");

    private static string Json(Organization o) => KeyResult.Ok(w => Write(w, o, null, null)).Text;

    /// <summary>LiteLLM's LiteLLM_OrganizationTableWithMembers (members and teams only where the endpoint includes them).</summary>
    internal static void Write(Utf8JsonWriter w, Organization o, IReadOnlyList<(OrganizationMember, long)>? members, IReadOnlyList<Team>? teams)
    {
        w.WriteStartObject();
        w.WriteString("organization_id", o.OrganizationId);
        JsonOut.Nullable(w, "organization_alias", o.OrganizationAlias);
        w.WriteString("budget_id", o.OrganizationId);
        w.WriteNumber("spend", o.Spend);
        JsonOut.Raw(w, "metadata", o.Metadata);
        JsonOut.Strings(w, "models", o.Models);
        w.WriteString("created_by", o.CreatedBy);
        w.WriteString("updated_by", o.UpdatedBy);
        w.WriteString("created_at", o.CreatedAt);
        w.WriteString("updated_at", o.UpdatedAt);
        w.WritePropertyName("litellm_budget_table");
        WriteBudget(w, o.OrganizationId, o.Limits, o);
        if (members is not null)
        {
            w.WriteStartArray("members");
            foreach (var (m, spent) in members) WriteMember(w, m, spent);
            w.WriteEndArray();
        }
        if (teams is not null)
        {
            w.WriteStartArray("teams");
            foreach (var t in teams) IdentityManager.WriteTeam(w, t);
            w.WriteEndArray();
        }
        w.WriteEndObject();
    }

    /// <summary>LiteLLM's LiteLLM_BudgetTable.</summary>
    private static void WriteBudget(Utf8JsonWriter w, string budgetId, LimitSettings l, ILimitHolder? holder)
    {
        w.WriteStartObject();
        w.WriteString("budget_id", budgetId);
        if (l.MaxBudget is { } max) w.WriteNumber("max_budget", max); else w.WriteNull("max_budget");
        w.WriteNull("soft_budget");
        JsonOut.Nullable(w, "max_parallel_requests", l.MaxParallelRequests);
        JsonOut.Nullable(w, "tpm_limit", l.TpmLimit);
        JsonOut.Nullable(w, "rpm_limit", l.RpmLimit);
        w.WriteNull("model_max_budget");
        JsonOut.Nullable(w, "budget_duration", l.BudgetDuration);
        var (_, end) = holder is null ? (default, null) : BudgetPeriod.Current(l.BudgetDuration, holder.CreatedAt, DateTimeOffset.UtcNow);
        if (end is { } reset) w.WriteString("budget_reset_at", reset); else w.WriteNull("budget_reset_at");
        w.WriteEndObject();
    }

    /// <summary>LiteLLM's LiteLLM_OrganizationMembershipTable, with the member's spend in the organization so far.</summary>
    private static void WriteMember(Utf8JsonWriter w, OrganizationMember m, long spentNanos)
    {
        w.WriteStartObject();
        w.WriteString("user_id", m.UserId);
        w.WriteString("organization_id", m.OrganizationId);
        JsonOut.Nullable(w, "user_role", m.UserRole);
        w.WriteNumber("spend", Money.FromNanos(spentNanos));
        if (m.MaxBudget is { } max)
        {
            w.WriteString("budget_id", $"{m.OrganizationId}/{m.UserId}");
            w.WritePropertyName("litellm_budget_table");
            WriteBudget(w, $"{m.OrganizationId}/{m.UserId}", new LimitSettings { MaxBudget = max }, null);
        }
        else
        {
            w.WriteNull("budget_id");
            w.WriteNull("litellm_budget_table");
        }
        w.WriteString("created_at", m.CreatedAt);
        w.WriteString("updated_at", m.UpdatedAt);
        w.WriteEndObject();
    }
}
