using System.Globalization;
using System.Text.Json;
using AgenticGateway.Spend;
using AgenticGateway.Storage;
using Dapper;

namespace AgenticGateway.Keys;

/// <summary>Teams and users in the gateway's database (SQLite or PostgreSQL).</summary>
internal sealed class IdentityStore(IDatabase db)
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

    public async Task<IReadOnlyList<string>> DeleteTeamsAsync(IReadOnlyList<string> ids, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var existing = (await c.QueryAsync<string>($"SELECT team_id FROM teams WHERE {db.In("team_id", "ids")}", new { ids })).ToList();
        await c.ExecuteAsync($"DELETE FROM teams WHERE {db.In("team_id", "ids")}", new { ids = existing });
        return existing;
    }

    public async Task<User?> FindUserAsync(string userId, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return (await c.QuerySingleOrDefaultAsync<UserRow>("SELECT * FROM users WHERE user_id = @userId", new { userId }))?.ToUser();
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

    public async Task<IReadOnlyList<string>> DeleteUsersAsync(IReadOnlyList<string> ids, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var existing = (await c.QueryAsync<string>($"SELECT user_id FROM users WHERE {db.In("user_id", "ids")}", new { ids })).ToList();
        await c.ExecuteAsync($"DELETE FROM users WHERE {db.In("user_id", "ids")}", new { ids = existing });
        return existing;
    }

    private static string Json(IReadOnlyList<string> list) => JsonSerializer.Serialize(list, KeyJsonContext.Default.IReadOnlyListString);
    private static IReadOnlyList<string> List(string json) => JsonSerializer.Deserialize(json, KeyJsonContext.Default.IReadOnlyListString) ?? [];
    private static string? Dec(decimal? d) => d?.ToString(CultureInfo.InvariantCulture);
    private static decimal? Dec(string? s) => s is null ? null : decimal.Parse(s, CultureInfo.InvariantCulture);
    private static DateTimeOffset Time(string s) => DateTimeOffset.Parse(s, CultureInfo.InvariantCulture);

#pragma warning disable IDE1006 // names match the columns
    private sealed class TeamRow
    {
        public string team_id { get; set; } = "";
        public string? team_alias { get; set; }
        public string models { get; set; } = "[]";
        public string? max_budget { get; set; }
        public string? budget_duration { get; set; }
        public long spend_nanos { get; set; }
        public long? rpm_limit { get; set; }
        public long? tpm_limit { get; set; }
        public long? tpd_limit { get; set; }
        public long? max_parallel_requests { get; set; }
        public string members { get; set; } = "[]";
        public string metadata { get; set; } = "{}";
        public long blocked { get; set; }
        public string created_at { get; set; } = "";
        public string updated_at { get; set; } = "";

        public static TeamRow From(Team t) => new()
        {
            team_id = t.TeamId, team_alias = t.TeamAlias, models = Json(t.Models), max_budget = Dec(t.MaxBudget), budget_duration = t.BudgetDuration,
            rpm_limit = t.RpmLimit, tpm_limit = t.TpmLimit, tpd_limit = t.TpdLimit, max_parallel_requests = t.MaxParallelRequests,
            members = JsonSerializer.Serialize(t.Members.ToList(), KeyJsonContext.Default.ListTeamMember), metadata = t.Metadata,
            blocked = t.Blocked ? 1 : 0, created_at = t.CreatedAt.ToString("O"), updated_at = t.UpdatedAt.ToString("O"),
        };

        public Team ToTeam() => new()
        {
            TeamId = team_id, TeamAlias = team_alias, Models = List(models), MaxBudget = Dec(max_budget), BudgetDuration = budget_duration,
            Spend = Money.FromNanos(spend_nanos), RpmLimit = rpm_limit, TpmLimit = tpm_limit, TpdLimit = tpd_limit,
            MaxParallelRequests = (int?)max_parallel_requests,
            Members = JsonSerializer.Deserialize(members, KeyJsonContext.Default.ListTeamMember) ?? [], Metadata = metadata,
            Blocked = blocked != 0, CreatedAt = Time(created_at), UpdatedAt = Time(updated_at),
        };
    }

    private sealed class UserRow
    {
        public string user_id { get; set; } = "";
        public string? user_email { get; set; }
        public string? user_role { get; set; }
        public string teams { get; set; } = "[]";
        public string models { get; set; } = "[]";
        public string? max_budget { get; set; }
        public string? budget_duration { get; set; }
        public long spend_nanos { get; set; }
        public long? rpm_limit { get; set; }
        public long? tpm_limit { get; set; }
        public long? tpd_limit { get; set; }
        public long? max_parallel_requests { get; set; }
        public string metadata { get; set; } = "{}";
        public string created_at { get; set; } = "";
        public string updated_at { get; set; } = "";

        public static UserRow From(User u) => new()
        {
            user_id = u.UserId, user_email = u.UserEmail, user_role = u.UserRole, teams = Json(u.Teams), models = Json(u.Models),
            max_budget = Dec(u.MaxBudget), budget_duration = u.BudgetDuration, rpm_limit = u.RpmLimit, tpm_limit = u.TpmLimit,
            tpd_limit = u.TpdLimit, max_parallel_requests = u.MaxParallelRequests, metadata = u.Metadata,
            created_at = u.CreatedAt.ToString("O"), updated_at = u.UpdatedAt.ToString("O"),
        };

        public User ToUser() => new()
        {
            UserId = user_id, UserEmail = user_email, UserRole = user_role, Teams = List(teams), Models = List(models),
            MaxBudget = Dec(max_budget), BudgetDuration = budget_duration, Spend = Money.FromNanos(spend_nanos), RpmLimit = rpm_limit,
            TpmLimit = tpm_limit, TpdLimit = tpd_limit, MaxParallelRequests = (int?)max_parallel_requests, Metadata = metadata,
            CreatedAt = Time(created_at), UpdatedAt = Time(updated_at),
        };
    }
#pragma warning restore IDE1006
}
