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

    public ValueTask<GuardrailVerdict> CheckAsync(GuardrailCheck check, CancellationToken ct) => ValueTask.FromResult(Check(check.Texts));

    public GuardrailVerdict Check(IReadOnlyList<string> texts)
    {
        Dictionary<string, int>? counts = null;
        string[]? masked = null;
        string? blockedKind = null;
        var findings = new List<TextFinding>();
        for (var i = 0; i < texts.Count; i++)
        {
            findings.Clear();
            Detector.Scan(texts[i], findings);
            if (findings.Count == 0) continue;
            counts ??= [];
            foreach (var f in findings)
            {
                counts[f.Kind] = counts.GetValueOrDefault(f.Kind) + 1;
                if (f.Action == GuardrailAction.Block) blockedKind ??= f.Kind;
            }
            if (blockedKind is null && TextMasks.Apply(texts[i], findings) is { } changed)
            {
                masked ??= [.. texts];
                masked[i] = changed;
            }
        }
        if (counts is null) return GuardrailVerdict.Allowed;
        if (blockedKind is not null) return new GuardrailVerdict(GuardrailAction.Block, null, $"found {Describe(counts, blockedKind)}", counts);
        return masked is null ? new GuardrailVerdict(GuardrailAction.Allow, null, null, counts) : new GuardrailVerdict(GuardrailAction.Mask, masked, null, counts);
    }

    /// <summary>What was found, by kind and never quoted.</summary>
    private static string Describe(Dictionary<string, int> counts, string blockedKind) => blockedKind;
}

/// <summary>Replaces findings in a text by placeholders naming their kind (Presidio's anonymizer writes <c>&lt;EMAIL_ADDRESS&gt;</c>).</summary>
internal static class TextMasks
{
    public static string Placeholder(string kind) => "<" + kind + ">";

    /// <summary>The text with its Mask findings replaced (overlapping ones merged, the first's kind named), or null when none is to be masked.</summary>
    public static string? Apply(string text, List<TextFinding> findings) => Apply(text.AsSpan(), findings, text.Length);

    /// <summary>The first <paramref name="length"/> characters of the text, masked; findings past them are ignored.</summary>
    public static string? Apply(ReadOnlySpan<char> text, List<TextFinding> findings, int length)
    {
        var masks = findings.Where(f => f.Action == GuardrailAction.Mask && f.Length > 0 && f.Start + f.Length <= length).OrderBy(f => f.Start).ThenByDescending(f => f.Length).ToList();
        if (masks.Count == 0) return null;
        var sb = new StringBuilder(length);
        var at = 0;
        var i = 0;
        while (i < masks.Count)
        {
            var start = masks[i].Start;
            var end = start + masks[i].Length;
            var kind = masks[i].Kind;
            for (i++; i < masks.Count && masks[i].Start < end; i++) end = Math.Max(end, masks[i].Start + masks[i].Length);
            if (start < at) start = at;
            sb.Append(text[at..start]).Append(Placeholder(kind));
            at = end;
        }
        sb.Append(text[at..length]);
        return sb.ToString();
    }
}
