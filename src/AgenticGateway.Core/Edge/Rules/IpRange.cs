using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace AgenticGateway.Edge.Rules;

/// <summary>
/// An IP address or CIDR range as Traefik's ClientIP matcher and IP lists take them (<c>10.0.0.1</c>,
/// <c>192.168.0.0/16</c>, <c>::1</c>, <c>2001:db8::/32</c>). As in Go, an IPv4 range matches IPv4 clients and
/// IPv4-mapped IPv6 clients (<c>::ffff:10.0.0.1</c>), an IPv6 range only IPv6 clients. Testing a client allocates nothing.
/// </summary>
internal readonly struct IpRange
{
    private readonly UInt128 _network;
    private readonly UInt128 _mask;
    private readonly bool _v4;

    private IpRange(UInt128 network, UInt128 mask, bool v4)
    {
        _network = network;
        _mask = mask;
        _v4 = v4;
    }

    public static bool TryParse(string text, out IpRange range, out string? error)
    {
        range = default;
        error = null;
        var slash = text.IndexOf('/');
        var addressText = slash < 0 ? text : text[..slash];
        if (!IPAddress.TryParse(addressText, out var address) || addressText.Contains('%'))
        {
            error = $"'{text}' is not an IP address or a CIDR range";
            return false;
        }
        var v4 = address.AddressFamily == AddressFamily.InterNetwork || address.IsIPv4MappedToIPv6;
        var bits = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        var prefix = bits;
        if (slash >= 0 && (!int.TryParse(text.AsSpan(slash + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out prefix) || prefix > bits))
        {
            error = $"'{text}' is not a valid CIDR range (the prefix length must be from 0 to {bits})";
            return false;
        }
        // An IPv4 prefix counts in the mapped address's last 32 bits.
        var prefix128 = bits == 32 ? prefix + 96 : prefix;
        var mask = prefix128 == 0 ? UInt128.Zero : UInt128.MaxValue << (128 - prefix128);
        range = new IpRange(ToBits(address) & mask, mask, v4);
        return true;
    }

    public bool Contains(IPAddress? address)
    {
        if (address is null) return false;
        var v4 = address.AddressFamily == AddressFamily.InterNetwork || address.IsIPv4MappedToIPv6;
        return v4 == _v4 && (ToBits(address) & _mask) == _network;
    }

    /// <summary>The address as 128 bits, an IPv4 address mapped into IPv6 (<c>::ffff:a.b.c.d</c>).</summary>
    private static UInt128 ToBits(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            bytes[..10].Clear();
            bytes[10] = 0xFF;
            bytes[11] = 0xFF;
            address.TryWriteBytes(bytes[12..], out _);
        }
        else
        {
            address.TryWriteBytes(bytes, out _);
        }
        return BinaryPrimitives.ReadUInt128BigEndian(bytes);
    }
}
