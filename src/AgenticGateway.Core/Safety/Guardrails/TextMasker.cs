using System.Text;

namespace AgenticGateway.Safety.Guardrails;

/// <summary>
/// Applies a detector's findings to a text: overlapping findings are resolved the same way everywhere (the earliest
/// wins, then the longest), so a stream masked piece by piece and the same text masked whole agree.
/// </summary>
internal static class TextMasker
{
    /// <summary>Sorts <paramref name="findings"/> and drops those overlapping an earlier kept one (in place).</summary>
    public static void Resolve(List<TextFinding> findings)
    {
        if (findings.Count < 2) return;
        findings.Sort(static (a, b) =>
            a.Start != b.Start ? a.Start.CompareTo(b.Start)
            : a.Length != b.Length ? b.Length.CompareTo(a.Length)
            : a.Action != b.Action ? b.Action.CompareTo(a.Action)
            : string.CompareOrdinal(a.Kind, b.Kind));
        var kept = 0;
        var end = -1;
        for (var i = 0; i < findings.Count; i++)
        {
            var f = findings[i];
            if (f.Start < end) continue;
            findings[kept++] = f;
            end = f.Start + f.Length;
        }
        findings.RemoveRange(kept, findings.Count - kept);
    }

    /// <summary>The first blocking finding, if any.</summary>
    public static TextFinding? FirstBlock(List<TextFinding> findings)
    {
        foreach (var f in findings)
            if (f.Action == GuardrailAction.Block) return f;
        return null;
    }

    /// <summary>
    /// <paramref name="text"/> with each masking finding replaced by the detector's mask text; <paramref name="findings"/>
    /// must be resolved. Returns null when nothing is masked (the caller keeps its text, no copy made).
    /// </summary>
    public static string? Mask(ReadOnlySpan<char> text, List<TextFinding> findings, ITextDetector detector)
    {
        StringBuilder? sb = null;
        var at = 0;
        foreach (var f in findings)
        {
            if (f.Action != GuardrailAction.Mask) continue;
            sb ??= new StringBuilder(text.Length + 16);
            sb.Append(text[at..f.Start]).Append(detector.MaskText(f));
            at = f.Start + f.Length;
        }
        if (sb is null) return null;
        sb.Append(text[at..]);
        return sb.ToString();
    }

    /// <summary>Scans, resolves and masks in one call (for whole texts); <paramref name="findings"/> receives the resolved findings.</summary>
    public static string Apply(ITextDetector detector, string text, List<TextFinding> findings)
    {
        findings.Clear();
        detector.Scan(text, findings);
        Resolve(findings);
        return Mask(text, findings, detector) ?? text;
    }
}
