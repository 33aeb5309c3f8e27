using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// A list of addresses and CIDR ranges (Traefik's <c>sourceRange</c>, <c>excludedIPs</c>). As Go compares them, an IPv4
/// address and its IPv4-mapped IPv6 form are the same address, and a CIDR's host bits are ignored ("10.1.2.3/8" is 10/8).
/// </summary>
internal sealed class IpRanges
{
    private readonly ImmutableArray<IPNetwork> _networks;

    private IpRanges(ImmutableArray<IPNetwork> networks) => _networks = networks;

    /// <summary>Reads the list at <paramref name="key"/>, reporting each entry that is neither an address nor a CIDR range.</summary>
    public static IpRanges Read(EdgeOptions options, string key, ImmutableArray<string> entries)
    {
        var networks = ImmutableArray.CreateBuilder<IPNetwork>();
        for (var i = 0; i < entries.Length; i++)
        {
            if (TryParseRange(entries[i].Trim(), out var network)) networks.Add(network);
            else options.Error($"{EdgeNode.ChildPath(options.Path, key)}[{i}]", $"'{entries[i]}' is neither an IP address nor a CIDR range such as 10.0.0.0/8 or 2001:db8::/32");
        }
        return new IpRanges(networks.ToImmutable());
    }

    public bool IsEmpty => _networks.IsEmpty;

    /// <summary>Whether the address (an "ip" or "ip:port" string, as a strategy returns it) is in a range; false when it does not parse.</summary>
    public bool Contains(string? address) => TryParseAddress(address, out var ip) && Contains(ip);

    public bool Contains(IPAddress address)
    {
        address = Normalize(address);
        foreach (var network in _networks)
            if (network.Contains(address)) return true;
        return false;
    }

    /// <summary>An address as Traefik reads one from a header: "ip", "ip:port" or "[ipv6]:port"; IPv4 only in its four-part form.</summary>
    public static bool TryParseAddress(string? text, out IPAddress address)
    {
        address = IPAddress.None;
        if (string.IsNullOrEmpty(text)) return false;
        var host = text.AsSpan().Trim();
        if (host.StartsWith('[') && host.IndexOf(']') is var close and > 0) host = host[1..close];
        else if (host.IndexOf(':') is var colon and >= 0 && host.LastIndexOf(':') == colon) host = host[..colon];
        if (!TryParseStrict(host, out var parsed)) return false;
        address = Normalize(parsed);
        return true;
    }

    private static bool TryParseRange(string text, out IPNetwork network)
    {
        network = default;
        var slash = text.IndexOf('/');
        if (slash < 0)
        {
            if (!TryParseStrict(text, out var single)) return false;
            single = Normalize(single);
            network = new IPNetwork(single, single.AddressFamily == AddressFamily.InterNetwork ? 32 : 128);
            return true;
        }
        if (!TryParseStrict(text.AsSpan(0, slash), out var address)) return false;
        var bits = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        if (!int.TryParse(text.AsSpan(slash + 1), System.Globalization.NumberStyles.None, null, out var prefix) || prefix > bits) return false;
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(prefix - i * 8, 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }
        var masked = new IPAddress(bytes);
        // An IPv4-mapped range (::ffff:10.0.0.0/104) matches IPv4 addresses, as Go's net.IPNet does.
        if (masked.IsIPv4MappedToIPv6 && prefix >= 96) network = new IPNetwork(masked.MapToIPv4(), prefix - 96);
        else network = new IPNetwork(masked, prefix);
        return true;
    }

    /// <summary>IPAddress.TryParse also takes "10", "10.1" and hexadecimal parts; Go, and so Traefik, takes only a.b.c.d for IPv4.</summary>
    private static bool TryParseStrict(ReadOnlySpan<char> text, out IPAddress address)
    {
        address = IPAddress.None;
        if (text.IsEmpty || text.ContainsAny('[', ']')) return false;
        if (!text.Contains(':'))
        {
            var parts = 0;
            foreach (var range in text.Split('.'))
            {
                var part = text[range];
                if (part.IsEmpty || part.Length > 3 || part.ContainsAnyExceptInRange('0', '9')) return false;
                parts++;
            }
            if (parts != 4) return false;
        }
        if (!IPAddress.TryParse(text, out var parsed)) return false;
        address = parsed;
        return true;
    }

    private static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}
