using System.Text;
using AgenticGateway.Configuration;
using AgenticGateway.Safety.Guardrails;

namespace AgenticGateway.Guardrails;

/// <summary>
/// The local guardrail types (content filter, PII, secrets, injection heuristics): each is a <see cref="ITextDetector"/>
/// built from its settings by the detector factory, behind <see cref="LocalGuardrail"/>. A type the factory does not
/// know is another <see cref="IGuardrailTypes"/>'s.
/// </summary>
internal sealed class LocalGuardrailTypes(Func<GuardrailDefinition, ITextDetector?> detectors) : IGuardrailTypes
{
    public IGuardrail? Create(GuardrailDefinition definition) => detectors(definition) is { } detector ? new LocalGuardrail(definition, detector) : null;
}

/// <summary>
/// A guardrail whose check is a local detector: synchronous and free. Findings whose action is Block refuse; Mask
/// findings are replaced by a placeholder naming their kind; Allow findings are only counted.
/// </summary>
internal sealed class LocalGuardrail(GuardrailDefinition definition, ITextDetector detector) : IGuardrail
{
    public GuardrailDefinition Definition { get; } = definition;
    public ITextDetector Detector { get; } = detector;

    // Presidio's presidio_filter_scope: which way the guardrail looks (the request, the answer, or both).
    private readonly PiiFilterScope _scope = definition.Settings is PresidioSettings p ? p.FilterScope : PiiFilterScope.Both;

    /// <summary>Whether it checks texts of this mode: an input-only guardrail leaves outputs alone, and the other way round.</summary>
    public bool Sees(GuardrailMode mode)
    {
        var output = mode is GuardrailMode.PostCall or GuardrailMode.PostMcpCall or GuardrailMode.SandboxOutput;
        return _scope switch { PiiFilterScope.Input => !output, PiiFilterScope.Output => output, _ => true };
    }

    public ValueTask<GuardrailVerdict> CheckAsync(GuardrailCheck check, CancellationToken ct) =>
        ValueTask.FromResult(Sees(check.Mode) ? Check(check.Texts) : GuardrailVerdict.Allowed);

    public GuardrailVerdict Check(IReadOnlyList<string> texts)
    {
        Dictionary<string, int>? counts = null;
        string[]? masked = null;
        TextFinding? blocked = null;
        var findings = new List<TextFinding>();
        for (var i = 0; i < texts.Count; i++)
        {
            findings.Clear();
            Detector.Scan(texts[i], findings);
            if (findings.Count == 0) continue;
            // Resolved as a stream scanner resolves them, so a text checked whole and the same text streamed agree.
            TextMasker.Resolve(findings);
            counts ??= new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var f in findings) counts[f.Kind] = counts.GetValueOrDefault(f.Kind) + 1;
            blocked ??= TextMasker.FirstBlock(findings);
            if (blocked is null && TextMasker.Mask(texts[i], findings, Detector) is { } changed)
            {
                masked ??= [.. texts];
                masked[i] = changed;
            }
        }
        if (counts is null) return GuardrailVerdict.Allowed;
        if (blocked is { } b) return new GuardrailVerdict(GuardrailAction.Block, null, Detector.BlockMessage(b), counts);
        return masked is null ? new GuardrailVerdict(GuardrailAction.Allow, null, null, counts) : new GuardrailVerdict(GuardrailAction.Mask, masked, null, counts);
    }
}
