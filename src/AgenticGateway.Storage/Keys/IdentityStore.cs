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
                                 max_parallel_requests, members, metadata, blocked, created_at, updated_at)
              VALUES (@team_id, @team_alias, @models, @max_budget, @budget_duration, 0, @rpm_limit, @tpm_limit, @tpd_limit,
                      @max_parallel_requests, @members, @metadata, @blocked, @created_at, @updated_at)
              """
            : """
              UPDATE teams SET team_alias = @team_alias, models = @models, max_budget = @max_budget, budget_duration = @budget_duration,
                  rpm_limit = @rpm_limit, tpm_limit = @tpm_limit, tpd_limit = @tpd_limit, max_parallel_requests = @max_parallel_requests,
                  members = @members, metadata = @metadata, blocked = @blocked, updated_at = @updated_at
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

#pragma warning disable IDE1006 // names match the columns
    private sealed class TeamRow : LimitColumns
    {
        public string team_id { get; set; } = "";
        public string? team_alias { get; set; }
        public string models { get; set; } = "[]";
        public string members { get; set; } = "[]";
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
                blocked = t.Blocked ? 1 : 0, created_at = Columns.Time(t.CreatedAt), updated_at = Columns.Time(t.UpdatedAt),
            };
            row.SetLimits(t.Limits, t.Spend);
            return row;
        }

        public Team ToTeam() => new()
        {
            TeamId = team_id, TeamAlias = team_alias, Models = Columns.List(models), Limits = ToLimits(), Spend = Spend,
            Members = JsonSerializer.Deserialize(members, KeyJsonContext.Default.ListTeamMember) ?? [], Metadata = metadata,
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
#pragma warning restore IDE1006
}
