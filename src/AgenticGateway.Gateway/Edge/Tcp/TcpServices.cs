using System.Net;
using System.Security.Cryptography.X509Certificates;
using AgenticGateway.Edge.Tls;

namespace AgenticGateway.Edge.Tcp;

/// <summary>
/// Builds tcp.services into handlers: <c>loadBalancer</c> (servers by weighted round robin, TLS to them, PROXY protocol
/// to them, serversTransport) and <c>weighted</c> (services by weight). A weighted service naming an unknown service or
/// itself (directly or not) is an error.
/// </summary>
internal static class TcpServices
{
    public static Dictionary<string, TcpHandler> Build(TcpSection tcp, List<string> errors, ILogger logger)
    {
        var dialers = new Dictionary<string, TcpDialer>(StringComparer.Ordinal);
        foreach (var (name, transport) in tcp.ServersTransports)
        {
            X509Certificate2Collection? roots = transport.RootCas.IsDefaultOrEmpty ? null
                : EdgeCertificates.LoadCas(transport.RootCas, $"tcp.serversTransports.{name}.tls.rootCAs", errors);
            dialers[name] = new TcpDialer(transport.DialTimeout, transport.DialKeepAlive, transport.TerminationDelay, transport.ServerName, transport.InsecureSkipVerify, roots);
        }

        var built = new Dictionary<string, TcpHandler>(StringComparer.Ordinal);
        var building = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in tcp.Services.Keys)
            Resolve(name, null);
        return built;

        TcpHandler? Resolve(string reference, string? from)
        {
            var name = EdgeNames.Local(reference);
            if (built.TryGetValue(name, out var done))
                return done;
            if (!tcp.Services.TryGetValue(name, out var config))
            {
                if (from is not null)
                    errors.Add($"{from}: unknown TCP service {reference}");
                return null;
            }
            if (!building.Add(name))
            {
                errors.Add($"{config.Path}: weighted services refer to each other in a cycle through {name}");
                return null;
            }
            TcpHandler? handler = config switch
            {
                TcpLoadBalancerConfig lb => LoadBalancer(lb, dialers, errors, logger),
                TcpWeightedConfig weighted => Weighted(weighted, Resolve),
                _ => null,
            };
            building.Remove(name);
            if (handler is not null)
                built[name] = handler;
            return handler;
        }
    }

    private static TcpHandler? LoadBalancer(TcpLoadBalancerConfig config, Dictionary<string, TcpDialer> dialers, List<string> errors, ILogger logger)
    {
        var dialer = TcpDialer.Default with { TerminationDelay = config.TerminationDelay };
        if (config.ServersTransport is { } transportName)
        {
            if (dialers.TryGetValue(EdgeNames.Local(transportName), out var named))
                dialer = named;
            else
                errors.Add($"{config.Path}.serversTransport: unknown TCP serversTransport {transportName}");
        }
        if (config.ProxyProtocolVersion is { } version and not (1 or 2))
            errors.Add($"{config.Path}.proxyProtocol.version: must be 1 or 2, got {version}");

        var servers = new List<(Server, int)>();
        for (var i = 0; i < config.Servers.Length; i++)
        {
            var server = config.Servers[i];
            if (ParseAddress(server.Address) is { } endPoint)
                servers.Add((new Server(endPoint.EndPoint, endPoint.Host, server.Tls), server.Weight));
            else
                errors.Add($"{config.Path}.servers[{i}].address: '{server.Address}' is not host:port");
        }
        var balancer = new WeightedRoundRobin<Server>(servers);
        return session =>
        {
            if (!balancer.TryNext(out var server))
            {
                TcpServicesLog.NoServer(logger, session.Router);
                return Task.CompletedTask;
            }
            return TcpProxy.ForwardAsync(session, server.EndPoint, server.Host, server.Tls, config.ProxyProtocolVersion, dialer, logger);
        };
    }

    private static TcpHandler? Weighted(TcpWeightedConfig config, Func<string, string?, TcpHandler?> resolve)
    {
        var children = new List<(TcpHandler, int)>();
        for (var i = 0; i < config.Services.Length; i++)
        {
            if (resolve(config.Services[i].Name, $"{config.Path}.services[{i}].name") is { } child)
                children.Add((child, config.Services[i].Weight));
        }
        if (children.Count != config.Services.Length)
            return null;
        var balancer = new WeightedRoundRobin<TcpHandler>(children);
        return session => balancer.TryNext(out var child) ? child(session) : Task.CompletedTask;
    }

    /// <summary><c>host:port</c>, <c>1.2.3.4:80</c> or <c>[::1]:80</c>.</summary>
    public static (EndPoint EndPoint, string Host)? ParseAddress(string address)
    {
        if (IPEndPoint.TryParse(address, out var ip) && ip.Port != 0)
            return (ip, ip.Address.ToString());
        var colon = address.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(address.AsSpan(colon + 1), out var port) || port is <= 0 or > 65535)
            return null;
        var host = address[..colon];
        if (host.Contains(':') || host.Contains('[') || Uri.CheckHostName(host) == UriHostNameType.Unknown)
            return null;
        return (new DnsEndPoint(host, port), host);
    }

    private sealed record Server(EndPoint EndPoint, string Host, bool Tls);

}

internal static partial class TcpServicesLog
{
    [LoggerMessage(1933, LogLevel.Warning, "TCP router {Router}: its service has no server to send the connection to")]
    public static partial void NoServer(ILogger logger, string router);
}

/// <summary>References between Traefik objects may carry the provider (<c>name@file</c>); the file provider's own names do not.</summary>
internal static class EdgeNames
{
    public static string Local(string reference) =>
        reference.EndsWith("@file", StringComparison.Ordinal) ? reference[..^"@file".Length] : reference;
}
