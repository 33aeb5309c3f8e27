using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace AgenticGateway.Providers.Bedrock;

/// <summary>
/// One message of the AWS event-stream binary framing (<c>application/vnd.amazon.eventstream</c>): a 12-byte
/// prelude (total length, headers length, prelude CRC-32, all big-endian), headers, payload, and a CRC-32 of
/// everything before it. Bedrock's streams only use string headers (<c>:event-type</c>, <c>:message-type</c>,
/// <c>:content-type</c>, <c>:exception-type</c>), so other header types are read but kept as text of their bytes.
/// Both CRCs are CRC-32 (IEEE), System.IO.Hashing's <see cref="Crc32"/>.
/// </summary>
internal sealed record EventStreamMessage(IReadOnlyList<KeyValuePair<string, string>> Headers, byte[] Payload)
{
    /// <summary>Prelude (12) plus message CRC (4).</summary>
    public const int Overhead = 16;
    private const byte StringType = 7;

    public string? Header(string name)
    {
        foreach (var (key, value) in Headers) if (key == name) return value;
        return null;
    }

    /// <summary>Encodes a message with string headers (the emulator's and the fixtures' frames).</summary>
    public static byte[] Encode(IReadOnlyList<KeyValuePair<string, string>> headers, ReadOnlySpan<byte> payload)
    {
        var headerBytes = new ArrayBufferWriter<byte>(128);
        foreach (var (name, value) in headers)
        {
            var n = Encoding.UTF8.GetBytes(name);
            var v = Encoding.UTF8.GetBytes(value);
            if (n.Length > byte.MaxValue || v.Length > ushort.MaxValue) throw new ArgumentException("event-stream header too long", nameof(headers));
            var span = headerBytes.GetSpan(n.Length + v.Length + 4);
            span[0] = (byte)n.Length;
            n.CopyTo(span[1..]);
            span[1 + n.Length] = StringType;
            BinaryPrimitives.WriteUInt16BigEndian(span[(2 + n.Length)..], (ushort)v.Length);
            v.CopyTo(span[(4 + n.Length)..]);
            headerBytes.Advance(n.Length + v.Length + 4);
        }
        var total = Overhead + headerBytes.WrittenCount + payload.Length;
        var frame = new byte[total];
        BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)total);
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(4), (uint)headerBytes.WrittenCount);
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(8), Crc32.HashToUInt32(frame.AsSpan(0, 8)));
        headerBytes.WrittenSpan.CopyTo(frame.AsSpan(12));
        payload.CopyTo(frame.AsSpan(12 + headerBytes.WrittenCount));
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(total - 4), Crc32.HashToUInt32(frame.AsSpan(0, total - 4)));
        return frame;
    }

    /// <summary>An event frame as Bedrock sends it: <c>:event-type</c>, JSON content type, <c>:message-type event</c>.</summary>
    public static byte[] Event(string eventType, ReadOnlySpan<byte> json) => Encode(
    [
        new(":event-type", eventType),
        new(":content-type", "application/json"),
        new(":message-type", "event"),
    ], json);

    /// <summary>An exception frame (<c>:message-type exception</c>) with the exception's name and a JSON message body.</summary>
    public static byte[] Exception(string exceptionType, ReadOnlySpan<byte> json) => Encode(
    [
        new(":exception-type", exceptionType),
        new(":content-type", "application/json"),
        new(":message-type", "exception"),
    ], json);

    /// <summary>Decodes one complete, CRC-checked frame. Throws <see cref="InvalidDataException"/> on any mismatch.</summary>
    public static EventStreamMessage Decode(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < Overhead) throw new InvalidDataException("event-stream frame shorter than its prelude");
        var total = BinaryPrimitives.ReadUInt32BigEndian(frame);
        var headersLength = BinaryPrimitives.ReadUInt32BigEndian(frame[4..]);
        if (BinaryPrimitives.ReadUInt32BigEndian(frame[8..]) != Crc32.HashToUInt32(frame[..8])) throw new InvalidDataException("event-stream prelude CRC mismatch");
        if (total != frame.Length || headersLength > total - Overhead) throw new InvalidDataException("event-stream frame lengths are inconsistent");
        if (BinaryPrimitives.ReadUInt32BigEndian(frame[^4..]) != Crc32.HashToUInt32(frame[..^4])) throw new InvalidDataException("event-stream message CRC mismatch");

        var headers = new List<KeyValuePair<string, string>>(4);
        var h = frame.Slice(12, (int)headersLength);
        while (!h.IsEmpty)
        {
            int nameLength = h[0];
            if (h.Length < 2 + nameLength) throw new InvalidDataException("event-stream header truncated");
            var name = Encoding.UTF8.GetString(h.Slice(1, nameLength));
            var type = h[1 + nameLength];
            h = h[(2 + nameLength)..];
            var valueLength = type switch
            {
                0 or 1 => 0,                        // bool true / false
                2 => 1, 3 => 2, 4 => 4, 5 => 8,     // byte, short, int, long
                8 => 8, 9 => 16,                    // timestamp, uuid
                6 or 7 => h.Length >= 2 ? 2 + BinaryPrimitives.ReadUInt16BigEndian(h) : -1, // bytes, string
                _ => -1,
            };
            if (valueLength < 0 || valueLength > h.Length) throw new InvalidDataException("event-stream header value truncated or of unknown type");
            var value = type switch
            {
                0 => "true",
                1 => "false",
                7 => Encoding.UTF8.GetString(h[2..valueLength]),
                _ => Convert.ToHexString(h[..valueLength]),
            };
            headers.Add(new(name, value));
            h = h[valueLength..];
        }
        return new EventStreamMessage(headers, frame[(12 + (int)headersLength)..^4].ToArray());
    }
}

/// <summary>
/// Cuts an event-stream byte stream, split anywhere, into whole frames. Holds at most one incomplete frame.
/// </summary>
internal sealed class EventStreamDecoder
{
    /// <summary>Bedrock's limit for one message is far below this; a larger prelude means the bytes are not a frame.</summary>
    private const int MaxFrame = 16 * 1024 * 1024;
    private byte[] _buffer = new byte[1024];
    private int _count;

    /// <summary>Bytes of an incomplete frame held back.</summary>
    public int Pending => _count;

    /// <summary>Appends bytes and returns every frame they complete, in order.</summary>
    public List<EventStreamMessage> Feed(ReadOnlySpan<byte> data)
    {
        var messages = new List<EventStreamMessage>();
        while (!data.IsEmpty)
        {
            // Complete frames lying wholly in the input are decoded in place, without copying.
            if (_count == 0 && data.Length >= 12 && FrameLength(data) is var direct && direct <= data.Length)
            {
                messages.Add(EventStreamMessage.Decode(data[..direct]));
                data = data[direct..];
                continue;
            }
            var need = _count < 12 ? 12 - _count : FrameLength(_buffer.AsSpan(0, _count)) - _count;
            var take = Math.Min(need, data.Length);
            Append(data[..take]);
            data = data[take..];
            if (_count >= 12 && FrameLength(_buffer.AsSpan(0, _count)) == _count)
            {
                messages.Add(EventStreamMessage.Decode(_buffer.AsSpan(0, _count)));
                _count = 0;
            }
        }
        return messages;
    }

    private static int FrameLength(ReadOnlySpan<byte> prelude)
    {
        var total = BinaryPrimitives.ReadUInt32BigEndian(prelude);
        if (total < EventStreamMessage.Overhead || total > MaxFrame) throw new InvalidDataException($"event-stream frame length {total} is not valid");
        if (BinaryPrimitives.ReadUInt32BigEndian(prelude[8..]) != Crc32.HashToUInt32(prelude[..8])) throw new InvalidDataException("event-stream prelude CRC mismatch");
        return (int)total;
    }

    private void Append(ReadOnlySpan<byte> data)
    {
        if (_count + data.Length > _buffer.Length) Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _count + data.Length));
        data.CopyTo(_buffer.AsSpan(_count));
        _count += data.Length;
    }
}
