using System.Buffers;

namespace AgenticGateway.Providers.Translation;

/// <summary>
/// Collects SSE bytes that arrive split anywhere and hands out complete events (up to and including the blank line
/// that ends them: "\n\n" or "\r\n\r\n"). Holds at most one incomplete event.
/// </summary>
// Not SseParser: the relay forwards each event's raw bytes untouched (ids, comments, unknown fields, CRLF), while SseParser hands out parsed fields from a Stream it pulls; parsing costs about the same (bench/sse-parse).
internal sealed class SseEventBuffer
{
    private const int MaxEventBytes = 16 * 1024 * 1024;
    private byte[] _buffer = new byte[4096];
    private int _start;
    private int _end;

    public void Append(ReadOnlySpan<byte> data)
    {
        if (_start == _end) _start = _end = 0;
        if (_end + data.Length > _buffer.Length)
        {
            // Move the unread bytes to the front, and grow only when that is not enough: no copy per append.
            var pending = _end - _start;
            if (pending + data.Length > MaxEventBytes) throw new InvalidDataException($"an SSE event exceeded {MaxEventBytes} bytes");
            var target = pending + data.Length > _buffer.Length ? new byte[Math.Max(_buffer.Length * 2, pending + data.Length)] : _buffer;
            _buffer.AsSpan(_start, pending).CopyTo(target);
            _buffer = target;
            _start = 0;
            _end = pending;
        }
        data.CopyTo(_buffer.AsSpan(_end));
        _end += data.Length;
    }

    /// <summary>The next complete event, raw; valid until the next call.</summary>
    public bool TryTake(out ReadOnlySpan<byte> evt)
    {
        var rest = _buffer.AsSpan(_start, _end - _start);
        var lf = rest.IndexOf("\n\n"u8);
        var crlf = rest.IndexOf("\r\n\r\n"u8);
        if (lf < 0 && crlf < 0) { evt = default; return false; }
        var end = lf >= 0 && (crlf < 0 || lf < crlf) ? lf + 2 : crlf + 4;
        evt = rest[..end];
        _start += end;
        return true;
    }

    /// <summary>Bytes left after the last complete event (a stream that ended mid-event).</summary>
    public ReadOnlySpan<byte> TakeRest()
    {
        var rest = _buffer.AsSpan(_start, _end - _start);
        _start = _end;
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
}
