namespace AgenticGateway.Safety.Guardrails;

/// <summary>What a guardrail does with what it found.</summary>
internal enum GuardrailAction
{
    /// <summary>Nothing found, or found and only reported.</summary>
    Allow,
    /// <summary>The found text is replaced by a placeholder naming its kind.</summary>
    Mask,
    /// <summary>The request (or answer) is refused.</summary>
    Block,
}

/// <summary>
/// One finding in a text: its kind (an entity such as <c>EMAIL_ADDRESS</c>, a secret rule, a blocked word, an
/// injection technique), where it is, and the action configured for it. Findings carry no copy of the text.
/// </summary>
internal readonly record struct TextFinding(string Kind, int Start, int Length, GuardrailAction Action);

/// <summary>
/// A local detector built from one guardrail's settings: synchronous, allocation-light and free (content filter, PII
/// recognisers, secrets, injection heuristics). Built once per configuration snapshot; safe to share between threads.
/// </summary>
internal interface ITextDetector
{
    /// <summary>Adds what it finds in <paramref name="text"/> to <paramref name="findings"/>.</summary>
    void Scan(ReadOnlySpan<char> text, List<TextFinding> findings);

    /// <summary>
    /// The longest text one finding can span (characters): a stream scanner holds back this much of the output across
    /// chunk boundaries, so a match split between two chunks is still found and masked before it is sent.
    /// </summary>
    int MaxMatchLength { get; }

    /// <summary>
    /// The text that replaces a masked finding, as the guardrail type's reference writes it (Presidio's
    /// <c>&lt;EMAIL_ADDRESS&gt;</c>, LiteLLM content filter's <c>[EMAIL_REDACTED]</c>, hide-secrets' <c>[REDACTED]</c>).
    /// </summary>
    string MaskText(in TextFinding finding) => $"<{finding.Kind}>";

    /// <summary>Why a blocking finding blocks, in the reference's words; never contains the matched text.</summary>
    string BlockMessage(in TextFinding finding) => $"{finding.Kind} detected";
}
