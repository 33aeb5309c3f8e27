using System.Collections.Immutable;
using System.Net;
using System.Text.RegularExpressions;
using AgenticGateway.Edge;
using AgenticGateway.Edge.Rules;
using AgenticGateway.Edge.Tcp;
using Microsoft.Extensions.Logging.Abstractions;

namespace AgenticGateway.Tests.Edge.Support;

/// <summary>
/// Builds the edge's typed configuration directly for the TCP/TLS tests, and reads the few rule forms they use
/// (HostSNI with one name or `*`, ClientIP with one IP or CIDR, joined by &&; Host(`x`) for HTTPS routers' names)
/// so that connection handling is tested on its own, apart from the rule parser.
/// </summary>
internal static partial class EdgeTestConfig
{
    public static readonly TcpRuleAccess Rules = new(Match, NeedsTls, HostNames);

    public static EntryPointConfig EntryPoint(string name = "web", TrustedIpsConfig? proxyProtocol = null, bool udp = false, TimeSpan? udpTimeout = null, RouterTlsConfig? defaultTls = null) =>
        new(name, udp ? ":0/udp" : ":0", new IPEndPoint(IPAddress.Loopback, 0), udp, false, null, defaultTls, [], TimeSpan.FromSeconds(10), TimeSpan.Zero,
            TimeSpan.FromMinutes(3), TimeSpan.FromSeconds(10), TrustedIpsConfig.None, proxyProtocol, null, udpTimeout ?? TimeSpan.FromSeconds(3), $"entryPoints.{name}");

    public static EdgeStaticConfig Static(params EntryPointConfig[] entryPoints) =>
        new() { EntryPoints = entryPoints.ToImmutableDictionary(e => e.Name, StringComparer.Ordinal) };

    public static TcpRouterConfig TcpRouter(string name, string rule, string service, RouterTlsConfig? tls = null, int priority = 0, params string[] middlewares) =>
        new(name, rule, global::AgenticGateway.Edge.Rules.TcpRule.Parse(rule, out var error) ?? throw new ArgumentException(error), priority, [], [.. middlewares], service, tls, $"tcp.routers.{name}");

    public static HttpRouterConfig HttpsRouter(string name, string rule, string? options = null) =>
        new(name, rule, global::AgenticGateway.Edge.Rules.HttpRule.Parse(rule, out var error) ?? throw new ArgumentException(error), 0, [], [], "api@internal", new RouterTlsConfig(options, null, []), $"http.routers.{name}");

    public static TcpLoadBalancerConfig TcpService(string name, int? proxyProtocol = null, params (string Address, bool Tls, int Weight)[] servers) =>
        new(name, $"tcp.services.{name}", [.. servers.Select(s => new TcpServerConfig(s.Address, s.Tls, s.Weight))], proxyProtocol, TimeSpan.FromMilliseconds(100), null);

    public static EdgeDynamicConfig Dynamic(
        IEnumerable<TcpRouterConfig>? tcpRouters = null,
        IEnumerable<TcpServiceConfig>? tcpServices = null,
        IEnumerable<MiddlewareConfig>? tcpMiddlewares = null,
        IEnumerable<HttpRouterConfig>? httpRouters = null,
        TlsSection? tls = null,
        UdpSection? udp = null) => new()
        {
            Tcp = TcpSection.Empty with
            {
                Routers = (tcpRouters ?? []).ToImmutableDictionary(r => r.Name, StringComparer.Ordinal),
                Services = (tcpServices ?? []).ToImmutableDictionary(s => s.Name, StringComparer.Ordinal),
                Middlewares = (tcpMiddlewares ?? []).ToImmutableDictionary(m => m.Name, StringComparer.Ordinal),
            },
            Http = HttpSection.Empty with { Routers = (httpRouters ?? []).ToImmutableDictionary(r => r.Name, StringComparer.Ordinal) },
            Tls = tls ?? TlsSection.Empty,
            Udp = udp ?? UdpSection.Empty,
        };

    public static TlsSection Tls(IEnumerable<(string CertPem, string KeyPem)> certificates, params TlsOptionsConfig[] options) =>
        new([.. certificates.Select((c, i) => new CertificateConfig(c.CertPem, c.KeyPem, [], $"tls.certificates[{i}]"))],
            options.ToImmutableDictionary(o => o.Name, StringComparer.Ordinal), TlsSection.Empty.Stores);

    public static TlsOptionsConfig Options(string name, string? minVersion = null, string? maxVersion = null, string[]? cipherSuites = null,
        string? clientAuthType = null, string[]? caFiles = null, bool sniStrict = false) =>
        new(name, minVersion, maxVersion, [.. cipherSuites ?? []], [], [.. caFiles ?? []], clientAuthType ?? "", sniStrict, [], $"tls.options.{name}");

    /// <summary>A middleware's options as the file provider gives them: a map of scalars and lists of scalars.</summary>
    public static MiddlewareConfig Middleware(string name, string type, params (string Key, object Value)[] options)
    {
        var path = $"tcp.middlewares.{name}.{type}";
        return new MiddlewareConfig(name, type, EdgeNode.OfMap(path, options.Select(o => new KeyValuePair<string, EdgeNode>(o.Key, o.Value switch
        {
            string[] list => EdgeNode.OfList($"{path}.{o.Key}", list.Select((v, i) => EdgeNode.OfScalar($"{path}.{o.Key}[{i}]", v))),
            _ => EdgeNode.OfScalar($"{path}.{o.Key}", Convert.ToString(o.Value, System.Globalization.CultureInfo.InvariantCulture)),
        }))));
    }

    public static EdgeTcpSnapshot Snapshot(EdgeDynamicConfig config, EdgeStaticConfig staticConfig, List<string>? errors = null,
        global::AgenticGateway.Edge.Tls.IAcmeTlsChallenge? acme = null)
    {
        var list = errors ?? [];
        var snapshot = EdgeTcpSnapshot.Build(config, staticConfig, [], acme, NullLoggerFactory.Instance, list, Rules);
        if (errors is null)
            Assert.Empty(list);
        return snapshot;
    }

    private static TcpMatch Match(TcpRouterConfig router)
    {
        var parts = router.Rule.Split("&&", StringSplitOptions.TrimEntries).Select(Matcher).ToArray();
        return (in TcpRuleInput input) =>
        {
            foreach (var part in parts)
            {
                if (!part(input))
                    return false;
            }
            return true;
        };
    }

    private static Func<TcpRuleInput, bool> Matcher(string part)
    {
        var match = OneMatcher().Match(part);
        Assert.True(match.Success, $"the test rule reader does not know {part}");
        var value = match.Groups[2].Value;
        if (match.Groups[1].Value == "ClientIP")
        {
            var range = TcpMiddlewares.ParseRange(value)!.Value;
            return input => input.ClientIp is not null && range.Contains(input.ClientIp);
        }
        return value == "*" ? _ => true : input => string.Equals(input.ServerName, value, StringComparison.OrdinalIgnoreCase);
    }

    private static bool NeedsTls(TcpRouterConfig router) => router.Rule.Contains("HostSNI(`", StringComparison.Ordinal) && !router.Rule.Contains("HostSNI(`*`)", StringComparison.Ordinal);

    private static IReadOnlyList<string> HostNames(HttpRouterConfig router) => [.. HostMatcher().Matches(router.Rule).Select(m => m.Groups[1].Value)];

    [GeneratedRegex(@"^(HostSNI|ClientIP)\(`([^`]*)`\)$")]
    private static partial Regex OneMatcher();

    [GeneratedRegex(@"Host\(`([^`]+)`\)")]
    private static partial Regex HostMatcher();
}
