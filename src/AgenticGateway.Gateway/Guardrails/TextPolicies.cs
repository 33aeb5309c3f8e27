using System.Text;
using AgenticGateway.Safety.Guardrails;

namespace AgenticGateway.Guardrails;

/// <summary>
/// Local guardrails on a stream as it passes: each text goes through one <see cref="StreamScanner"/> per guardrail in
/// turn (held back only as much as a match can span, masked, or blocked as soon as a blocking match is whole).
/// Guardrails that only report see each text whole when it ends, and change nothing.
/// </summary>
internal sealed class LocalTextPolicy(IReadOnlyList<StreamGuard> guards) : ITextPolicy
{
    private readonly StreamGuard[] _active = guards.Where(g => !g.ReportOnly).ToArray();
    private readonly StreamGuard[] _reporting = guards.Where(g => g.ReportOnly).ToArray();
    private readonly Dictionary<string, StreamScanner[]> _chains = new(StringComparer.Ordinal);
    private readonly Dictionary<string, StringBuilder> _wholes = new(StringComparer.Ordinal);

    /// <summary>The guardrail that blocked, and its reason; null while the stream may go on.</summary>
    public (StreamGuard Guard, string Reason)? Blocked { get; private set; }

    public string Piece(string channel, string piece)
    {
        if (Blocked is not null) return "";
        if (_reporting.Length > 0)
        {
            if (!_wholes.TryGetValue(channel, out var whole)) _wholes[channel] = whole = new StringBuilder();
            whole.Append(piece);
        }
        var chain = Chain(channel);
        var text = piece;
        for (var i = 0; i < chain.Length && text.Length > 0; i++)
        {
            text = chain[i].Append(text);
            if (Stopped(chain[i], _active[i])) return "";
        }
        return text;
    }

    public string End(string channel)
    {
        if (Blocked is not null) return "";
        var text = "";
        if (_chains.Remove(channel, out var chain))
        {
            for (var i = 0; i < chain.Length; i++)
            {
                text = chain[i].Append(text) + chain[i].Flush();
                if (Stopped(chain[i], _active[i])) return "";
            }
        }
        if (_wholes.Remove(channel, out var whole))
        {
            foreach (var g in _reporting) g.Report(g.Guardrail.Check([whole.ToString()]));
        }
        return text;
    }

    public string Whole(string channel, string text)
    {
        // The whole text again (a done event): masked as its pieces were, not counted twice.
        var current = text;
        foreach (var g in _active)
        {
            var verdict = g.Guardrail.Check([current]);
            if (verdict.Action == GuardrailAction.Mask && verdict.Masked is [var masked]) current = masked;
        }
        return current;
    }

    private StreamScanner[] Chain(string channel)
    {
        if (_chains.TryGetValue(channel, out var chain)) return chain;
        chain = new StreamScanner[_active.Length];
        for (var i = 0; i < chain.Length; i++) _active[i].Scanners.Add(chain[i] = new StreamScanner(_active[i].Guardrail.Detector));
        return _chains[channel] = chain;
    }

    private bool Stopped(StreamScanner scanner, StreamGuard guard)
    {
        if (scanner.Block is null) return false;
        Blocked = (guard, scanner.BlockMessage ?? scanner.Block.Value.Kind);
        return true;
    }
}

/// <summary>One local guardrail over a stream: its scanners (one a text), and what they found and did, for its decision.</summary>
internal sealed class StreamGuard(LocalGuardrail guardrail, bool reportOnly)
{
    public LocalGuardrail Guardrail { get; } = guardrail;
    public bool ReportOnly { get; } = reportOnly;
    public List<StreamScanner> Scanners { get; } = [];
    public double Milliseconds { get; set; }
    private readonly Dictionary<string, int> _reported = new(StringComparer.Ordinal);
    private GuardrailAction _reportedAction;

    /// <summary>A whole text's verdict, for a guardrail that only reports.</summary>
    public void Report(GuardrailVerdict verdict)
    {
        foreach (var (kind, n) in verdict.Counts) _reported[kind] = _reported.GetValueOrDefault(kind) + n;
        if (verdict.Action > _reportedAction) _reportedAction = verdict.Action;
    }

    /// <summary>What it found, by kind, and what it did (or, reporting only, would have done).</summary>
    public (GuardrailAction Action, Dictionary<string, int> Counts) Outcome()
    {
        if (ReportOnly) return (_reportedAction, _reported);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var action = GuardrailAction.Allow;
        foreach (var s in Scanners)
        {
            if (s.MaskedByKind is { } masked)
            {
                foreach (var (kind, n) in masked) counts[kind] = counts.GetValueOrDefault(kind) + n;
                if (action == GuardrailAction.Allow) action = GuardrailAction.Mask;
            }
            if (s.Block is { } b)
            {
                counts[b.Kind] = counts.GetValueOrDefault(b.Kind) + 1;
                action = GuardrailAction.Block;
            }
        }
        return (action, counts);
    }
}

/// <summary>The first pass over a held stream: each text put together whole, the events unchanged.</summary>
internal sealed class CollectTextPolicy : ITextPolicy
{
    public Dictionary<string, StringBuilder> Texts { get; } = new(StringComparer.Ordinal);

    public string Piece(string channel, string piece)
    {
        if (!Texts.TryGetValue(channel, out var sb)) Texts[channel] = sb = new StringBuilder();
        sb.Append(piece);
        return piece;
    }

    public string End(string channel) => "";

    public string Whole(string channel, string text) => text;
}

/// <summary>
/// The second pass over a held stream that a guardrail masked: each text's first piece carries the whole masked text
/// and its later pieces are empty, so the client puts the same masked text together.
/// </summary>
internal sealed class MaskedTextPolicy(IReadOnlyDictionary<string, string> masked) : ITextPolicy
{
    private readonly HashSet<string> _sent = new(StringComparer.Ordinal);

    public string Piece(string channel, string piece) =>
        !masked.TryGetValue(channel, out var text) ? piece : _sent.Add(channel) ? text : "";

    public string End(string channel) => "";

    public string Whole(string channel, string text) => masked.TryGetValue(channel, out var m) ? m : text;
}
