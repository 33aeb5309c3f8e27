using AgenticGateway.Configuration;
using AgenticGateway.Keys;

namespace AgenticGateway.Pipeline;

/// <summary>
/// The guardrails on content that does not pass through an LLM route: MCP tool arguments and results, sandbox output.
/// Declared here and implemented in Guardrails/ (over the guardrail runner), so the MCP and sandbox services use
/// guardrails without depending on Guardrails/, which depends on the LLM service for its judge. Absent (null) when the
/// gateway has no guardrails registered.
/// </summary>
internal interface IContentGuardrails
{
    /// <summary>Whether any guardrail runs in <paramref name="mode"/> for this caller: cheap, so callers skip collecting texts.</summary>
    bool AnyFor(GuardrailMode mode, Caller caller);

    /// <summary>Runs the guardrails in effect for the caller on the texts, in configuration order.</summary>
    /// <param name="subject">What the texts are, for logs and metrics (a tool's name, "sandbox").</param>
    ValueTask<ContentCheck> CheckAsync(GuardrailMode mode, IReadOnlyList<string> texts, Caller caller, string requestId, string subject, CancellationToken ct);

    /// <summary>
    /// A check of texts that arrive in pieces (a streamed run's output), masking across piece boundaries as it goes;
    /// null when a guardrail in effect sees whole texts only (a remote one): the caller then holds the output whole
    /// and uses <see cref="CheckAsync"/>.
    /// </summary>
    IContentStream? OpenStream(GuardrailMode mode, Caller caller, string requestId, string subject) => null;
}

/// <summary>
/// Texts checked as they arrive, on named channels (stdout, stderr ...): each piece returns what may be released now
/// (masked, held back only as much as a match can span), <see cref="End"/> the rest of a channel. After a block
/// nothing more is released. One per stream; not thread-safe.
/// </summary>
internal interface IContentStream
{
    string Piece(string channel, string text);

    string End(string channel);

    /// <summary>The guardrail that blocked (null while the stream may go on), and its reason.</summary>
    string? BlockedBy { get; }

    string? Reason { get; }

    /// <summary>Records the decisions (metrics) and returns them as the spend log's guardrail_information; null when none.</summary>
    string? Finish();
}

/// <summary>
/// What the guardrails made of some texts: the texts to carry on with (masked where needed) or a block (by which
/// guardrail, and a reason the caller may read), and the decisions as the spend log's <c>guardrail_information</c>
/// (a JSON array; null when no guardrail ran).
/// </summary>
internal sealed record ContentCheck(IReadOnlyList<string> Texts, string? BlockedBy, string? Reason, string? InformationJson)
{
    public bool Blocked => BlockedBy is not null;

    /// <summary>What a caller reads when the content is refused.</summary>
    public string BlockMessage(string what) => $"The guardrail '{BlockedBy}' blocked {what}: {Reason ?? "content violates policy"}";
}
