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
            INSERT INTO keys (token, key_name, key_alias, user_id, team_id, models, aliases, max_budget, budget_duration, spend, spend_nanos, rpm_limit, tpm_limit,
                              tpd_limit, max_parallel_requests, metadata, tags, object_permission, expires_at, blocked, created_at, updated_at)
            VALUES (@token, @key_name, @key_alias, @user_id, @team_id, @models, @aliases, @max_budget, @budget_duration, '0', @spend_nanos, @rpm_limit, @tpm_limit,
                    @tpd_limit, @max_parallel_requests, @metadata, @tags, @object_permission, @expires_at, @blocked, @created_at, @updated_at)
            """, Row.From(key));
    }

    public async Task<bool> UpdateAsync(VirtualKey key, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        var n = await c.ExecuteAsync("""
            UPDATE keys SET key_alias = @key_alias, user_id = @user_id, team_id = @team_id, models = @models, aliases = @aliases, max_budget = @max_budget,
                budget_duration = @budget_duration, rpm_limit = @rpm_limit, tpm_limit = @tpm_limit, tpd_limit = @tpd_limit, max_parallel_requests = @max_parallel_requests,
                metadata = @metadata, tags = @tags, object_permission = @object_permission, expires_at = @expires_at, blocked = @blocked, updated_at = @updated_at
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

    public Task<IReadOnlyList<string>> DeleteAsync(IReadOnlyList<string> tokens, CancellationToken cancellationToken) =>
        db.DeleteWhereInAsync("keys", "token", tokens, cancellationToken);

    public async Task<(IReadOnlyList<VirtualKey> Keys, int Total)> ListAsync(KeyQuery q, CancellationToken cancellationToken)
    {
        await using var c = await db.OpenAsync(cancellationToken);
        const string where = "WHERE (@user_id IS NULL OR user_id = @user_id) AND (@team_id IS NULL OR team_id = @team_id) AND (@key_alias IS NULL OR key_alias = @key_alias)";
        var args = new { user_id = q.UserId, team_id = q.TeamId, key_alias = q.KeyAlias, limit = q.PageSize, offset = (q.Page - 1) * q.PageSize };
        var total = await c.ExecuteScalarAsync<int>($"SELECT COUNT(*) FROM keys {where}", args);
        var rows = await c.QueryAsync<Row>($"SELECT * FROM keys {where} ORDER BY {(q.BySpend ? "spend_nanos DESC" : q.NewestFirst ? "created_at DESC" : "created_at")} LIMIT @limit OFFSET @offset", args);
        return (rows.Select(r => r.ToKey()).ToList(), total);
    }

    /// <summary>The table's row shape (snake_case, as stored).</summary>
    private sealed class Row : LimitColumns
    {
#pragma warning disable IDE1006 // names match the columns
        public string token { get; set; } = "";
        public string key_name { get; set; } = "";
        public string? key_alias { get; set; }
        public string? user_id { get; set; }
        public string? team_id { get; set; }
        public string models { get; set; } = "[]";
        public string aliases { get; set; } = "{}";
        public string metadata { get; set; } = "{}";
        public string tags { get; set; } = "[]";
        public string? object_permission { get; set; }
        public string? expires_at { get; set; }
        public long blocked { get; set; }
        public string created_at { get; set; } = "";
        public string updated_at { get; set; } = "";
#pragma warning restore IDE1006

        public static Row From(VirtualKey k)
        {
            var row = new Row
            {
                token = k.Token, key_name = k.KeyName, key_alias = k.KeyAlias, user_id = k.UserId, team_id = k.TeamId, models = Columns.Json(k.Models), aliases = Columns.Map(k.Aliases),
                metadata = k.Metadata, tags = Columns.Json(k.Tags), object_permission = k.ObjectPermission?.ToJson(), expires_at = k.ExpiresAt is { } e ? Columns.Time(e) : null, blocked = k.Blocked ? 1 : 0,
                created_at = Columns.Time(k.CreatedAt), updated_at = Columns.Time(k.UpdatedAt),
            };
            row.SetLimits(k.Limits, k.Spend);
            return row;
        }

        public VirtualKey ToKey() => new()
        {
            Token = token, KeyName = key_name, KeyAlias = key_alias, UserId = user_id, TeamId = team_id, Models = Columns.List(models), Aliases = Columns.Map(aliases),
            Limits = ToLimits(), Spend = Spend, Metadata = metadata, Tags = Columns.List(tags), ObjectPermission = ObjectPermission.FromJson(object_permission),
            ExpiresAt = expires_at is null ? null : Columns.Time(expires_at), Blocked = blocked != 0,
            CreatedAt = Columns.Time(created_at), UpdatedAt = Columns.Time(updated_at),
        };
    }
}
