using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using AgenticGateway.Keys;
using AgenticGateway.Storage;
using Dapper;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace AgenticGateway.Spend;

/// <summary>Filters for reading spend logs; null means any.</summary>
internal sealed record SpendQuery(string? ApiKey = null, string? UserId = null, string? TeamId = null, string? RequestId = null,
    DateTimeOffset? Start = null, DateTimeOffset? End = null, int Limit = 1000);

/// <summary>One aggregate row: a time bucket (or "total") and a group value, with tokens, cost and request count.</summary>
internal sealed record SpendAggregate(string Bucket, string Group, long PromptTokens, long CompletionTokens, long CostNanos, long Requests);

/// <summary>Spend logs in the gateway's database: idempotent batch writes and the aggregates the spend endpoints serve.</summary>
internal sealed class SpendStore(IDatabase db)
{
    private const string InsertSql = """
        INSERT INTO spend_logs (log_id, request_id, api_key, key_alias, user_id, team_id, model, model_group, deployment, provider, call_type,
            prompt_tokens, completion_tokens, cost_nanos, status, latency_ms, stream, tags, start_time, end_time, response_id, organization_id, team_alias,
            cache_hit, guardrail_information)
        VALUES (@p0, @p1, @p2, @p3, @p4, @p5, @p6, @p7, @p8, @p9, @p10, @p11, @p12, @p13, @p14, @p15, @p16, @p17, @p18, @p19, @p20, @p21, @p22, @p23, @p24)
        ON CONFLICT (log_id) DO NOTHING
        """;
    private const int Columns = 25;

    /// <summary>
    /// Writes a batch in one transaction. A log already stored (same log id: a replay) is skipped, and only the logs
    /// actually inserted add to the key's, user's and team's running spend, so replays never count twice.
    /// </summary>
    public async Task WriteBatchAsync(IReadOnlyList<SpendLog> logs, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        var keys = new Dictionary<string, long>();
        var users = new Dictionary<string, long>();
        var teams = new Dictionary<string, long>();
        var organizations = new Dictionary<string, long>();
        long total = 0;
        // One prepared statement, re-executed with new values: a spend log costs a few microseconds to store, not a
        // parse and a round of parameter binding each (this runs for every request the gateway serves).
        if (c is SqliteConnection sqlite) InsertSqlite(sqlite, logs, Inserted);
        else await InsertAsync(c, tx, logs, Inserted, ct);
        await AddSpendAsync(c, tx, "keys", "token", keys);
        await AddSpendAsync(c, tx, "users", "user_id", users);
        await AddSpendAsync(c, tx, "teams", "team_id", teams);
        await AddSpendAsync(c, tx, "organizations", "organization_id", organizations);
        // LiteLLM reports the spend of every caller as its litellm-proxy-budget user (a no-op where none exists).
        if (total != 0) await AddSpendAsync(c, tx, "users", "user_id", new Dictionary<string, long> { [ProxyBudget.UserId] = total });
        await tx.CommitAsync(ct);

        // Only a log actually inserted (not one already stored: a replay) adds to the running spend.
        void Inserted(SpendLog log)
        {
            if (log.CostNanos == 0) return;
            Add(keys, log.ApiKey, log.CostNanos);
            if (log.UserId is not null) Add(users, log.UserId, log.CostNanos);
            if (log.TeamId is not null) Add(teams, log.TeamId, log.CostNanos);
            if (log.OrganizationId is not null) Add(organizations, log.OrganizationId, log.CostNanos);
            total += log.CostNanos;
        }
        static void Add(Dictionary<string, long> d, string id, long nanos) => d[id] = d.GetValueOrDefault(id) + nanos;
    }

    /// <summary>A log's columns, in the insert's order: the one mapping both ways of inserting use.</summary>
    private static void BindColumns<TBinder>(SpendLog log, ref TBinder b) where TBinder : struct, IColumnBinder
    {
        b.Text(0, log.LogId); b.Text(1, log.RequestId); b.Text(2, log.ApiKey); b.Text(3, log.KeyAlias); b.Text(4, log.UserId); b.Text(5, log.TeamId);
        b.Text(6, log.Model); b.Text(7, log.ModelGroup); b.Text(8, log.Deployment); b.Text(9, log.Provider); b.Text(10, log.CallType);
        b.Integer(11, log.PromptTokens); b.Integer(12, log.CompletionTokens); b.Integer(13, log.CostNanos); b.Int32(14, log.Status);
        b.Real(15, log.LatencyMs); b.Int32(16, log.Stream ? 1 : 0);
        b.Text(17, log.Tags.Count == 0 ? "[]" : JsonSerializer.Serialize(log.Tags, KeyJsonContext.Default.IReadOnlyListString));
        b.Time(18, log.StartTime); b.Time(19, log.EndTime);
        b.Text(20, log.ResponseId); b.Text(21, log.OrganizationId); b.Text(22, log.TeamAlias);
        b.Int32(23, log.CacheHit ? 1 : 0); b.Text(24, log.GuardrailInformation);
    }

    private interface IColumnBinder
    {
        void Text(int column, string? value);
        void Integer(int column, long value);
        void Int32(int column, int value);
        void Real(int column, double value);
        void Time(int column, DateTimeOffset value);
    }

    /// <summary>
    /// SQLite, straight through SQLitePCL on the connection's handle, values bound by position from the strings as they
    /// are: Microsoft.Data.Sqlite's parameters cost a binder object and a UTF-8 copy of the name per value, 25 per log
    /// (about 2 KB per request, a fifth of the gateway's allocations at full load). Runs inside the open transaction.
    /// </summary>
    private static void InsertSqlite(SqliteConnection c, IReadOnlyList<SpendLog> logs, Action<SpendLog> inserted)
    {
        var handle = c.Handle!;
        Check(raw.sqlite3_prepare_v2(handle, InsertSql, out var stmt), handle);
        using (stmt)
        {
            var binder = new SqliteBinder(stmt, handle);
            foreach (var log in logs)
            {
                BindColumns(log, ref binder);
                var rc = raw.sqlite3_step(stmt);
                if (rc != raw.SQLITE_DONE) Check(rc, handle);
                if (raw.sqlite3_changes(handle) > 0) inserted(log);
                raw.sqlite3_reset(stmt);
            }
        }
    }

    private static void Check(int rc, sqlite3 handle)
    {
        if (rc != raw.SQLITE_OK) SqliteException.ThrowExceptionForRC(rc, handle);
    }

    private readonly struct SqliteBinder(sqlite3_stmt stmt, sqlite3 handle) : IColumnBinder
    {
        // Positions are 1-based in SQLite.
        public void Text(int column, string? value) =>
            Check(value is null ? raw.sqlite3_bind_null(stmt, column + 1) : raw.sqlite3_bind_text16(stmt, column + 1, value.AsSpan()), handle);

        public void Integer(int column, long value) => Check(raw.sqlite3_bind_int64(stmt, column + 1, value), handle);

        public void Int32(int column, int value) => Check(raw.sqlite3_bind_int(stmt, column + 1, value), handle);

        public void Real(int column, double value) => Check(raw.sqlite3_bind_double(stmt, column + 1, value), handle);

        public void Time(int column, DateTimeOffset value)
        {
            // The same text as the other path's ToString("O") of the UTC time ("...+00:00"), formatted on the stack.
            Span<char> text = stackalloc char[48];
            value.ToUniversalTime().TryFormat(text, out var n, "O", CultureInfo.InvariantCulture);
            Check(raw.sqlite3_bind_text16(stmt, column + 1, text[..n]), handle);
        }
    }

    /// <summary>Any other database (PostgreSQL): one prepared command, its parameters set per log.</summary>
    private static async Task InsertAsync(DbConnection c, DbTransaction tx, IReadOnlyList<SpendLog> logs, Action<SpendLog> inserted, CancellationToken ct)
    {
        await using var insert = c.CreateCommand();
        insert.Transaction = tx;
        insert.CommandText = InsertSql;
        var p = new DbParameter[Columns];
        for (var i = 0; i < p.Length; i++)
        {
            p[i] = insert.CreateParameter();
            p[i].ParameterName = "@p" + i;
            p[i].DbType = i switch { 11 or 12 or 13 => System.Data.DbType.Int64, 14 or 16 or 23 => System.Data.DbType.Int32, 15 => System.Data.DbType.Double, _ => System.Data.DbType.String };
            insert.Parameters.Add(p[i]);
        }
        await insert.PrepareAsync(ct);
        var binder = new ParameterBinder(p);
        foreach (var log in logs)
        {
            BindColumns(log, ref binder);
            if (await insert.ExecuteNonQueryAsync(ct) > 0) inserted(log);
        }
    }

    private readonly struct ParameterBinder(DbParameter[] p) : IColumnBinder
    {
        public void Text(int column, string? value) => p[column].Value = (object?)value ?? DBNull.Value;
        public void Integer(int column, long value) => p[column].Value = value;
        public void Int32(int column, int value) => p[column].Value = value;
        public void Real(int column, double value) => p[column].Value = value;
        public void Time(int column, DateTimeOffset value) => p[column].Value = value.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture);
    }

    private static async Task AddSpendAsync(DbConnection c, DbTransaction tx, string table, string idColumn, Dictionary<string, long> deltas)
    {
        // Rows in one order (by id), as tables are (keys, users, teams, organizations): two writers (replicas on one
        // PostgreSQL) never hold each other's next row.
        foreach (var (id, nanos) in deltas.OrderBy(d => d.Key, StringComparer.Ordinal))
            await c.ExecuteAsync($"UPDATE {table} SET spend_nanos = spend_nanos + @nanos WHERE {idColumn} = @id", new { nanos, id }, tx);
    }

    /// <summary>
    /// Spend in nano-dollars of a limit holder since a time (DateTimeOffset.MinValue: all time): a key, user, team or
    /// organization by its column, a team or organization member by the pair, the global proxy budget by every log.
    /// </summary>
    public async Task<long> SpendSinceAsync(ILimitHolder holder, DateTimeOffset since, CancellationToken ct)
    {
        var (where, args) = holder switch
        {
            TeamMembership m => ("team_id = @team AND user_id = @user", (object)new { team = m.TeamId, user = m.UserId, since = Since(since) }),
            OrganizationMember m => ("organization_id = @org AND user_id = @user", new { org = m.OrganizationId, user = m.UserId, since = Since(since) }),
            ProxyBudget => ("1 = 1", new { since = Since(since) }),
            _ => ($"{Column(holder.Scope)} = @id", new { id = holder.Id, since = Since(since) }),
        };
        await using var c = await db.OpenAsync(ct);
        return await c.ExecuteScalarAsync<long?>($"SELECT CAST(SUM(cost_nanos) AS BIGINT) FROM spend_logs WHERE {where} AND end_time >= @since", args) ?? 0;

        static string Since(DateTimeOffset since) => since == DateTimeOffset.MinValue ? "" : since.ToUniversalTime().ToString("O");
    }

    private static string Column(string scope) => scope switch { "key" => "api_key", "user" => "user_id", "organization" => "organization_id", _ => "team_id" };

    /// <summary>Spend in nano-dollars of a key, user or team since a time (DateTimeOffset.MinValue: all time).</summary>
    public async Task<long> SpendSinceAsync(string scope, string id, DateTimeOffset since, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var column = Column(scope);
        return await c.ExecuteScalarAsync<long?>($"SELECT CAST(SUM(cost_nanos) AS BIGINT) FROM spend_logs WHERE {column} = @id AND end_time >= @since",
            new { id, since = since == DateTimeOffset.MinValue ? "" : since.ToUniversalTime().ToString("O") }) ?? 0;
    }

    public async Task<IReadOnlyList<SpendLog>> LogsAsync(SpendQuery q, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var (where, args) = Where(q);
        args.Add("limit", q.Limit);
        var rows = await c.QueryAsync<LogRow>($"SELECT * FROM spend_logs {where} ORDER BY end_time DESC LIMIT @limit", args);
        return rows.Select(r => r.ToLog()).ToList();
    }

    /// <summary>Totals grouped by a time bucket ("hour", "day", "month" or "total") and a column ("api_key", "team_id", "user_id", "model" or none).</summary>
    public async Task<IReadOnlyList<SpendAggregate>> AggregateAsync(SpendQuery q, string bucket, string? groupBy, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var (where, args) = Where(q);
        // Times are stored as ISO-8601 UTC text, so a prefix is the bucket: 2026-11-22T10 (hour), 2026-11-22 (day), 2026-11 (month).
        var bucketSql = bucket switch { "hour" => "SUBSTR(end_time, 1, 13)", "day" => "SUBSTR(end_time, 1, 10)", "month" => "SUBSTR(end_time, 1, 7)", _ => "'total'" };
        var groupSql = groupBy is null ? "''" : $"COALESCE({groupBy}, '')";
        // PostgreSQL refuses constants in GROUP BY: group only by what varies.
        var grouping = string.Join(", ", new[] { bucket is "hour" or "day" or "month" ? bucketSql : null, groupBy is null ? null : groupSql }.OfType<string>());
        var rows = await c.QueryAsync<(string, string, long, long, long, long)>($"""
            SELECT {bucketSql} AS bucket, {groupSql} AS grp, CAST(COALESCE(SUM(prompt_tokens), 0) AS BIGINT), CAST(COALESCE(SUM(completion_tokens), 0) AS BIGINT),
                   CAST(COALESCE(SUM(cost_nanos), 0) AS BIGINT), CAST(COUNT(*) AS BIGINT)
            FROM spend_logs {where} {(grouping.Length == 0 ? "" : "GROUP BY " + grouping)} ORDER BY 1, 2
            """, args);
        return rows.Select(r => new SpendAggregate(r.Item1, r.Item2, r.Item3, r.Item4, r.Item5, r.Item6)).ToList();
    }

    private static (string, DynamicParameters) Where(SpendQuery q)
    {
        var clauses = new List<string>();
        var args = new DynamicParameters();
        void Eq(string column, string? value)
        {
            if (value is null) return;
            clauses.Add($"{column} = @{column}");
            args.Add(column, value);
        }
        Eq("api_key", q.ApiKey);
        Eq("user_id", q.UserId);
        Eq("team_id", q.TeamId);
        // The id in x-request-id, or the id of the answer the client got ("chatcmpl-..."), as LiteLLM's request_id is.
        if (q.RequestId is { } requestId)
        {
            clauses.Add("(request_id = @request_id OR response_id = @request_id)");
            args.Add("request_id", requestId);
        }
        if (q.Start is { } s) { clauses.Add("end_time >= @start"); args.Add("start", s.ToUniversalTime().ToString("O")); }
        if (q.End is { } e) { clauses.Add("end_time < @end"); args.Add("end", e.ToUniversalTime().ToString("O")); }
        return (clauses.Count == 0 ? "" : "WHERE " + string.Join(" AND ", clauses), args);
    }

#pragma warning disable IDE1006 // names match the columns
    private sealed class LogRow
    {
        public string log_id { get; set; } = "";
        public string request_id { get; set; } = "";
        public string api_key { get; set; } = "";
        public string? key_alias { get; set; }
        public string? user_id { get; set; }
        public string? team_id { get; set; }
        public string? team_alias { get; set; }
        public string? organization_id { get; set; }
        public string? response_id { get; set; }
        public string model { get; set; } = "";
        public string? model_group { get; set; }
        public string? deployment { get; set; }
        public string? provider { get; set; }
        public string call_type { get; set; } = "";
        public long prompt_tokens { get; set; }
        public long completion_tokens { get; set; }
        public long cost_nanos { get; set; }
        public long status { get; set; }
        public double latency_ms { get; set; }
        public long stream { get; set; }
        public string tags { get; set; } = "[]";
        public string start_time { get; set; } = "";
        public string end_time { get; set; } = "";
        public long cache_hit { get; set; }
        public string? guardrail_information { get; set; }

        public SpendLog ToLog() => new()
        {
            LogId = log_id, RequestId = request_id, ApiKey = api_key, KeyAlias = key_alias, UserId = user_id, TeamId = team_id, Model = model,
            TeamAlias = team_alias, OrganizationId = organization_id, ResponseId = response_id,
            CacheHit = cache_hit != 0, GuardrailInformation = guardrail_information,
            ModelGroup = model_group, Deployment = deployment, Provider = provider, CallType = call_type, PromptTokens = prompt_tokens,
            CompletionTokens = completion_tokens, CostNanos = cost_nanos, Status = (int)status, LatencyMs = latency_ms, Stream = stream != 0,
            Tags = JsonSerializer.Deserialize(tags, KeyJsonContext.Default.IReadOnlyListString) ?? [],
            StartTime = DateTimeOffset.Parse(start_time, CultureInfo.InvariantCulture), EndTime = DateTimeOffset.Parse(end_time, CultureInfo.InvariantCulture),
        };
    }
#pragma warning restore IDE1006
}
