using System.Text.Json;
using AgenticGateway.Spend;
using AgenticGateway.Storage;
using Dapper;

namespace AgenticGateway.Keys;

/// <summary>Teams and users in the gateway's database (SQLite or PostgreSQL).</summary>
internal sealed class IdentityStore(IDatabase db) : IIdentityStore
{
    public async Task<Team?> FindTeamAsync(string teamId, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return (await c.QuerySingleOrDefaultAsync<TeamRow>("SELECT * FROM teams WHERE team_id = @teamId", new { teamId }))?.ToTeam();
    }

    public async Task<IReadOnlyList<Team>> ListTeamsAsync(string? userId, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var teams = (await c.QueryAsync<TeamRow>("SELECT * FROM teams ORDER BY created_at")).Select(r => r.ToTeam());
        return userId is null ? teams.ToList() : teams.Where(t => t.Members.Any(m => m.UserId == userId)).ToList();
    }

    /// <summary>Inserts or replaces a team.</summary>
    public async Task SaveTeamAsync(Team t, bool insert, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var sql = insert
            ? """
              INSERT INTO teams (team_id, team_alias, models, max_budget, budget_duration, spend_nanos, rpm_limit, tpm_limit, tpd_limit,
                                 max_parallel_requests, members, metadata, blocked, created_at, updated_at, organization_id, model_aliases, object_permission)
              VALUES (@team_id, @team_alias, @models, @max_budget, @budget_duration, 0, @rpm_limit, @tpm_limit, @tpd_limit,
                      @max_parallel_requests, @members, @metadata, @blocked, @created_at, @updated_at, @organization_id, @model_aliases, @object_permission)
              """
            : """
              UPDATE teams SET team_alias = @team_alias, models = @models, max_budget = @max_budget, budget_duration = @budget_duration,
                  rpm_limit = @rpm_limit, tpm_limit = @tpm_limit, tpd_limit = @tpd_limit, max_parallel_requests = @max_parallel_requests,
                  members = @members, metadata = @metadata, blocked = @blocked, updated_at = @updated_at,
                  organization_id = @organization_id, model_aliases = @model_aliases, object_permission = @object_permission
              WHERE team_id = @team_id
              """;
        await c.ExecuteAsync(sql, TeamRow.From(t));
    }

    public Task<IReadOnlyList<string>> DeleteTeamsAsync(IReadOnlyList<string> ids, CancellationToken ct) => db.DeleteWhereInAsync("teams", "team_id", ids, ct);

    public async Task<User?> FindUserAsync(string userId, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return (await c.QuerySingleOrDefaultAsync<UserRow>("SELECT * FROM users WHERE user_id = @userId", new { userId }))?.ToUser();
    }

    public async Task<IReadOnlyList<User>> ListUsersAsync(int limit, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return (await c.QueryAsync<UserRow>("SELECT * FROM users ORDER BY created_at LIMIT @limit", new { limit })).Select(r => r.ToUser()).ToList();
    }

    public async Task SaveUserAsync(User u, bool insert, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var sql = insert
            ? """
              INSERT INTO users (user_id, user_email, user_role, teams, models, max_budget, budget_duration, spend_nanos, rpm_limit, tpm_limit,
                                 tpd_limit, max_parallel_requests, metadata, created_at, updated_at)
              VALUES (@user_id, @user_email, @user_role, @teams, @models, @max_budget, @budget_duration, 0, @rpm_limit, @tpm_limit,
                      @tpd_limit, @max_parallel_requests, @metadata, @created_at, @updated_at)
              """
            : """
              UPDATE users SET user_email = @user_email, user_role = @user_role, teams = @teams, models = @models, max_budget = @max_budget,
                  budget_duration = @budget_duration, rpm_limit = @rpm_limit, tpm_limit = @tpm_limit, tpd_limit = @tpd_limit,
                  max_parallel_requests = @max_parallel_requests, metadata = @metadata, updated_at = @updated_at
              WHERE user_id = @user_id
              """;
        await c.ExecuteAsync(sql, UserRow.From(u));
    }

    public Task<IReadOnlyList<string>> DeleteUsersAsync(IReadOnlyList<string> ids, CancellationToken ct) => db.DeleteWhereInAsync("users", "user_id", ids, ct);

    public async Task<User?> FindUserByEmailAsync(string email, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return (await c.QueryFirstOrDefaultAsync<UserRow>("SELECT * FROM users WHERE user_email = @email ORDER BY created_at", new { email }))?.ToUser();
    }

    public async Task SetUserSpendAsync(string userId, decimal spend, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        await c.ExecuteAsync("UPDATE users SET spend_nanos = @nanos WHERE user_id = @userId", new { nanos = Pricing.Money.ToNanos(spend), userId });
    }

    // ----- organizations -----

    public async Task<Organization?> FindOrganizationAsync(string organizationId, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return (await c.QuerySingleOrDefaultAsync<OrganizationRow>("SELECT * FROM organizations WHERE organization_id = @organizationId", new { organizationId }))?.ToOrganization();
    }

    public async Task<IReadOnlyList<Organization>> ListOrganizationsAsync(CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return (await c.QueryAsync<OrganizationRow>("SELECT * FROM organizations ORDER BY created_at DESC")).Select(r => r.ToOrganization()).ToList();
    }

    public async Task SaveOrganizationAsync(Organization o, bool insert, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var sql = insert
            ? """
              INSERT INTO organizations (organization_id, organization_alias, models, max_budget, budget_duration, spend_nanos, rpm_limit, tpm_limit, tpd_limit,
                                         max_parallel_requests, metadata, created_by, updated_by, created_at, updated_at)
              VALUES (@organization_id, @organization_alias, @models, @max_budget, @budget_duration, 0, @rpm_limit, @tpm_limit, @tpd_limit,
                      @max_parallel_requests, @metadata, @created_by, @updated_by, @created_at, @updated_at)
              """
            : """
              UPDATE organizations SET organization_alias = @organization_alias, models = @models, max_budget = @max_budget, budget_duration = @budget_duration,
                  rpm_limit = @rpm_limit, tpm_limit = @tpm_limit, tpd_limit = @tpd_limit, max_parallel_requests = @max_parallel_requests,
                  metadata = @metadata, updated_by = @updated_by, updated_at = @updated_at
              WHERE organization_id = @organization_id
              """;
        await c.ExecuteAsync(sql, OrganizationRow.From(o));
    }

    public async Task<bool> DeleteOrganizationAsync(string organizationId, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        // Teams first, the organization last: the order in which the spend writer adds spend (keys, users, teams,
        // organizations). The other way round, a spend batch holding the team's row while waiting for the organization's
        // deadlocked with this (PostgreSQL aborts one of the two).
        // Teams stay (with their keys): only the level above them goes.
        await c.ExecuteAsync("UPDATE teams SET organization_id = NULL WHERE organization_id = @organizationId", new { organizationId }, tx);
        await c.ExecuteAsync("DELETE FROM organization_members WHERE organization_id = @organizationId", new { organizationId }, tx);
        var n = await c.ExecuteAsync("DELETE FROM organizations WHERE organization_id = @organizationId", new { organizationId }, tx);
        await tx.CommitAsync(ct);
        return n > 0;
    }

    public async Task<IReadOnlyList<OrganizationMember>> ListOrganizationMembersAsync(string? organizationId, string? userId, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var rows = await c.QueryAsync<(string, string, string?, string?, string, string)>(
            """
            SELECT organization_id, user_id, user_role, max_budget, created_at, updated_at FROM organization_members
            WHERE (@organizationId IS NULL OR organization_id = @organizationId) AND (@userId IS NULL OR user_id = @userId) ORDER BY created_at
            """, new { organizationId, userId });
        return rows.Select(r => new OrganizationMember(r.Item1, r.Item2, r.Item3, Money(r.Item4), Columns.Time(r.Item5), Columns.Time(r.Item6))).ToList();
    }

    public async Task SaveOrganizationMemberAsync(OrganizationMember m, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        await c.ExecuteAsync("""
            INSERT INTO organization_members (organization_id, user_id, user_role, max_budget, created_at, updated_at)
            VALUES (@organization_id, @user_id, @user_role, @max_budget, @created_at, @updated_at)
            ON CONFLICT (organization_id, user_id) DO UPDATE SET user_role = excluded.user_role, max_budget = excluded.max_budget, updated_at = excluded.updated_at
            """, new
        {
            organization_id = m.OrganizationId, user_id = m.UserId, user_role = m.UserRole, max_budget = Text(m.MaxBudget),
            created_at = Columns.Time(m.CreatedAt), updated_at = Columns.Time(m.UpdatedAt),
        });
    }

    // ----- team memberships (a user's budget in a team) -----

    public async Task<TeamMembership?> FindTeamMembershipAsync(string teamId, string userId, CancellationToken ct) =>
        (await ListTeamMembershipsAsync(teamId, userId, ct)).FirstOrDefault();

    public async Task<IReadOnlyList<TeamMembership>> ListTeamMembershipsAsync(string? teamId, string? userId, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var rows = await c.QueryAsync<(string, string, string?, string)>(
            "SELECT team_id, user_id, max_budget, created_at FROM team_memberships WHERE (@teamId IS NULL OR team_id = @teamId) AND (@userId IS NULL OR user_id = @userId) ORDER BY created_at",
            new { teamId, userId });
        return rows.Select(r => new TeamMembership(r.Item1, r.Item2, Money(r.Item3), Columns.Time(r.Item4))).ToList();
    }

    public async Task SaveTeamMembershipAsync(TeamMembership m, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        await c.ExecuteAsync("""
            INSERT INTO team_memberships (team_id, user_id, max_budget, created_at) VALUES (@team_id, @user_id, @max_budget, @created_at)
            ON CONFLICT (team_id, user_id) DO UPDATE SET max_budget = excluded.max_budget
            """, new { team_id = m.TeamId, user_id = m.UserId, max_budget = Text(m.MaxBudgetInTeam), created_at = Columns.Time(m.CreatedAt) });
    }

    public async Task DeleteTeamMembershipAsync(string teamId, string userId, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        await c.ExecuteAsync("DELETE FROM team_memberships WHERE team_id = @teamId AND user_id = @userId", new { teamId, userId });
    }

    private static string? Text(decimal? d) => d?.ToString(System.Globalization.CultureInfo.InvariantCulture);
    private static decimal? Money(string? s) => s is null ? null : decimal.Parse(s, System.Globalization.CultureInfo.InvariantCulture);

#pragma warning disable IDE1006 // names match the columns
    private sealed class TeamRow : LimitColumns
    {
        public string team_id { get; set; } = "";
        public string? team_alias { get; set; }
        public string models { get; set; } = "[]";
        public string members { get; set; } = "[]";
        public string? organization_id { get; set; }
        public string model_aliases { get; set; } = "{}";
        public string? object_permission { get; set; }
        public string metadata { get; set; } = "{}";
        public long blocked { get; set; }
        public string created_at { get; set; } = "";
        public string updated_at { get; set; } = "";

        public static TeamRow From(Team t)
        {
            var row = new TeamRow
            {
                team_id = t.TeamId, team_alias = t.TeamAlias, models = Columns.Json(t.Models),
                members = JsonSerializer.Serialize(t.Members.ToList(), KeyJsonContext.Default.ListTeamMember), metadata = t.Metadata,
                organization_id = t.OrganizationId, model_aliases = Columns.Map(t.ModelAliases), object_permission = t.ObjectPermission?.ToJson(),
                blocked = t.Blocked ? 1 : 0, created_at = Columns.Time(t.CreatedAt), updated_at = Columns.Time(t.UpdatedAt),
            };
            row.SetLimits(t.Limits, t.Spend);
            return row;
        }

        public Team ToTeam() => new()
        {
            TeamId = team_id, TeamAlias = team_alias, Models = Columns.List(models), Limits = ToLimits(), Spend = Spend,
            Members = JsonSerializer.Deserialize(members, KeyJsonContext.Default.ListTeamMember) ?? [], Metadata = metadata,
            OrganizationId = organization_id, ModelAliases = Columns.Map(model_aliases), ObjectPermission = ObjectPermission.FromJson(object_permission),
            Blocked = blocked != 0, CreatedAt = Columns.Time(created_at), UpdatedAt = Columns.Time(updated_at),
        };
    }

    private sealed class UserRow : LimitColumns
    {
        public string user_id { get; set; } = "";
        public string? user_email { get; set; }
        public string? user_role { get; set; }
        public string teams { get; set; } = "[]";
        public string models { get; set; } = "[]";
        public string metadata { get; set; } = "{}";
        public string created_at { get; set; } = "";
        public string updated_at { get; set; } = "";

        public static UserRow From(User u)
        {
            var row = new UserRow
            {
                user_id = u.UserId, user_email = u.UserEmail, user_role = u.UserRole, teams = Columns.Json(u.Teams), models = Columns.Json(u.Models),
                metadata = u.Metadata, created_at = Columns.Time(u.CreatedAt), updated_at = Columns.Time(u.UpdatedAt),
            };
            row.SetLimits(u.Limits, u.Spend);
            return row;
        }

        public User ToUser() => new()
        {
            UserId = user_id, UserEmail = user_email, UserRole = user_role, Teams = Columns.List(teams), Models = Columns.List(models),
            Limits = ToLimits(), Spend = Spend, Metadata = metadata, CreatedAt = Columns.Time(created_at), UpdatedAt = Columns.Time(updated_at),
        };
    }
    private sealed class OrganizationRow : LimitColumns
    {
        public string organization_id { get; set; } = "";
        public string? organization_alias { get; set; }
        public string models { get; set; } = "[]";
        public string metadata { get; set; } = "{}";
        public string created_by { get; set; } = "";
        public string updated_by { get; set; } = "";
        public string created_at { get; set; } = "";
        public string updated_at { get; set; } = "";

        public static OrganizationRow From(Organization o)
        {
            var row = new OrganizationRow
            {
                organization_id = o.OrganizationId, organization_alias = o.OrganizationAlias, models = Columns.Json(o.Models), metadata = o.Metadata,
                created_by = o.CreatedBy, updated_by = o.UpdatedBy, created_at = Columns.Time(o.CreatedAt), updated_at = Columns.Time(o.UpdatedAt),
            };
            row.SetLimits(o.Limits, o.Spend);
            return row;
        }

        public Organization ToOrganization() => new()
        {
            OrganizationId = organization_id, OrganizationAlias = organization_alias, Models = Columns.List(models), Limits = ToLimits(), Spend = Spend,
            Metadata = metadata, CreatedBy = created_by, UpdatedBy = updated_by, CreatedAt = Columns.Time(created_at), UpdatedAt = Columns.Time(updated_at),
        };
    }
#pragma warning restore IDE1006
}
