using AgenticGateway.Configuration;
using AgenticGateway.Safety.Guardrails;

namespace AgenticGateway.Guardrails;

/// <summary>
/// One configured guardrail at work, local (a <see cref="ITextDetector"/> behind an adapter) or remote (a webhook, an
/// LLM judge, a provider's moderation). Built once per configuration snapshot by the <see cref="IGuardrailTypes"/>
/// that knows its type.
/// </summary>
internal interface IGuardrail
{
    GuardrailDefinition Definition { get; }

    /// <summary>Checks the texts; a remote guardrail that fails or times out blocks (fails closed) unless its settings say otherwise.</summary>
    ValueTask<GuardrailVerdict> CheckAsync(GuardrailCheck check, CancellationToken ct);
}

/// <summary>Builds the guardrails of the types it knows (one implementation for the local types, one for the remote ones).</summary>
internal interface IGuardrailTypes
{
    /// <summary>The guardrail for <paramref name="definition"/>, or null when its type is not this one's.</summary>
    IGuardrail? Create(GuardrailDefinition definition);
}

/// <summary>What a guardrail checks: texts in order (message contents, tool arguments, a result, sandbox output), and whose they are.</summary>
internal sealed record GuardrailCheck(GuardrailMode Mode, IReadOnlyList<string> Texts, Keys.Caller Caller, string? Model, string RequestId);

/// <summary>
/// A guardrail's answer: allow, mask (then <see cref="Masked"/> holds every text, masked where needed), or block (with
/// a reason the caller may read, naming what was found but never quoting it). <see cref="Counts"/> counts findings by
/// kind, for metrics and the spend log.
/// </summary>
internal sealed record GuardrailVerdict(GuardrailAction Action, IReadOnlyList<string>? Masked, string? Reason, IReadOnlyDictionary<string, int> Counts)
{
    public static readonly GuardrailVerdict Allowed = new(GuardrailAction.Allow, null, null, new Dictionary<string, int>());
}

/// <summary>One guardrail's decision on one request, as metrics and the spend log record it (never the content).</summary>
internal sealed record GuardrailDecision(string Guardrail, GuardrailMode Mode, GuardrailAction Action, bool DryRun,
    IReadOnlyDictionary<string, int> Counts, double DurationMs, string? Error);

/// <summary>What the guardrails in effect made of some texts: the texts to carry on with (masked where needed), or a block.</summary>
internal sealed record GuardrailResult(bool Blocked, string? BlockedBy, string? Reason, IReadOnlyList<string> Texts, IReadOnlyList<GuardrailDecision> Decisions);

/// <summary>
/// Runs the guardrails in effect for a caller (default-on ones, those its key or team names, minus those turned off
/// for it) on texts, in configuration order, and counts every decision in metrics. The LLM middleware, the MCP
/// gateway and the sandbox services call it; the request's selection (LiteLLM's per-request <c>guardrails</c>) is
/// passed when the request made one.
/// </summary>
internal interface IGuardrailRunner
{
    /// <summary>Whether any guardrail could run in this mode for this caller (cheap: lets callers skip text extraction).</summary>
    bool AnyFor(GuardrailMode mode, Keys.Caller caller, GuardrailSelection? requested);

    ValueTask<GuardrailResult> RunAsync(GuardrailMode mode, IReadOnlyList<string> texts, Keys.Caller caller, string? model, string requestId,
        GuardrailSelection? requested, CancellationToken ct);
}

/// <summary>A request's own choice of guardrails (LiteLLM: <c>guardrails: [names]</c>, or <c>{name: true|false}</c>), where its key may make one.</summary>
internal sealed record GuardrailSelection(IReadOnlyCollection<string> On, IReadOnlyCollection<string> Off);
