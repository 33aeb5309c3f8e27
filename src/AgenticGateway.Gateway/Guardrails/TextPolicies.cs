using System.Text;
using AgenticGateway.Safety.Guardrails;

namespace AgenticGateway.Guardrails;

/// <summary>Local guardrails on a stream as it passes: each text held back just enough (<see cref="TextHold"/>), masked, or blocked.</summary>
internal sealed class LocalTextPolicy(IReadOnlyList<StreamGuard> guards) : ITextPolicy
{
    private readonly Dictionary<string, TextHold> _holds = new(StringComparer.Ordinal);

    public (StreamGuard Guard, string Kind)? Blocked { get; private set; }

    public string Piece(string channel, string piece) => Check(Hold(channel), piece, false);

    public string End(string channel) => _holds.Remove(channel, out var hold) ? Check(hold, "", true) : "";

    public string Whole(string channel, string text)
    {
        // The whole text again (a done event): masked as its pieces were, not counted twice.
        var current = text;
        foreach (var g in guards)
        {
            if (g.ReportOnly) continue;
            var verdict = g.Guardrail.Check([current]);
            if (verdict.Action == GuardrailAction.Mask && verdict.Masked is [var masked]) current = masked;
        }
        return current;
    }

    private TextHold Hold(string channel)
    {
        if (!_holds.TryGetValue(channel, out var hold)) _holds[channel] = hold = new TextHold(guards);
        return hold;
    }

    private string Check(TextHold hold, string piece, bool final)
    {
        var sent = hold.Feed(piece, final);
        Blocked ??= hold.Blocked;
        return sent;
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
