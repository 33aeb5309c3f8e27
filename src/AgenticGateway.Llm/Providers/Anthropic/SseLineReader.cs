using System.Buffers;

namespace AgenticGateway.Providers.Anthropic;

/// <summary>
/// Incremental server-sent-events framing: bytes in (split anywhere), one callback per complete event's data.
/// Only the unfinished line and the current event's data are kept between calls.
/// </summary>
// Not SseParser: the relay pushes each upstream read in as it arrives, SseParser pulls from a Stream (a Pipe between them would cost a copy and a task per stream); parsing costs about the same (bench/sse-parse: 2-5 us and ~4 KB per 21-event stream for both).
internal sealed class SseLineReader
{
    private readonly ArrayBufferWriter<byte> _line = new(256);
    private readonly ArrayBufferWriter<byte> _data = new(1024);
    private bool _hasData;

    /// <summary>Feeds bytes; <paramref name="onEvent"/> gets each completed event's data (the <c>data:</c> lines joined by '\n').</summary>
    public void Feed(ReadOnlySpan<byte> input, Action<ReadOnlyMemory<byte>> onEvent)
    {
        while (!input.IsEmpty)
        {
            var newline = input.IndexOf((byte)'\n');
            if (newline < 0)
            {
                _line.Write(input);
                return;
            }
            ReadOnlySpan<byte> line;
            if (_line.WrittenCount > 0)
            {
                _line.Write(input[..newline]);
                line = _line.WrittenSpan;
            }
            else line = input[..newline];
            input = input[(newline + 1)..];
            if (!line.IsEmpty && line[^1] == (byte)'\r') line = line[..^1];
            HandleLine(line, onEvent);
            _line.ResetWrittenCount();
        }
    }

    /// <summary>The input ended: an event whose blank line never came is still delivered.</summary>
    public void Flush(Action<ReadOnlyMemory<byte>> onEvent)
    {
        if (_line.WrittenCount > 0)
        {
            var line = _line.WrittenSpan;
            if (line[^1] == (byte)'\r') line = line[..^1];
            HandleLine(line, onEvent);
            _line.ResetWrittenCount();
        }
        HandleLine([], onEvent);
    }

    private void HandleLine(ReadOnlySpan<byte> line, Action<ReadOnlyMemory<byte>> onEvent)
    {
        if (line.IsEmpty)
        {
            if (!_hasData) return;
            var data = _data.WrittenMemory.ToArray();
            _data.ResetWrittenCount();
            _hasData = false;
            onEvent(data);
            return;
        }
        if (!line.StartsWith("data:"u8)) return; // event names, ids, retry hints and comments: the data carries the type
        var value = line[5..];
        if (!value.IsEmpty && value[0] == (byte)' ') value = value[1..];
        if (_hasData) _data.Write("\n"u8);
        _data.Write(value);
        _hasData = true;
    }
}
