using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace AgenticGateway.Cedar;

/// <summary>
/// Cedar's <c>ipaddr</c> extension value: an IPv4 or IPv6 address with a prefix length (a single address has the full
/// length, 32 or 128). Equality compares the address as written and the prefix, as Cedar's does.
/// </summary>
internal sealed class IpValue : IEquatable<IpValue>
{
    private readonly byte[] _bytes;

    private IpValue(byte[] bytes, int prefix)
    {
        _bytes = bytes;
        Prefix = prefix;
    }

    public bool IsIpv4 => _bytes.Length == 4;
    public bool IsIpv6 => _bytes.Length == 16;
    public int Prefix { get; }

    /// <summary>
    /// Cedar's <c>ip("...")</c> text: an address, optionally <c>/prefix</c>. IPv4 as four decimal parts without leading
    /// zeros; IPv6 in its usual forms (no zone id). Anything else is an error.
    /// </summary>
    public static bool TryParse(string text, out IpValue? value)
    {
        value = null;
        var slash = text.IndexOf('/');
        var address = slash < 0 ? text : text[..slash];
        byte[] bytes;
        if (address.Contains(':', StringComparison.Ordinal))
        {
            if (address.Contains('%', StringComparison.Ordinal) || !IPAddress.TryParse(address, out var v6) || v6.AddressFamily != AddressFamily.InterNetworkV6)
                return false;
            bytes = v6.GetAddressBytes();
        }
        else
        {
            var parts = address.Split('.');
            if (parts.Length != 4)
                return false;
            bytes = new byte[4];
            for (var i = 0; i < 4; i++)
            {
                var p = parts[i];
                if (p.Length is 0 or > 3 || (p.Length > 1 && p[0] == '0') || !p.All(char.IsAsciiDigit)
                    || !byte.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out bytes[i]))
                    return false;
            }
        }
        var max = bytes.Length * 8;
        var prefix = max;
        if (slash >= 0)
        {
            var p = text.AsSpan(slash + 1);
            if (p.Length is 0 or > 3 || (p.Length > 1 && p[0] == '0') || !int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out prefix) || prefix > max)
                return false;
        }
        value = new IpValue(bytes, prefix);
        return true;
    }

    /// <summary>Loopback: the whole range lies in 127.0.0.0/8, or is ::1.</summary>
    public bool IsLoopback => IsIpv4 ? Prefix >= 8 && _bytes[0] == 127 : Prefix == 128 && _bytes.AsSpan(0, 15).IndexOfAnyExcept((byte)0) < 0 && _bytes[15] == 1;

    /// <summary>Multicast: the whole range lies in 224.0.0.0/4 or ff00::/8.</summary>
    public bool IsMulticast => IsIpv4 ? Prefix >= 4 && (_bytes[0] & 0xF0) == 0xE0 : Prefix >= 8 && _bytes[0] == 0xFF;

    /// <summary>Whether this range lies within <paramref name="range"/> (same family; Cedar's <c>isInRange</c>).</summary>
    public bool IsInRange(IpValue range)
    {
        if (range._bytes.Length != _bytes.Length || range.Prefix > Prefix)
            return false;
        var bits = range.Prefix;
        var whole = bits / 8;
        if (!_bytes.AsSpan(0, whole).SequenceEqual(range._bytes.AsSpan(0, whole)))
            return false;
        var rest = bits % 8;
        if (rest == 0)
            return true;
        var mask = (byte)(0xFF << (8 - rest));
        return (_bytes[whole] & mask) == (range._bytes[whole] & mask);
    }

    public bool Equals(IpValue? other) => other is not null && Prefix == other.Prefix && _bytes.AsSpan().SequenceEqual(other._bytes);
    public override bool Equals(object? obj) => obj is IpValue other && Equals(other);
    public override int GetHashCode() => HashCode.Combine(Prefix, _bytes.Length, _bytes[0], _bytes[^1]);

    public override string ToString() => $"{new IPAddress(_bytes)}/{Prefix}";
}
