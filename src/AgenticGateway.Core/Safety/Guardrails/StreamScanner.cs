using System.Text;

namespace AgenticGateway.Safety.Guardrails;

/// <summary>
/// Masks a stream of text deltas (a model's streamed answer, a sandbox's output) with one detector so that the
/// concatenated output is what masking the whole text at once gives, whatever the chunking. Text is released only
/// where no finding can still reach across: at a whitespace at least <see cref="ITextDetector.MaxMatchLength"/>
/// characters before the end of what has arrived, and not inside a finding. A blocking finding ends the stream as soon
/// as it is whole (<see cref="Block"/>); nothing after it is released. One instance per stream; not thread-safe.
/// </summary>
internal sealed class StreamScanner
{
    /// <summary>
    /// A text with no whitespace for this long past the detector's reach is released anyway, so an endless token cannot
    /// hold a stream back without bound (the one case where chunking could change what is found).
    /// </summary>
    public const int HoldLimit = 16 * 1024;

    private readonly ITextDetector _detector;
    private readonly List<TextFinding> _findings = [];
    private char[] _buf = new char[256];
    private int _len;
    // Characters at the start of _buf that were already released: kept so the left edge of the next scan sees the
    // same neighbour (\b, lookbehinds) the whole text has.
    private int _ctx;
    private Dictionary<string, int>? _masked;
    // How much had arrived at the last scan: small deltas are gathered before the next one, so a detector with a long
    // reach is not rerun over its whole window for every token (the output is the same, released a little later).
    private int _scanned;

    public StreamScanner(ITextDetector detector) => _detector = detector;

    /// <summary>The blocking finding that ended the stream (its position is not meaningful), or null.</summary>
    public TextFinding? Block { get; private set; }

    /// <summary>The message the detector gives for <see cref="Block"/>.</summary>
    public string? BlockMessage { get; private set; }

    /// <summary>How many findings of each kind were masked so far (null when none).</summary>
    public IReadOnlyDictionary<string, int>? MaskedByKind => _masked;

    /// <summary>Adds a delta; returns the text that may be sent now (masked), often empty. After a block, always empty.</summary>
    public string Append(ReadOnlySpan<char> delta)
    {
        if (Block is not null) return "";
        if (_len + delta.Length > _buf.Length) Array.Resize(ref _buf, Math.Max(_buf.Length * 2, _len + delta.Length));
        delta.CopyTo(_buf.AsSpan(_len));
        _len += delta.Length;
        return Release(final: false);
    }

    /// <summary>The rest, at the end of the stream (empty after a block).</summary>
    public string Flush() => Block is not null ? "" : Release(final: true);

    private string Release(bool final)
    {
        var text = _buf.AsSpan(0, _len);
        var reach = Math.Max(_detector.MaxMatchLength, 1);
        if (!final && (_len - _ctx <= reach || _len - _scanned < Math.Min(256, reach / 4 + 1))) return "";
        _scanned = _len;
        _findings.Clear();
        _detector.Scan(text, _findings);
        // What starts in the released context was decided when it was released.
        _findings.RemoveAll(f => f.Start < _ctx || f.Length <= 0);
        foreach (var f in _findings)
        {
            if (f.Action != GuardrailAction.Block) continue;
            Block = f;
            BlockMessage = _detector.BlockMessage(f);
            _len = 0;
            _ctx = 0;
            _scanned = 0;
            return "";
        }
        TextMasker.Resolve(_findings);

        int cut;
        if (final) cut = _len;
        else
        {
            var limit = _len - reach;
            cut = -1;
            for (var i = limit; i > _ctx; i--)
            {
                if (char.IsWhiteSpace(text[i - 1]) && !Spanned(i)) { cut = i; break; }
            }
            if (cut < 0)
            {
                if (_len - _ctx <= HoldLimit + reach) return "";
                cut = limit;
                while (cut > _ctx && Spanned(cut)) cut--;
                if (cut <= _ctx) return "";
            }
        }

        var sb = new StringBuilder(cut - _ctx + 16);
        var at = _ctx;
        foreach (var f in _findings)
        {
            if (f.Start + f.Length > cut) break;
            if (f.Action != GuardrailAction.Mask) continue;
            sb.Append(text[at..f.Start]).Append(_detector.MaskText(f));
            at = f.Start + f.Length;
            _masked ??= new Dictionary<string, int>(StringComparer.Ordinal);
            _masked[f.Kind] = _masked.GetValueOrDefault(f.Kind) + 1;
        }
        sb.Append(text[at..cut]);

        if (final) { _len = 0; _ctx = 0; _scanned = 0; }
        else
        {
            // Keep one released character as the next scan's left neighbour.
            var keep = cut - 1;
            text[keep..].CopyTo(_buf);
            _len -= keep;
            _scanned = Math.Max(0, _scanned - keep);
            _ctx = 1;
        }
        return sb.ToString();
    }

    private bool Spanned(int position)
    {
        foreach (var f in _findings)
        {
            if (f.Start >= position) return false;
            if (f.Start + f.Length > position) return true;
        }
        return false;
    }
}
