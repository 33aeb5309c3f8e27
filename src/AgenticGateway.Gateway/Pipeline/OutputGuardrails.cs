namespace AgenticGateway.Pipeline;

/// <summary>
/// The output (post_call) guardrails in effect for a request, by name, as the guardrail middleware (which runs before
/// the cache) resolved them. The cache keys answers on them: an answer filtered by one set of output guardrails is
/// never served to a request under another. A request feature; absent means none.
/// </summary>
internal sealed record OutputGuardrails(IReadOnlyList<string> Names);
