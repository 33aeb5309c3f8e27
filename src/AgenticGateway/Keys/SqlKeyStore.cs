using System.Text.Json;
using Dapper;
using AgenticGateway.Spend;
using AgenticGateway.Storage;

namespace AgenticGateway.Keys;

/// <summary>Virtual keys in the gateway's database (SQLite or PostgreSQL).</summary>
internal sealed class SqlKeyStore(IDatabase db) : IKeyStore
{
    public async Task<VirtualKey?> FindAsync(string token, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        var row = await c.QuerySingleOrDefaultAsync<Row>("SELECT * FROM keys WHERE token = @token", new { token });
        return row?.ToKey();
    }

    public async Task<VirtualKey?> FindByAliasAsync(string alias, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        var row = await c.QuerySingleOrDefaultAsync<Row>("SELECT * FROM keys WHERE key_alias = @alias", new { alias });
        return row?.ToKey();
    }

    public async Task InsertAsync(VirtualKey key, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        await c.ExecuteAsync("""
            INSERT INTO keys (token, key_name, key_alias, user_id, team_id, models, max_budget, budget_duration, spend, spend_nanos, rpm_limit, tpm_limit,
                              tpd_limit, max_parallel_requests, metadata, tags, expires_at, blocked, created_at, updated_at)
            VALUES (@token, @key_name, @key_alias, @user_id, @team_id, @models, @max_budget, @budget_duration, '0', @spend_nanos, @rpm_limit, @tpm_limit,
                    @tpd_limit, @max_parallel_requests, @metadata, @tags, @expires_at, @blocked, @created_at, @updated_at)
            """, Row.From(key));
    }

    public async Task<bool> UpdateAsync(VirtualKey key, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        var n = await c.ExecuteAsync("""
            UPDATE keys SET key_alias = @key_alias, user_id = @user_id, team_id = @team_id, models = @models, max_budget = @max_budget,
                budget_duration = @budget_duration, rpm_limit = @rpm_limit, tpm_limit = @tpm_limit, tpd_limit = @tpd_limit, max_parallel_requests = @max_parallel_requests,
                metadata = @metadata, tags = @tags, expires_at = @expires_at, blocked = @blocked, updated_at = @updated_at
            WHERE token = @token
            """, Row.From(key));
        return n == 1;
    }

    public async Task<bool> ReplaceTokenAsync(string oldToken, VirtualKey renewed, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        var n = await c.ExecuteAsync("UPDATE keys SET token = @token, key_name = @key_name, updated_at = @updated_at WHERE token = @old",
            new { token = renewed.Token, key_name = renewed.KeyName, updated_at = renewed.UpdatedAt.ToString("O"), old = oldToken });
        return n == 1;
    }

    public async Task<IReadOnlyList<string>> DeleteAsync(IReadOnlyList<string> tokens, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        var existing = (await c.QueryAsync<string>($"SELECT token FROM keys WHERE {db.In("token", "tokens")}", new { tokens })).ToList();
        await c.ExecuteAsync($"DELETE FROM keys WHERE {db.In("token", "tokens")}", new { tokens = existing });
        return existing;
    }

    public async Task<(IReadOnlyList<VirtualKey> Keys, int Total)> ListAsync(KeyQuery q, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        const string where = "WHERE (@user_id IS NULL OR user_id = @user_id) AND (@team_id IS NULL OR team_id = @team_id) AND (@key_alias IS NULL OR key_alias = @key_alias)";
        var args = new { user_id = q.UserId, team_id = q.TeamId, key_alias = q.KeyAlias, limit = q.PageSize, offset = (q.Page - 1) * q.PageSize };
        var total = await c.ExecuteScalarAsync<int>($"SELECT COUNT(*) FROM keys {where}", args);
        var rows = await c.QueryAsync<Row>($"SELECT * FROM keys {where} ORDER BY {(q.BySpend ? "spend_nanos DESC" : "created_at")} LIMIT @limit OFFSET @offset", args);
        return (rows.Select(r => r.ToKey()).ToList(), total);
    }

    /// <summary>The table's row shape (snake_case, as stored).</summary>
    private sealed class Row
    {
#pragma warning disable IDE1006 // names match the columns
        public string token { get; set; } = "";
        public string key_name { get; set; } = "";
        public string? key_alias { get; set; }
        public string? user_id { get; set; }
        public string? team_id { get; set; }
        public string models { get; set; } = "[]";
        public string? max_budget { get; set; }
        public string? budget_duration { get; set; }
        public long spend_nanos { get; set; }
        public long? rpm_limit { get; set; }
        public long? tpm_limit { get; set; }
        public long? tpd_limit { get; set; }
        public long? max_parallel_requests { get; set; }
        public string metadata { get; set; } = "{}";
        public string tags { get; set; } = "[]";
        public string? expires_at { get; set; }
        public long blocked { get; set; }
        public string created_at { get; set; } = "";
        public string updated_at { get; set; } = "";
#pragma warning restore IDE1006

        public static Row From(VirtualKey k) => new()
        {
            token = k.Token, key_name = k.KeyName, key_alias = k.KeyAlias, user_id = k.UserId, team_id = k.TeamId,
            models = JsonSerializer.Serialize(k.Models, KeyJsonContext.Default.IReadOnlyListString),
            max_budget = k.MaxBudget?.ToString(System.Globalization.CultureInfo.InvariantCulture), budget_duration = k.BudgetDuration,
            spend_nanos = Money.ToNanos(k.Spend), rpm_limit = k.RpmLimit, tpm_limit = k.TpmLimit, tpd_limit = k.TpdLimit,
            max_parallel_requests = k.MaxParallelRequests, metadata = k.Metadata,
            tags = JsonSerializer.Serialize(k.Tags, KeyJsonContext.Default.IReadOnlyListString),
            expires_at = k.ExpiresAt?.ToString("O"), blocked = k.Blocked ? 1 : 0,
            created_at = k.CreatedAt.ToString("O"), updated_at = k.UpdatedAt.ToString("O"),
        };

        public VirtualKey ToKey() => new()
        {
            Token = token, KeyName = key_name, KeyAlias = key_alias, UserId = user_id, TeamId = team_id,
            Models = JsonSerializer.Deserialize(models, KeyJsonContext.Default.IReadOnlyListString) ?? [],
            MaxBudget = max_budget is null ? null : decimal.Parse(max_budget, System.Globalization.CultureInfo.InvariantCulture),
            BudgetDuration = budget_duration, Spend = Money.FromNanos(spend_nanos),
            RpmLimit = rpm_limit, TpmLimit = tpm_limit, TpdLimit = tpd_limit, MaxParallelRequests = (int?)max_parallel_requests, Metadata = metadata,
            Tags = JsonSerializer.Deserialize(tags, KeyJsonContext.Default.IReadOnlyListString) ?? [],
            ExpiresAt = expires_at is null ? null : DateTimeOffset.Parse(expires_at, System.Globalization.CultureInfo.InvariantCulture),
            Blocked = blocked != 0,
            CreatedAt = DateTimeOffset.Parse(created_at, System.Globalization.CultureInfo.InvariantCulture),
            UpdatedAt = DateTimeOffset.Parse(updated_at, System.Globalization.CultureInfo.InvariantCulture),
        };
    }
}
