using System.Globalization;
using AgenticGateway.Limits;
using AgenticGateway.Cedar;
using AgenticGateway.Routing;

namespace AgenticGateway.Policies;

/// <summary>
/// A routing request's Cedar <c>context</c> (docs/policies.md): the caller's budget standing, the latency SLA, the time,
/// the request's size, model, operation, stream flag and tags. Attributes that do not apply are absent, so a policy
/// reading one without <c>has</c> errors and is skipped (Cedar's rule).
/// </summary>
internal static class RoutingContext
{
    /// <summary>The request header that sets the latency SLA in milliseconds (else the key's or team's metadata).</summary>
    public const string SlaHeader = "x-agw-latency-sla-ms";

    private static readonly string[] Days = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
    private static readonly CedarValue[] DayValues = [.. Days.Select(CedarValue.String)];
    private static readonly CedarValue[] OperationValues = [.. Enum.GetValues<LlmOperation>().Select(o => CedarValue.String(OperationName(o)))];

    public static string OperationName(LlmOperation operation) => operation switch
    {
        LlmOperation.ChatCompletions => "chat",
        LlmOperation.Completions => "completions",
        LlmOperation.Embeddings => "embeddings",
        LlmOperation.Messages => "messages",
        LlmOperation.Responses => "responses",
        LlmOperation.Rerank => "rerank",
        _ => operation.ToString().ToLowerInvariant(),
    };

    /// <summary>The parts of a context a caller may give: what /route's body and a request carry.</summary>
    public readonly record struct Inputs(BudgetStanding? Budget, long? LatencySlaMs, long RequestBytes, string RequestedModel, string ModelGroup,
        LlmOperation Operation, bool Stream, IReadOnlyList<string>? Tags);

    public static CedarRecord Build(in Inputs inputs, DateTimeOffset now, IEnumerable<KeyValuePair<string, CedarValue>>? extra = null)
    {
        var attributes = new List<KeyValuePair<string, CedarValue>>(16);
        if (inputs.Budget is { } budget)
        {
            attributes.Add(new("cost_budget_remaining", CedarValue.Decimal(budget.Remaining)));
            attributes.Add(new("spend", CedarValue.Decimal(budget.Spent)));
            attributes.Add(new("max_budget", CedarValue.Decimal(budget.Max)));
        }
        if (inputs.LatencySlaMs is { } sla) attributes.Add(new("latency_sla_ms", CedarValue.Long(sla)));
        attributes.Add(new("now", CedarValue.Long(now.ToUnixTimeSeconds())));
        attributes.Add(new("hour", CedarValue.Long(now.UtcDateTime.Hour)));
        attributes.Add(new("day_of_week", DayValues[(int)now.UtcDateTime.DayOfWeek]));
        attributes.Add(new("request_bytes", CedarValue.Long(inputs.RequestBytes)));
        attributes.Add(new("requested_model", CedarValue.String(inputs.RequestedModel)));
        attributes.Add(new("model_group", CedarValue.String(inputs.ModelGroup)));
        attributes.Add(new("operation", OperationValues[(int)inputs.Operation]));
        attributes.Add(new("stream", CedarValue.Bool(inputs.Stream)));
        attributes.Add(new("tags", inputs.Tags is { Count: > 0 } tags ? RoutingEntities.StringSet(tags) : EmptySet));
        if (extra is not null)
        {
            // What the caller of /route gives wins over what the gateway derived: CedarRecord keeps the last value of a
            // repeated name, so appending is enough (removing per key was quadratic in the context's size).
            attributes.AddRange(extra);
        }
        return new CedarRecord(attributes);
    }

    private static readonly CedarValue EmptySet = CedarValue.Set([]);

    /// <summary>The SLA a request asks for: its header (a positive whole number of milliseconds), else the principal's metadata.</summary>
    public static long? Sla(HttpContext http, PrincipalEntity principal)
    {
        if (http.Request.Headers.TryGetValue(SlaHeader, out var header)
            && long.TryParse(header.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var ms) && ms > 0)
            return ms;
        return principal.LatencySlaMs;
    }
}
