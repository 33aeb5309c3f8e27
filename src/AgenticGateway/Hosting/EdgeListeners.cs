using System.Net;
using AgenticGateway.Configuration;
using AgenticGateway.Edge;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace AgenticGateway.Hosting;

/// <summary>
/// Kestrel's listeners when the edge has entry points: the gateway's own addresses (--urls, entry point
/// <c>gateway</c>) and one listener per TCP entry point, each connection marked with its entry point. Kestrel takes
/// either URLs or explicit listeners, not both, so the URLs are bound here as listeners too.
/// </summary>
internal static class EdgeListeners
{
    /// <summary>Whether the host binds explicit listeners (entry points) instead of its URLs.</summary>
    public static bool Needed(GatewayOptions options) => options.Edge.EntryPoints.Values.Any(e => !e.Udp);

    public static void Configure(KestrelServerOptions kestrel, string urls, EdgeStaticConfig edge)
    {
        foreach (var url in ListenAddresses.Split(urls))
        {
            var address = BindingAddress.Parse(url);
            if (address.Scheme != "http")
                throw new InvalidOperationException($"'{url}': with entry points configured, the gateway's own address must be http://; serve HTTPS through an entry point with tls");
            Action<ListenOptions> mark = lo => Mark(lo, EdgeEntryPoint.Gateway);
            if (address.IsUnixPipe) kestrel.ListenUnixSocket(address.UnixPipePath, mark);
            else if (address.Host.Equals("localhost", StringComparison.OrdinalIgnoreCase)) kestrel.ListenLocalhost(address.Port, mark);
            else if (IPAddress.TryParse(address.Host.Trim('[', ']'), out var ip)) kestrel.Listen(ip, address.Port, mark);
            else kestrel.ListenAnyIP(address.Port, mark);
        }
        foreach (var ep in edge.EntryPoints.Values.Where(e => !e.Udp))
        {
            kestrel.Listen(ep.EndPoint, lo =>
            {
                lo.Protocols = HttpProtocols.Http1AndHttp2;
                Mark(lo, ep.Name);
                // PROXY protocol, the ClientHello's SNI and ALPN, TCP routers, and TLS for HTTPS routers: each new
                // connection reads the current snapshot.
                Edge.Runtime.EdgeHolder? holder = null;
                Edge.Tcp.EdgeConnections.Use(lo, ep.Name, () => (holder ??= lo.ApplicationServices.GetRequiredService<Edge.Runtime.EdgeHolder>()).TcpSnapshot);
            });
        }
    }

    /// <summary>The entry point's name, as a connection feature every request on the connection sees.</summary>
    private static void Mark(ListenOptions listen, string entryPoint)
    {
        var feature = new EdgeEntryPoint(entryPoint);
        listen.Use(next => connection =>
        {
            connection.Features.Set(feature);
            return next(connection);
        });
    }

    /// <summary>The entry points' addresses as URLs, for the listen policy (no unauthenticated network listener).</summary>
    public static string Urls(EdgeStaticConfig edge) =>
        string.Join(';', edge.EntryPoints.Values.Select(e => $"http://{(e.EndPoint.Address.Equals(IPAddress.Any) ? "0.0.0.0" : e.EndPoint.Address.Equals(IPAddress.IPv6Any) ? "[::]" : e.EndPoint.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{e.EndPoint.Address}]" : e.EndPoint.Address.ToString())}:{e.EndPoint.Port}"));
}
