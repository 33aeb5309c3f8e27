using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace AgenticGateway.Edge.Tcp;

internal enum ProxyHeaderStatus { NeedMore, None, Header, Invalid }

/// <summary>The addresses a PROXY protocol header carried (null for <c>UNKNOWN</c> / <c>LOCAL</c>: keep the connection's own).</summary>
internal readonly record struct ProxyHeader(IPEndPoint? Source, IPEndPoint? Destination);

/// <summary>
/// HAProxy's PROXY protocol (https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt): version 1 (one text line,
/// at most 107 bytes) and version 2 (a 16-byte binary header, then the addresses and TLVs), read from an entry point's
/// trusted peers and written to backends whose service asks for it.
/// </summary>
internal static class ProxyProtocol
{
    private static ReadOnlySpan<byte> V2Signature => [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];
    private static ReadOnlySpan<byte> V1Prefix => "PROXY "u8;
    private const int V1MaxLength = 107;

    /// <summary>Reads a header at the start of <paramref name="buffer"/>; <paramref name="length"/> is how many bytes it took.</summary>
    public static ProxyHeaderStatus TryRead(ReadOnlySequence<byte> buffer, out ProxyHeader header, out int length)
    {
        header = default;
        length = 0;
        Span<byte> start = stackalloc byte[16];
        var have = (int)Math.Min(buffer.Length, 16);
        buffer.Slice(0, have).CopyTo(start);
        start = start[..have];

        if (StartsWithPartially(start, V2Signature))
            return have < 16 ? ProxyHeaderStatus.NeedMore : ReadV2(buffer, start, out header, out length);
        if (StartsWithPartially(start, V1Prefix))
            return have < V1Prefix.Length ? ProxyHeaderStatus.NeedMore : ReadV1(buffer, out header, out length);
        return ProxyHeaderStatus.None;
    }

    private static bool StartsWithPartially(ReadOnlySpan<byte> data, ReadOnlySpan<byte> prefix) =>
        data.Length >= prefix.Length ? data.StartsWith(prefix) : prefix.StartsWith(data);

    private static ProxyHeaderStatus ReadV1(ReadOnlySequence<byte> buffer, out ProxyHeader header, out int length)
    {
        header = default;
        length = 0;
        var window = buffer.Slice(0, Math.Min(buffer.Length, V1MaxLength));
        var end = window.PositionOf((byte)'\n');
        if (end is null)
            return buffer.Length >= V1MaxLength ? ProxyHeaderStatus.Invalid : ProxyHeaderStatus.NeedMore;
        var lineBytes = window.Slice(0, end.Value).ToArray();
        length = lineBytes.Length + 1;
        if (lineBytes.Length == 0 || lineBytes[^1] != '\r' || !Ascii.IsValid(lineBytes))
            return ProxyHeaderStatus.Invalid;
        var parts = Encoding.ASCII.GetString(lineBytes, 0, lineBytes.Length - 1).Split(' ');
        if (parts.Length >= 2 && parts[1] == "UNKNOWN")
            return ProxyHeaderStatus.Header;
        if (parts.Length != 6 || parts[1] is not ("TCP4" or "TCP6")
            || !IPAddress.TryParse(parts[2], out var source) || !IPAddress.TryParse(parts[3], out var destination)
            || !ushort.TryParse(parts[4], out var sourcePort) || !ushort.TryParse(parts[5], out var destinationPort))
            return ProxyHeaderStatus.Invalid;
        var family = parts[1] == "TCP4" ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
        if (source.AddressFamily != family || destination.AddressFamily != family)
            return ProxyHeaderStatus.Invalid;
        header = new ProxyHeader(new IPEndPoint(source, sourcePort), new IPEndPoint(destination, destinationPort));
        return ProxyHeaderStatus.Header;
    }

    private static ProxyHeaderStatus ReadV2(ReadOnlySequence<byte> buffer, ReadOnlySpan<byte> start, out ProxyHeader header, out int length)
    {
        header = default;
        var versionCommand = start[12];
        var family = start[13];
        length = 16 + BinaryPrimitives.ReadUInt16BigEndian(start[14..]);
        if (versionCommand >> 4 != 2 || (versionCommand & 0x0F) > 1)
            return ProxyHeaderStatus.Invalid;
        if (buffer.Length < length)
            return ProxyHeaderStatus.NeedMore;
        // LOCAL (health checks from the proxy itself) and families other than TCP/UDP over IPv4/IPv6 keep the real addresses.
        if ((versionCommand & 0x0F) == 0 || family is not (0x11 or 0x12 or 0x21 or 0x22))
            return ProxyHeaderStatus.Header;
        var addressLength = family >> 4 == 1 ? 4 : 16;
        if (length - 16 < addressLength * 2 + 4)
            return ProxyHeaderStatus.Invalid;
        var addresses = buffer.Slice(16, addressLength * 2 + 4).ToArray();
        var source = new IPAddress(addresses.AsSpan(0, addressLength));
        var destination = new IPAddress(addresses.AsSpan(addressLength, addressLength));
        var sourcePort = BinaryPrimitives.ReadUInt16BigEndian(addresses.AsSpan(addressLength * 2));
        var destinationPort = BinaryPrimitives.ReadUInt16BigEndian(addresses.AsSpan(addressLength * 2 + 2));
        header = new ProxyHeader(new IPEndPoint(source, sourcePort), new IPEndPoint(destination, destinationPort));
        return ProxyHeaderStatus.Header;
    }

    /// <summary>
    /// The header to send a backend for a client at <paramref name="source"/> that reached the edge at
    /// <paramref name="destination"/>; addresses of different families (or unknown) are sent as UNKNOWN / LOCAL.
    /// </summary>
    public static byte[] Write(int version, IPEndPoint? source, IPEndPoint? destination)
    {
        if (source is not null && destination is not null && source.AddressFamily != destination.AddressFamily)
        {
            // Both sides must be one family: map the IPv4 one into IPv6 (a dual-stack listener's habit).
            source = new IPEndPoint(source.Address.MapToIPv6(), source.Port);
            destination = new IPEndPoint(destination.Address.MapToIPv6(), destination.Port);
        }
        if (source?.Address.IsIPv4MappedToIPv6 == true && destination?.Address.IsIPv4MappedToIPv6 == true)
        {
            source = new IPEndPoint(source.Address.MapToIPv4(), source.Port);
            destination = new IPEndPoint(destination.Address.MapToIPv4(), destination.Port);
        }
        return version == 1 ? WriteV1(source, destination) : WriteV2(source, destination);
    }

    private static byte[] WriteV1(IPEndPoint? source, IPEndPoint? destination)
    {
        if (source is null || destination is null)
            return "PROXY UNKNOWN\r\n"u8.ToArray();
        var family = source.AddressFamily == AddressFamily.InterNetwork ? "TCP4" : "TCP6";
        return Encoding.ASCII.GetBytes($"PROXY {family} {source.Address} {destination.Address} {source.Port} {destination.Port}\r\n");
    }

    private static byte[] WriteV2(IPEndPoint? source, IPEndPoint? destination)
    {
        if (source is null || destination is null)
        {
            var local = new byte[16];
            V2Signature.CopyTo(local);
            local[12] = 0x20; // version 2, LOCAL
            return local;
        }
        var size = source.AddressFamily == AddressFamily.InterNetwork ? 4 : 16;
        var header = new byte[16 + size * 2 + 4];
        V2Signature.CopyTo(header);
        header[12] = 0x21; // version 2, PROXY
        header[13] = size == 4 ? (byte)0x11 : (byte)0x21; // TCP over IPv4 / IPv6
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(14), (ushort)(size * 2 + 4));
        source.Address.TryWriteBytes(header.AsSpan(16, size), out _);
        destination.Address.TryWriteBytes(header.AsSpan(16 + size, size), out _);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(16 + size * 2), (ushort)source.Port);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(18 + size * 2), (ushort)destination.Port);
        return header;
    }
}
