using AgenticGateway.Configuration;
using AgenticGateway.Keys;
using AgenticGateway.Pipeline;

namespace AgenticGateway.Guardrails;

/// <summary>
/// The guardrails of MCP tool calls and sandbox runs (<see cref="IContentGuardrails"/>), run by the same runner as the
/// LLM routes': the same selection (default_on, key and team), dry run and metrics.
/// </summary>
internal sealed class ContentGuardrails(IGuardrailRunner runner) : IContentGuardrails
{
    public bool AnyFor(GuardrailMode mode, Caller caller) => runner.AnyFor(mode, caller, null);

    public async ValueTask<ContentCheck> CheckAsync(GuardrailMode mode, IReadOnlyList<string> texts, Caller caller, string requestId, string subject, CancellationToken ct)
    {
        var result = await runner.RunAsync(mode, texts, caller, null, requestId, null, ct);
        return new ContentCheck(result.Texts, result.Blocked ? result.BlockedBy ?? "guardrail" : null, result.Reason, Information(result.Decisions));
    }

    /// <summary>The decisions as the spend log's guardrail_information (the LLM routes' writer: the same fields); null when none ran.</summary>
    internal static string? Information(IReadOnlyList<GuardrailDecision> decisions)
    {
        if (decisions.Count == 0) return null;
        var recorded = new GuardrailDecisions();
        recorded.Add(decisions);
        return recorded.Json;
    }
}
