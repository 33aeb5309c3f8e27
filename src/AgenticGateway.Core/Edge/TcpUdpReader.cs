using System.Collections.Immutable;
using AgenticGateway.Edge.Rules;

namespace AgenticGateway.Edge;

/// <summary>
/// Traefik's tcp and udp sections: routers (HostSNI rules, TLS passthrough or termination), services (servers by
/// address, weighted), TCP middlewares (ipAllowList, inFlightConn) and TCP serversTransports, with Traefik's defaults
/// (PROXY protocol version 2, termination delay 100ms, dial timeout 30s, keep-alive 15s).
/// </summary>
internal static class TcpUdpReader
{
    public static TcpSection ReadTcp(EdgeOptions tcp) => new(
        DynamicConfigReader.Named(tcp, "routers", ReadTcpRouter),
        DynamicConfigReader.Named(tcp, "services", ReadTcpService),
        DynamicConfigReader.Named(tcp, "middlewares", DynamicConfigReader.ReadMiddleware),
        DynamicConfigReader.Named(tcp, "serversTransports", ReadTcpServersTransport));

    public static UdpSection ReadUdp(EdgeOptions udp) => new(
        DynamicConfigReader.Named(udp, "routers", ReadUdpRouter),
        DynamicConfigReader.Named(udp, "services", ReadUdpService));

    private static TcpRouterConfig? ReadTcpRouter(string name, EdgeOptions o)
    {
        var entryPoints = o.Strings("entryPoints");
        var middlewares = o.Strings("middlewares");
        var service = o.String("service");
        if (string.IsNullOrEmpty(service)) o.Error(EdgeNode.ChildPath(o.Path, "service"), "is required (the service the router sends connections to)");
        var (rule, matcher) = DynamicConfigReader.ReadRule(o, TcpRule.Parse);
        var priority = o.Int("priority") ?? 0;
        var tls = DynamicConfigReader.ReadRouterTls(o, allowPassthrough: true);
        // Traefik: a server name exists only in a TLS ClientHello, so only a TLS router can route by it.
        if (matcher is { NeedsTls: true } && tls is null)
            o.Error(EdgeNode.ChildPath(o.Path, "rule"), "matches only TLS connections (HostSNI, HostSNIRegexp, ALPN) but the router has no tls section; use HostSNI(`*`) for plain TCP");
        if (matcher is null || string.IsNullOrEmpty(service)) return null;
        return new TcpRouterConfig(name, rule, matcher, priority, entryPoints, middlewares, service, tls, o.Path);
    }

    private static TcpServiceConfig? ReadTcpService(string name, EdgeOptions o)
    {
        if (IsWeighted(o) is not { } hasWeighted) return null;
        if (hasWeighted)
        {
            var w = HttpServiceReader.Present(o, "weighted")!;
            var services = HttpServiceReader.ReadWeightedServices(w);
            DynamicConfigReader.NotSupported(w, "healthCheck", "TCP health checks");
            w.ReportUnknown();
            return new TcpWeightedConfig(name, w.Path, services);
        }
        var lb = HttpServiceReader.Present(o, "loadBalancer")!;
        var servers = ImmutableArray.CreateBuilder<TcpServerConfig>();
        foreach (var s in lb.MapList("servers"))
        {
            var address = s.RequiredString("address");
            var tls = s.Bool("tls") ?? false;
            s.ReportUnknown();
            if (address.Length == 0) continue;
            if (!HostPort.IsValid(address)) { s.Error(EdgeNode.ChildPath(s.Path, "address"), $"'{address}' is not host:port"); continue; }
            servers.Add(new TcpServerConfig(address, tls, 1));
        }
        int? proxyProtocol = null;
        if (HttpServiceReader.Present(lb, "proxyProtocol") is { } pp)
        {
            proxyProtocol = pp.Int("version", 1, 2) ?? 2;
            pp.ReportUnknown();
        }
        // Deprecated in Traefik (now on the serversTransport): milliseconds, default 100, negative for never.
        var delayMs = lb.Int("terminationDelay") ?? 100;
        var transport = lb.String("serversTransport");
        DynamicConfigReader.NotSupported(lb, "healthCheck", "TCP health checks");
        lb.ReportUnknown();
        return new TcpLoadBalancerConfig(name, lb.Path, servers.ToImmutable(), proxyProtocol,
            delayMs < 0 ? Timeout.InfiniteTimeSpan : TimeSpan.FromMilliseconds(delayMs), transport);
    }

    private static TcpServersTransportConfig ReadTcpServersTransport(string name, EdgeOptions o)
    {
        var dialTimeout = o.Duration("dialTimeout") ?? TimeSpan.FromSeconds(30);
        var keepAlive = DynamicConfigReader.SignedDuration(o, "dialKeepAlive") ?? TimeSpan.FromSeconds(15);
        var delay = DynamicConfigReader.SignedDuration(o, "terminationDelay") ?? TimeSpan.FromMilliseconds(100);
        int? proxyProtocol = null;
        if (HttpServiceReader.Present(o, "proxyProtocol") is { } pp)
        {
            proxyProtocol = pp.Int("version", 1, 2) ?? 2;
            pp.ReportUnknown();
        }
        var tls = HttpServiceReader.Present(o, "tls");
        string? serverName = null;
        var insecure = false;
        ImmutableArray<string> rootCas = [];
        ImmutableArray<CertificateConfig> certificates = [];
        string? peerCertUri = null;
        if (tls is not null)
        {
            serverName = tls.String("serverName");
            insecure = tls.Bool("insecureSkipVerify") ?? false;
            rootCas = tls.Strings("rootCAs");
            certificates = TlsReader.ReadCertificates(tls, "certificates", withStores: false);
            peerCertUri = tls.String("peerCertURI");
            DynamicConfigReader.NotSupported(tls, "spiffe", "SPIFFE workload identities");
            DynamicConfigReader.NotSupported(tls, "peerCertSANs", "use peerCertURI or serverName");
            tls.ReportUnknown();
        }
        return new TcpServersTransportConfig(name, dialTimeout, keepAlive, delay < TimeSpan.Zero ? Timeout.InfiniteTimeSpan : delay, serverName, insecure, rootCas)
        {
            ProxyProtocolVersion = proxyProtocol,
            Tls = tls is not null,
            Certificates = certificates,
            PeerCertUri = peerCertUri,
        };
    }

    private static UdpRouterConfig? ReadUdpRouter(string name, EdgeOptions o)
    {
        var entryPoints = o.Strings("entryPoints");
        var service = o.RequiredString("service");
        return service.Length == 0 ? null : new UdpRouterConfig(name, entryPoints, service, o.Path);
    }

    private static UdpServiceConfig? ReadUdpService(string name, EdgeOptions o)
    {
        if (IsWeighted(o) is not { } hasWeighted) return null;
        if (hasWeighted)
        {
            var w = HttpServiceReader.Present(o, "weighted")!;
            var services = HttpServiceReader.ReadWeightedServices(w);
            w.ReportUnknown();
            return new UdpWeightedConfig(name, w.Path, services);
        }
        var lb = HttpServiceReader.Present(o, "loadBalancer")!;
        var servers = ImmutableArray.CreateBuilder<string>();
        foreach (var s in lb.MapList("servers"))
        {
            var address = s.RequiredString("address");
            s.ReportUnknown();
            if (address.Length == 0) continue;
            if (!HostPort.IsValid(address)) { s.Error(EdgeNode.ChildPath(s.Path, "address"), $"'{address}' is not host:port"); continue; }
            servers.Add(address);
        }
        lb.ReportUnknown();
        return new UdpLoadBalancerConfig(name, lb.Path, servers.ToImmutable());
    }

    /// <summary>Whether a TCP or UDP service is weighted (else a loadBalancer); null, with the error, when it is neither or both.</summary>
    private static bool? IsWeighted(EdgeOptions o)
    {
        var hasLb = o.Node["loadBalancer"] is not null;
        var hasWeighted = o.Node["weighted"] is not null;
        if (hasLb != hasWeighted) return hasWeighted;
        o.Error(o.Path, hasLb ? "a service has exactly one kind, found loadBalancer and weighted" : "a service needs loadBalancer or weighted");
        o.Child("loadBalancer");
        o.Child("weighted");
        return null;
    }
}

/// <summary>A server address as Go dials it: host:port, an IPv6 host in brackets.</summary>
internal static class HostPort
{
    public static bool IsValid(string address) => TrySplit(address, out _, out _);

    public static bool TrySplit(string address, out string host, out int port)
    {
        host = "";
        port = 0;
        var colon = address.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(address.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535)
            return false;
        host = address[..colon];
        if (host.StartsWith('[') && host.EndsWith(']')) host = host[1..^1];
        else if (host.Contains(':')) return false;
        return host.Length > 0;
    }
}
