using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace AgenticGateway.Edge.Tcp;

/// <summary>What the first bytes of a connection said: TLS or not, and for a TLS ClientHello its SNI and ALPN protocols.</summary>
internal sealed record ClientHello(bool IsTls, string? ServerName, IReadOnlyList<string> Alpn)
{
    public static readonly ClientHello NotTls = new(false, null, []);

    /// <summary>An SSLv2-framed hello: TLS, but with no extensions to read (Traefik routes it as TLS with no SNI).</summary>
    public static readonly ClientHello TlsWithoutExtensions = new(true, null, []);
}

internal enum ClientHelloStatus { NeedMore, Done, Invalid }

/// <summary>
/// Reads a TLS ClientHello (RFC 8446 4.1.2; records of RFC 8446 5.1) from the connection's first bytes without
/// consuming them: the SNI host name (RFC 6066 3) and the ALPN protocol list (RFC 7301 3.1). The handshake message may
/// span several records; it is refused above <see cref="MaxHelloBytes"/>.
/// </summary>
internal static class ClientHelloParser
{
    public const int MaxHelloBytes = 64 * 1024;
    private const byte HandshakeRecord = 0x16;
    private const byte SslV2Record = 0x80;
    private const byte ClientHelloType = 1;
    private const ushort ServerNameExtension = 0;
    private const ushort AlpnExtension = 16;

    public static ClientHelloStatus TryParse(ReadOnlySequence<byte> buffer, out ClientHello hello)
    {
        hello = ClientHello.NotTls;
        if (buffer.IsEmpty)
            return ClientHelloStatus.NeedMore;
        var first = buffer.FirstSpan[0];
        if (first != HandshakeRecord)
        {
            hello = first == SslV2Record ? ClientHello.TlsWithoutExtensions : ClientHello.NotTls;
            return ClientHelloStatus.Done;
        }

        // Collect the handshake bytes carried by consecutive handshake records until the whole ClientHello is there.
        var reader = new SequenceReader<byte>(buffer);
        var message = new ArrayBufferWriter<byte>(512);
        var needed = -1;
        while (needed < 0 || message.WrittenCount < needed)
        {
            if (reader.Remaining < 5)
                return ClientHelloStatus.NeedMore;
            reader.TryRead(out var type);
            reader.TryReadBigEndian(out short _);
            reader.TryReadBigEndian(out short length);
            if (type != HandshakeRecord || length <= 0 || length > 16384 + 2048)
                return ClientHelloStatus.Invalid;
            if (reader.Remaining < length)
                return ClientHelloStatus.NeedMore;
            var fragment = reader.UnreadSequence.Slice(0, length);
            fragment.CopyTo(message.GetSpan(length));
            message.Advance(length);
            reader.Advance(length);
            if (needed < 0 && message.WrittenCount >= 4)
            {
                var header = message.WrittenSpan;
                if (header[0] != ClientHelloType)
                    return ClientHelloStatus.Invalid;
                needed = 4 + (header[1] << 16 | header[2] << 8 | header[3]);
                if (needed > MaxHelloBytes)
                    return ClientHelloStatus.Invalid;
            }
        }
        return Parse(message.WrittenSpan[4..needed], out hello) ? ClientHelloStatus.Done : ClientHelloStatus.Invalid;
    }

    private static bool Parse(ReadOnlySpan<byte> body, out ClientHello hello)
    {
        hello = ClientHello.TlsWithoutExtensions;
        // legacy_version (2), random (32), legacy_session_id <0..32>, cipher_suites <2..2^16-2>, compression <1..2^8-1>.
        var at = 34;
        if (!Skip(body, ref at, 1) || !Skip(body, ref at, 2) || !Skip(body, ref at, 1))
            return false;
        if (at == body.Length)
            return true; // no extensions at all
        if (at + 2 > body.Length)
            return false;
        var extensionsEnd = at + 2 + BinaryPrimitives.ReadUInt16BigEndian(body[at..]);
        at += 2;
        if (extensionsEnd > body.Length)
            return false;
        string? serverName = null;
        List<string> alpn = [];
        while (at + 4 <= extensionsEnd)
        {
            var type = BinaryPrimitives.ReadUInt16BigEndian(body[at..]);
            var length = BinaryPrimitives.ReadUInt16BigEndian(body[(at + 2)..]);
            at += 4;
            if (at + length > extensionsEnd)
                return false;
            var data = body.Slice(at, length);
            at += length;
            if (type == ServerNameExtension && !ReadServerName(data, out serverName))
                return false;
            if (type == AlpnExtension && !ReadAlpn(data, alpn))
                return false;
        }
        hello = new ClientHello(true, serverName, alpn);
        return at == extensionsEnd;
    }

    private static bool ReadServerName(ReadOnlySpan<byte> data, out string? serverName)
    {
        serverName = null;
        if (data.Length < 2 || BinaryPrimitives.ReadUInt16BigEndian(data) != data.Length - 2)
            return false;
        var at = 2;
        while (at + 3 <= data.Length)
        {
            var nameType = data[at];
            var length = BinaryPrimitives.ReadUInt16BigEndian(data[(at + 1)..]);
            at += 3;
            if (at + length > data.Length)
                return false;
            // host_name (0) is the only type defined; a name that is not plain ASCII is refused as Go does.
            if (nameType == 0 && serverName is null)
            {
                var name = data.Slice(at, length);
                if (name.Length == 0 || !Ascii.IsValid(name))
                    return false;
                serverName = Encoding.ASCII.GetString(name).TrimEnd('.');
            }
            at += length;
        }
        return at == data.Length;
    }

    private static bool ReadAlpn(ReadOnlySpan<byte> data, List<string> protocols)
    {
        if (data.Length < 2 || BinaryPrimitives.ReadUInt16BigEndian(data) != data.Length - 2)
            return false;
        var at = 2;
        while (at < data.Length)
        {
            var length = data[at++];
            if (length == 0 || at + length > data.Length)
                return false;
            protocols.Add(Encoding.ASCII.GetString(data.Slice(at, length)));
            at += length;
        }
        return true;
    }

    /// <summary>Skips a vector whose length prefix is <paramref name="prefix"/> bytes long.</summary>
    private static bool Skip(ReadOnlySpan<byte> body, ref int at, int prefix)
    {
        if (at + prefix > body.Length)
            return false;
        var length = prefix == 1 ? body[at] : BinaryPrimitives.ReadUInt16BigEndian(body[at..]);
        at += prefix + length;
        return at <= body.Length;
    }
}
