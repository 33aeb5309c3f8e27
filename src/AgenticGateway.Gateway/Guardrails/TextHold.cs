using System.Text;
using AgenticGateway.Safety.Guardrails;

namespace AgenticGateway.Guardrails;

/// <summary>
/// One streamed text (a choice's content, a content block, an output part) passing the local guardrails in pieces.
/// Text is released only once no finding can still span the boundary: the last <c>MaxMatchLength</c> characters are
/// held (never cutting into a finding that is still open), masked on the way out, and a Block finding ends the text as
/// soon as it is whole. So a match split across chunks is found as if the text had come in one piece.
/// </summary>
internal sealed class TextHold(IReadOnlyList<StreamGuard> guards)
{
    private readonly StringBuilder _pending = new();
    private readonly int _holdback = Math.Max(1, guards.Max(g => g.Guardrail.Detector.MaxMatchLength));
    private readonly List<TextFinding> _findings = [];
    private readonly List<TextFinding> _masks = [];

    /// <summary>The guardrail that blocked, and the kind it found; null while the text may go on.</summary>
    public (StreamGuard Guard, string Kind)? Blocked { get; private set; }

    /// <summary>Adds a piece; returns the text that may go out now (possibly empty), masked. With <paramref name="final"/>, everything held goes out.</summary>
    public string Feed(string piece, bool final)
    {
        if (Blocked is not null) return "";
        _pending.Append(piece);
        if (_pending.Length == 0) return "";
        var text = _pending.ToString();
        var safeEnd = final ? text.Length : Math.Max(0, text.Length - _holdback);
        // First pass: where the release may end (never inside an open finding of a guardrail that changes text).
        var perGuard = new List<TextFinding>[guards.Count];
        for (var g = 0; g < guards.Count; g++)
        {
            _findings.Clear();
            guards[g].Guardrail.Detector.Scan(text, _findings);
            perGuard[g] = [.. _findings];
            if (guards[g].ReportOnly) continue;
            foreach (var f in perGuard[g])
            {
                if (f.Action != GuardrailAction.Allow && f.Start < safeEnd && f.Start + f.Length > safeEnd) safeEnd = f.Start;
            }
        }
        if (safeEnd > 0 && safeEnd < text.Length && char.IsHighSurrogate(text[safeEnd - 1])) safeEnd--;
        // Second pass: what is released is counted once, blocked or masked.
        _masks.Clear();
        for (var g = 0; g < guards.Count; g++)
        {
            foreach (var f in perGuard[g])
            {
                if (f.Start + f.Length > safeEnd) continue;
                guards[g].Count(f.Kind);
                // A guardrail that only reports records the action it would have taken, and changes nothing.
                if (f.Action == GuardrailAction.Block)
                {
                    guards[g].Action = GuardrailAction.Block;
                    if (!guards[g].ReportOnly) Blocked ??= (guards[g], f.Kind);
                }
                else if (f.Action == GuardrailAction.Mask)
                {
                    if (guards[g].Action == GuardrailAction.Allow) guards[g].Action = GuardrailAction.Mask;
                    if (!guards[g].ReportOnly) _masks.Add(f);
                }
            }
        }
        if (Blocked is not null) return "";
        var released = TextMasks.Apply(text.AsSpan(), _masks, safeEnd) ?? text[..safeEnd];
        _pending.Remove(0, safeEnd);
        return released;
    }
}

/// <summary>One local guardrail over a stream: what it found (by kind) and did, for its decision when the stream ends.</summary>
internal sealed class StreamGuard(LocalGuardrail guardrail, bool reportOnly)
{
    public LocalGuardrail Guardrail { get; } = guardrail;
    public bool ReportOnly { get; } = reportOnly;
    public Dictionary<string, int> Counts { get; } = [];
    /// <summary>What it did (or, reporting only, would have done to what it found: recorded from the counts).</summary>
    public GuardrailAction Action { get; set; }
    public double Milliseconds { get; set; }

    public void Count(string kind) => Counts[kind] = Counts.GetValueOrDefault(kind) + 1;
}
