namespace AgenticGateway.Observability;

/// <summary>
/// One finished LLM API request as the live log shows it: who, which model and deployment, how it went and what it
/// cost. Never the prompt or the answer, never a secret (the key appears by alias and its masked name only).
/// </summary>
internal sealed record RequestRecord
{
    /// <summary>
    /// Increases by one per request recorded: the live log asks for what came after the last it saw. Set by
    /// <see cref="RecentRequests.Add"/> before the record is published, never after.
    /// </summary>
    public long Seq { get; set; }
    public required DateTimeOffset Time { get; init; }
    public required string RequestId { get; init; }
    public required string Operation { get; init; }
    public string? KeyAlias { get; init; }
    /// <summary>The key's masked name ("sk-...abcd"), "master_key", or null for anonymous callers.</summary>
    public string? KeyName { get; init; }
    public string? TeamId { get; init; }
    public string? UserId { get; init; }
    /// <summary>The model group asked for ("-" when the request never got that far).</summary>
    public required string Model { get; init; }
    public string? Deployment { get; init; }
    public string? Provider { get; init; }
    public int Status { get; init; }
    public string? ErrorCode { get; init; }
    public double LatencyMs { get; init; }
    public long PromptTokens { get; init; }
    public long CompletionTokens { get; init; }
    public long CostNanos { get; init; }
    public bool Stream { get; init; }
}
