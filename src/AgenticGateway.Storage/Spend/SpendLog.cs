using System.Text.Json.Serialization;
using AgenticGateway.Pricing;

namespace AgenticGateway.Spend;

/// <summary>
/// One request's spend record, as written to the write-ahead file and the spend_logs table. <see cref="LogId"/> is
/// minted by the gateway and makes replays idempotent; <see cref="RequestId"/> is the client-visible id.
/// </summary>
internal sealed record SpendLog
{
    public required string LogId { get; init; }
    public required string RequestId { get; init; }
    /// <summary>The key's token (hash), "master_key", or "anonymous" when auth is off.</summary>
    public required string ApiKey { get; init; }
    public string? KeyAlias { get; init; }
    public string? UserId { get; init; }
    public string? TeamId { get; init; }
    public string? TeamAlias { get; init; }
    /// <summary>The team's organization when the request was made (LiteLLM's user_api_key_org_id).</summary>
    public string? OrganizationId { get; init; }
    /// <summary>The id of the answer the client got ("chatcmpl-..."): LiteLLM's request_id, which /spend/logs?request_id= finds too.</summary>
    public string? ResponseId { get; init; }
    public required string Model { get; init; }
    public string? ModelGroup { get; init; }
    public string? Deployment { get; init; }
    public string? Provider { get; init; }
    public required string CallType { get; init; }
    public long PromptTokens { get; init; }
    public long CompletionTokens { get; init; }
    public long CostNanos { get; init; }
    public int Status { get; init; }
    public double LatencyMs { get; init; }
    public bool Stream { get; init; }
    public IReadOnlyList<string> Tags { get; init; } = [];
    public DateTimeOffset StartTime { get; init; }
    public DateTimeOffset EndTime { get; init; }
    /// <summary>The answer came from the response cache (LiteLLM's <c>cache_hit</c>): it cost nothing upstream.</summary>
    public bool CacheHit { get; init; }
    /// <summary>
    /// The guardrails' decisions on this request as a JSON array (LiteLLM's <c>metadata.guardrail_information</c>):
    /// name, mode, status, action and counts by entity; never the content. Null when no guardrail ran.
    /// </summary>
    public string? GuardrailInformation { get; init; }

    [JsonIgnore] public decimal Cost => Money.FromNanos(CostNanos);

    /// <summary>
    /// A log of work the gateway did for a caller besides an LLM call (an MCP tool call, a code interpreter run): who
    /// (key, user, team, organization, tags), when, and what; the caller adds the cost, status and where it ran.
    /// </summary>
    public static SpendLog ForCaller(Keys.Caller caller, string requestId, string model, string callType, DateTimeOffset end, double elapsedMs)
    {
        var key = caller.Key;
        return new SpendLog
        {
            LogId = Guid.CreateVersion7().ToString("N"),
            RequestId = requestId,
            ApiKey = key?.Token ?? (caller.IsAdmin ? "master_key" : "anonymous"),
            KeyAlias = key?.KeyAlias,
            UserId = key?.UserId,
            TeamId = key?.TeamId,
            TeamAlias = caller.Identity?.Team?.TeamAlias,
            OrganizationId = caller.Identity?.Team?.OrganizationId,
            Model = model,
            CallType = callType,
            LatencyMs = Math.Round(elapsedMs, 3),
            Tags = key?.Tags ?? [],
            StartTime = end - TimeSpan.FromMilliseconds(elapsedMs),
            EndTime = end,
        };
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(SpendLog))]
internal sealed partial class SpendJsonContext : JsonSerializerContext;
