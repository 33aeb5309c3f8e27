using System.Net;
using System.Net.Sockets;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// Traefik's <c>ipStrategy</c>: which address of a request counts as the client's. Without one it is the connection's
/// peer (Traefik's RemoteAddr, not the forwarded address); <c>depth</c> takes the n-th address from the right of
/// X-Forwarded-For; <c>excludedIPs</c> takes the right-most address not in the list; <c>ipv6Subnet</c> reduces an IPv6
/// address to its subnet so a client cannot rotate through its /64. Shared by every middleware with a source criterion.
/// </summary>
internal sealed class IpStrategy
{
    private readonly int _depth;
    private readonly IpRanges? _excluded;
    private readonly int? _ipv6Subnet;

    private IpStrategy(int depth, IpRanges? excluded, int? ipv6Subnet)
    {
        _depth = depth;
        _excluded = excluded;
        _ipv6Subnet = ipv6Subnet;
    }

    /// <summary>The connection's address, Traefik's default.</summary>
    public static readonly IpStrategy RemoteAddress = new(0, null, null);

    /// <summary>Reads an <c>ipStrategy</c> map (null: the default), reporting bad values through <paramref name="options"/>.</summary>
    public static IpStrategy Read(EdgeOptions? options)
    {
        if (options is null) return RemoteAddress;
        var depth = options.Int("depth", min: 0) ?? 0;
        var excludedList = options.Strings("excludedIPs");
        var subnet = options.Int("ipv6Subnet");
        options.ReportUnknown();
        // Traefik checks the subnet only where it applies: with depth, or when neither depth nor excludedIPs is set.
        if (subnet is { } s && (s <= 0 || s > 128) && (depth > 0 || excludedList.IsEmpty))
            options.Error(EdgeNode.ChildPath(options.Path, "ipv6Subnet"), $"invalid IPv6 subnet {s}: it must be from 1 to 128");
        if (depth > 0) return new IpStrategy(depth, null, subnet);
        if (!excludedList.IsEmpty) return new IpStrategy(0, IpRanges.Read(options, "excludedIPs", excludedList), null);
        return subnet is null ? RemoteAddress : new IpStrategy(0, null, subnet);
    }

    /// <summary>The client's address as text; "" when the strategy finds none (too few forwarded addresses).</summary>
    public string ClientIp(HttpContext context)
    {
        if (_depth > 0)
        {
            var forwarded = FirstForwardedFor(context);
            var count = Count(forwarded);
            if (count < _depth) return "";
            return Subnet(Nth(forwarded, count - _depth).Trim().ToString());
        }
        if (_excluded is not null)
        {
            var forwarded = FirstForwardedFor(context);
            for (var i = Count(forwarded) - 1; i >= 0; i--)
            {
                var item = Nth(forwarded, i).Trim();
                if (item.IsEmpty) continue;
                var text = item.ToString();
                // An entry that does not parse is not in the excluded list either, so it is the client (as Traefik has it).
                if (!_excluded.Contains(text)) return text;
            }
            return "";
        }
        var remote = context.Connection.RemoteIpAddress;
        if (remote is null) return "";
        if (remote.IsIPv4MappedToIPv6) remote = remote.MapToIPv4();
        return Subnet(remote.ToString());
    }

    private string Subnet(string ip)
    {
        if (_ipv6Subnet is not { } bits || !IPAddress.TryParse(ip, out var address) || address.AddressFamily != AddressFamily.InterNetworkV6 || address.IsIPv4MappedToIPv6)
            return ip;
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
            bytes[i] &= (byte)(0xFF << (8 - Math.Clamp(bits - i * 8, 0, 8)));
        return new IPAddress(bytes).ToString();
    }

    // Go's Header.Get: only the first X-Forwarded-For line counts.
    private static string FirstForwardedFor(HttpContext context)
    {
        var values = context.Request.Headers["X-Forwarded-For"];
        return values.Count == 0 ? "" : values[0] ?? "";
    }

    private static int Count(string list) => list.AsSpan().Count(',') + 1;

    private static ReadOnlySpan<char> Nth(string list, int n)
    {
        var i = 0;
        foreach (var range in list.AsSpan().Split(','))
        {
            if (i++ == n) return list.AsSpan()[range];
        }
        return [];
    }
}
