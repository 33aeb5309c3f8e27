using System.Buffers;
using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using System.Text.Json;
using AgenticGateway.Policies;
using AgenticGateway.Storage;
using Dapper;

namespace AgenticGateway.Routing;

/// <summary>Filters for reading routing decisions; null means any. Newest first, at most <paramref name="Limit"/>.</summary>
/// <param name="Model">A model group or the model name the client asked for.</param>
/// <param name="Decision"><c>allow</c>, <c>deny</c> or <c>dry_run</c>.</param>
/// <param name="Since">Decisions made at or after this time.</param>
internal sealed record RoutingDecisionQuery(int Limit = 100, string? Model = null, string? Decision = null, DateTimeOffset? Since = null)
{
    public const int MaxLimit = 1000;
}

/// <summary>
/// The routing_decisions table (SQLite or PostgreSQL): batches written by <see cref="RoutingDecisionWriter"/>, read
/// newest first with filters by the admin API. Policy ids and candidates are JSON arrays; times are ISO-8601 UTC text
/// of one width, so comparing the text compares the times (as the spend log's and stored responses' queries do).
/// </summary>
internal sealed class RoutingDecisionStore(IDatabase db)
{
    private const string Columns =
        "id, created_at, model_group, requested_model, chosen_deployment, provider, decision, deciding_policy, policies, candidates, key_alias, team_id, user_id, dry_run, latency_us";

    /// <summary>Writes a batch in one transaction.</summary>
    public async Task WriteBatchAsync(IReadOnlyList<RoutingDecision> decisions, CancellationToken ct)
    {
        if (decisions.Count == 0) return;
        await using var c = await db.OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        await c.ExecuteAsync(new CommandDefinition($"""
            INSERT INTO routing_decisions ({Columns})
            VALUES (@Id, @CreatedAt, @ModelGroup, @RequestedModel, @ChosenDeployment, @Provider, @Decision, @DecidingPolicy, @Policies, @Candidates,
                @KeyAlias, @TeamId, @UserId, @DryRun, @LatencyUs)
            """, decisions.Select(d => new
        {
            Id = d.RequestId, CreatedAt = Time(d.CreatedAt), d.ModelGroup, d.RequestedModel, d.ChosenDeployment, d.Provider, d.Decision, d.DecidingPolicy,
            Policies = PoliciesJson(d.Policies), Candidates = CandidatesJson(d.Candidates), d.KeyAlias, d.TeamId, d.UserId,
            DryRun = d.DryRun ? 1 : 0, LatencyUs = d.EvaluationMicros,
        }), tx, cancellationToken: ct));
        await tx.CommitAsync(ct);
    }

    /// <summary>The decisions matching every filter given, newest first.</summary>
    public async Task<IReadOnlyList<RoutingDecision>> QueryAsync(RoutingDecisionQuery q, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(q.Limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(q.Limit, RoutingDecisionQuery.MaxLimit);
        var where = new StringBuilder("WHERE 1 = 1");
        if (q.Model is not null) where.Append(" AND (model_group = @model OR requested_model = @model)");
        if (q.Decision is not null) where.Append(" AND decision = @decision");
        if (q.Since is not null) where.Append(" AND created_at >= @since");
        await using var c = await db.OpenAsync(ct);
        var rows = await c.QueryAsync<Row>(new CommandDefinition(
            $"SELECT {Columns} FROM routing_decisions {where} ORDER BY created_at DESC, seq DESC LIMIT @limit",
            new { model = q.Model, decision = q.Decision, since = q.Since is { } s ? Time(s) : null, limit = q.Limit }, cancellationToken: ct));
        return [.. rows.Select(r => r.ToDecision())];
    }

    /// <summary>
    /// Deletes up to <paramref name="batch"/> decisions older than <paramref name="cutoff"/>, oldest first; returns how
    /// many. Bounded so one purge never holds a long write lock (SQLite has one writer): the caller repeats.
    /// </summary>
    public async Task<int> PurgeBeforeAsync(DateTimeOffset cutoff, int batch, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        await using var c = await db.OpenAsync(ct);
        return await c.ExecuteAsync(new CommandDefinition(
            "DELETE FROM routing_decisions WHERE seq IN (SELECT seq FROM routing_decisions WHERE created_at < @cutoff ORDER BY created_at LIMIT @batch)",
            new { cutoff = Time(cutoff), batch }, cancellationToken: ct));
    }

    /// <summary>ISO-8601 in UTC: every value has the same width and offset, so text order is time order.</summary>
    private static string Time(DateTimeOffset t) => t.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture);

    private static DateTimeOffset Time(string s) => DateTimeOffset.Parse(s, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);

    internal static string PoliciesJson(ImmutableArray<string> policies)
    {
        if (policies.IsDefaultOrEmpty) return "[]";
        var buffer = new ArrayBufferWriter<byte>(64);
        using (var w = new Utf8JsonWriter(buffer)) RoutingDecisionJson.WriteStrings(w, policies);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    internal static string CandidatesJson(ImmutableArray<CandidateVerdict> candidates)
    {
        if (candidates.IsDefaultOrEmpty) return "[]";
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer)) RoutingDecisionJson.WriteCandidates(w, candidates);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static ImmutableArray<string> ParsePolicies(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return [.. doc.RootElement.EnumerateArray().Select(e => e.GetString() ?? "")];
    }

    private static ImmutableArray<CandidateVerdict> ParseCandidates(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return [.. doc.RootElement.EnumerateArray().Select(e => new CandidateVerdict(
            e.GetProperty("index").GetInt32(), e.GetProperty("deployment").GetString() ?? "", e.GetProperty("provider").GetString() ?? "",
            e.GetProperty("allowed").GetBoolean(), e.GetProperty("preferred").GetBoolean(),
            [.. e.GetProperty("reasons").EnumerateArray().Select(r => r.GetString() ?? "")]))];
    }

    // Dapper sets these by column name, converting as it goes (an INTEGER is Int64 in SQLite and Int32 in PostgreSQL).
#pragma warning disable IDE1006
    private sealed class Row
    {
        public string id { get; set; } = "";
        public string created_at { get; set; } = "";
        public string model_group { get; set; } = "";
        public string requested_model { get; set; } = "";
        public string? chosen_deployment { get; set; }
        public string? provider { get; set; }
        public string decision { get; set; } = "";
        public string? deciding_policy { get; set; }
        public string policies { get; set; } = "[]";
        public string candidates { get; set; } = "[]";
        public string? key_alias { get; set; }
        public string? team_id { get; set; }
        public string? user_id { get; set; }
        public long dry_run { get; set; }
        public long latency_us { get; set; }

        public RoutingDecision ToDecision() => new(id, Time(created_at), model_group, requested_model, chosen_deployment, provider, decision,
            deciding_policy, ParsePolicies(policies), ParseCandidates(candidates), key_alias, team_id, user_id, dry_run != 0, latency_us);
    }
#pragma warning restore IDE1006
}
