using System.Buffers;

namespace AgenticGateway.Providers.Translation;

/// <summary>
/// Collects SSE bytes that arrive split anywhere and hands out complete events (up to and including the blank line
/// that ends them: "\n\n" or "\r\n\r\n"). Holds at most one incomplete event.
/// </summary>
internal sealed class SseEventBuffer
{
    private const int MaxEventBytes = 16 * 1024 * 1024;
    private readonly ArrayBufferWriter<byte> _pending = new(4096);
    private int _consumed;

    public void Append(ReadOnlySpan<byte> data)
    {
        Compact();
        if (_pending.WrittenCount + data.Length > MaxEventBytes) throw new InvalidDataException($"an SSE event exceeded {MaxEventBytes} bytes");
        _pending.Write(data);
    }

    /// <summary>The next complete event, raw; valid until the next call.</summary>
    public bool TryTake(out ReadOnlySpan<byte> evt)
    {
        var rest = _pending.WrittenSpan[_consumed..];
        var lf = rest.IndexOf("\n\n"u8);
        var crlf = rest.IndexOf("\r\n\r\n"u8);
        int end;
        if (lf < 0 && crlf < 0) { evt = default; return false; }
        if (lf >= 0 && (crlf < 0 || lf < crlf)) end = lf + 2;
        else end = crlf + 4;
        evt = rest[..end];
        _consumed += end;
        return true;
    }

    /// <summary>Bytes left after the last complete event (a stream that ended mid-event).</summary>
    public ReadOnlySpan<byte> TakeRest()
    {
        var rest = _pending.WrittenSpan[_consumed..];
        _consumed = _pending.WrittenCount;
        return rest;
    }

    /// <summary>The event's data, its data: lines joined with "\n" as the SSE spec says; empty when it has none.</summary>
    public static ReadOnlySpan<byte> Data(ReadOnlySpan<byte> evt)
    {
        // The common case, one data line, needs no copy.
        var at = evt.IndexOf("data:"u8);
        if (at < 0 || (at > 0 && evt[at - 1] != (byte)'\n')) return default;
        var line = evt[(at + 5)..];
        if (!line.IsEmpty && line[0] == (byte)' ') line = line[1..];
        var nl = line.IndexOf((byte)'\n');
        var value = nl < 0 ? line : line[..nl];
        if (!value.IsEmpty && value[^1] == (byte)'\r') value = value[..^1];
        var after = nl < 0 ? default : line[(nl + 1)..];
        if (after.IndexOf("data:"u8) < 0) return value;
        var joined = new ArrayBufferWriter<byte>(evt.Length);
        joined.Write(value);
        while (true)
        {
            var next = after.IndexOf("data:"u8);
            if (next < 0) return joined.WrittenSpan;
            after = after[(next + 5)..];
            if (!after.IsEmpty && after[0] == (byte)' ') after = after[1..];
            nl = after.IndexOf((byte)'\n');
            var v = nl < 0 ? after : after[..nl];
            if (!v.IsEmpty && v[^1] == (byte)'\r') v = v[..^1];
            joined.Write("\n"u8);
            joined.Write(v);
            after = nl < 0 ? default : after[(nl + 1)..];
        }
    }

    private void Compact()
    {
        if (_consumed == 0) return;
        var rest = _pending.WrittenSpan[_consumed..].ToArray();
        _pending.Clear();
        _pending.Write(rest);
        _consumed = 0;
    }
}
