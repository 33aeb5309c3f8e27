using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using AgenticGateway.Keys;
using AgenticGateway.Storage;
using Dapper;

namespace AgenticGateway.Spend;

/// <summary>Filters for reading spend logs; null means any.</summary>
internal sealed record SpendQuery(string? ApiKey = null, string? UserId = null, string? TeamId = null, string? RequestId = null,
    DateTimeOffset? Start = null, DateTimeOffset? End = null, int Limit = 1000);

/// <summary>One aggregate row: a time bucket (or "total") and a group value, with tokens, cost and request count.</summary>
internal sealed record SpendAggregate(string Bucket, string Group, long PromptTokens, long CompletionTokens, long CostNanos, long Requests);

/// <summary>Spend logs in the gateway's database: idempotent batch writes and the aggregates the spend endpoints serve.</summary>
internal sealed class SpendStore(IDatabase db)
{
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
        foreach (var log in logs)
        {
            var inserted = await c.ExecuteAsync("""
                INSERT INTO spend_logs (log_id, request_id, api_key, key_alias, user_id, team_id, model, model_group, deployment, provider, call_type,
                    prompt_tokens, completion_tokens, cost_nanos, status, latency_ms, stream, tags, start_time, end_time)
                VALUES (@LogId, @RequestId, @ApiKey, @KeyAlias, @UserId, @TeamId, @Model, @ModelGroup, @Deployment, @Provider, @CallType,
                    @PromptTokens, @CompletionTokens, @CostNanos, @Status, @LatencyMs, @StreamFlag, @TagsJson, @StartText, @EndText)
                ON CONFLICT (log_id) DO NOTHING
                """, new
            {
                log.LogId, log.RequestId, log.ApiKey, log.KeyAlias, log.UserId, log.TeamId, log.Model, log.ModelGroup, log.Deployment, log.Provider,
                log.CallType, log.PromptTokens, log.CompletionTokens, log.CostNanos, log.Status, log.LatencyMs, StreamFlag = log.Stream ? 1 : 0,
                TagsJson = JsonSerializer.Serialize(log.Tags, KeyJsonContext.Default.IReadOnlyListString),
                StartText = log.StartTime.ToUniversalTime().ToString("O"), EndText = log.EndTime.ToUniversalTime().ToString("O"),
            }, tx);
            if (inserted == 0 || log.CostNanos == 0) continue;
            Add(keys, log.ApiKey, log.CostNanos);
            if (log.UserId is not null) Add(users, log.UserId, log.CostNanos);
            if (log.TeamId is not null) Add(teams, log.TeamId, log.CostNanos);
        }
        await AddSpendAsync(c, tx, "keys", "token", keys);
        await AddSpendAsync(c, tx, "users", "user_id", users);
        await AddSpendAsync(c, tx, "teams", "team_id", teams);
        await tx.CommitAsync(ct);

        static void Add(Dictionary<string, long> d, string id, long nanos) => d[id] = d.GetValueOrDefault(id) + nanos;
    }

    private static async Task AddSpendAsync(DbConnection c, DbTransaction tx, string table, string idColumn, Dictionary<string, long> deltas)
    {
        foreach (var (id, nanos) in deltas)
            await c.ExecuteAsync($"UPDATE {table} SET spend_nanos = spend_nanos + @nanos WHERE {idColumn} = @id", new { nanos, id }, tx);
    }

    /// <summary>Spend in nano-dollars of a key, user or team since a time (DateTimeOffset.MinValue: all time).</summary>
    public async Task<long> SpendSinceAsync(string scope, string id, DateTimeOffset since, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var column = scope switch { "key" => "api_key", "user" => "user_id", _ => "team_id" };
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
        Eq("request_id", q.RequestId);
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

        public SpendLog ToLog() => new()
        {
            LogId = log_id, RequestId = request_id, ApiKey = api_key, KeyAlias = key_alias, UserId = user_id, TeamId = team_id, Model = model,
            ModelGroup = model_group, Deployment = deployment, Provider = provider, CallType = call_type, PromptTokens = prompt_tokens,
            CompletionTokens = completion_tokens, CostNanos = cost_nanos, Status = (int)status, LatencyMs = latency_ms, Stream = stream != 0,
            Tags = JsonSerializer.Deserialize(tags, KeyJsonContext.Default.IReadOnlyListString) ?? [],
            StartTime = DateTimeOffset.Parse(start_time, CultureInfo.InvariantCulture), EndTime = DateTimeOffset.Parse(end_time, CultureInfo.InvariantCulture),
        };
    }
#pragma warning restore IDE1006
}
