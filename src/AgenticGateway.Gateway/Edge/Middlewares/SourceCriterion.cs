using System.Net;
using System.Net.Sockets;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// Traefik's <c>sourceCriterion</c>: what groups requests into one source for rateLimit and inFlightReq. Exactly one of
/// <c>ipStrategy</c>, <c>requestHeaderName</c> and <c>requestHost</c>; none set means the middleware's own default (the
/// client address for rateLimit, the Host for inFlightReq).
/// </summary>
internal sealed class SourceCriterion
{
    private readonly ClientIpStrategy? _ip;
    private readonly string? _header;

    private SourceCriterion(ClientIpStrategy? ip, string? header)
    {
        _ip = ip;
        _header = header;
    }

    public static readonly SourceCriterion RemoteAddress = new(ClientIpStrategy.RemoteAddress, null);
    public static readonly SourceCriterion RequestHost = new(null, null);

    /// <summary>Reads <c>sourceCriterion</c> (null when absent or empty: the caller's default applies).</summary>
    public static SourceCriterion? Read(EdgeOptions options)
    {
        var map = options.Map("sourceCriterion");
        if (map is null) return null;
        var ipMap = map.Map("ipStrategy");
        var header = map.String("requestHeaderName");
        var host = map.Bool("requestHost") ?? false;
        map.ReportUnknown();
        var set = (ipMap is not null ? 1 : 0) + (string.IsNullOrEmpty(header) ? 0 : 1) + (host ? 1 : 0);
        if (set > 1)
        {
            options.Error(map.Path, "ipStrategy, requestHeaderName and requestHost are mutually exclusive: set one");
            return null;
        }
        if (ipMap is not null) return new SourceCriterion(ClientIpStrategy.Read(ipMap), null);
        if (!string.IsNullOrEmpty(header)) return new SourceCriterion(null, header);
        return host ? RequestHost : null;
    }

    /// <summary>The source of a request: the chosen IP ("" when the strategy finds none, as Traefik), the header's value, or the Host.</summary>
    public string Extract(HttpContext context)
    {
        if (_ip is not null) return _ip.ClientIp(context);
        // The header's first value, as Go's Header.Get; a missing header is the source "" (one bucket), as in Traefik.
        if (_header is not null) return context.Request.Headers[_header] is { Count: > 0 } values ? values[0] ?? "" : "";
        return context.Request.Host.Value ?? "";
    }
}

/// <summary>
/// Traefik's <c>ipStrategy</c>: the connection's address by default; with <c>depth</c> the X-Forwarded-For entry that
/// many from the right ("" when there are fewer); with <c>excludedIPs</c> the rightmost X-Forwarded-For entry not in
/// those ranges. <c>ipv6Subnet</c> reduces an IPv6 address to its subnet's first address (remote address and depth only).
/// </summary>
internal sealed class ClientIpStrategy
{
    private readonly int _depth;
    private readonly IPNetwork[] _excluded;
    private readonly int? _ipv6Subnet;

    private ClientIpStrategy(int depth, IPNetwork[] excluded, int? ipv6Subnet)
    {
        _depth = depth;
        _excluded = excluded;
        _ipv6Subnet = ipv6Subnet;
    }

    public static readonly ClientIpStrategy RemoteAddress = new(0, [], null);

    public static ClientIpStrategy Read(EdgeOptions map)
    {
        var depth = map.Int("depth", 0) ?? 0;
        var excludedText = map.Strings("excludedIPs");
        var subnet = map.Int("ipv6Subnet");
        map.ReportUnknown();
        if (subnet is { } s && (s <= 0 || s > 128))
        {
            map.Error(EdgeNode.ChildPath(map.Path, "ipv6Subnet"), $"invalid IPv6 subnet {s}: it must be greater than 0 and at most 128");
            subnet = null;
        }
        var excluded = new List<IPNetwork>();
        foreach (var text in excludedText)
        {
            if (TryParseRange(text, out var network)) excluded.Add(network);
            else map.Error(EdgeNode.ChildPath(map.Path, "excludedIPs"), $"'{text}' is not an IP address or CIDR range");
        }
        return new ClientIpStrategy(depth, [.. excluded], subnet);
    }

    /// <summary>An IP ("10.0.0.1", "::1") or a CIDR range ("10.0.0.0/8").</summary>
    public static bool TryParseRange(string text, out IPNetwork network)
    {
        var t = text.Trim();
        if (t.Contains('/')) return IPNetwork.TryParse(t, out network);
        if (IPAddress.TryParse(t, out var ip))
        {
            network = new IPNetwork(ip, ip.AddressFamily == AddressFamily.InterNetwork ? 32 : 128);
            return true;
        }
        network = default;
        return false;
    }

    public string ClientIp(HttpContext context)
    {
        if (_depth > 0)
        {
            var entries = ForwardedFor(context);
            if (entries.Length < _depth) return "";
            return Subnet(entries[^_depth].Trim());
        }
        if (_excluded.Length > 0)
        {
            var entries = ForwardedFor(context);
            for (var i = entries.Length - 1; i >= 0; i--)
            {
                var entry = entries[i].Trim();
                if (entry.Length == 0) continue;
                if (!IPAddress.TryParse(entry, out var ip) || !_excluded.Any(n => n.Contains(ip))) return entry;
            }
            return "";
        }
        var remote = context.Connection.RemoteIpAddress;
        if (remote is null) return "";
        if (remote.IsIPv4MappedToIPv6) remote = remote.MapToIPv4();
        return Subnet(remote.ToString());
    }

    private static string[] ForwardedFor(HttpContext context) => context.Request.Headers["X-Forwarded-For"].ToString().Split(',');

    private string Subnet(string ip)
    {
        if (_ipv6Subnet is not { } bits || !IPAddress.TryParse(ip, out var address) || address.AddressFamily != AddressFamily.InterNetworkV6) return ip;
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < 16; i++)
        {
            var keep = Math.Clamp(bits - i * 8, 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }
        return new IPAddress(bytes).ToString();
    }
}
