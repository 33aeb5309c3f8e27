using System.Collections.Frozen;
using System.Net;
using AgenticGateway.Edge.Rules;
using AgenticGateway.Edge.Tls;
using Microsoft.Extensions.Logging.Abstractions;

namespace AgenticGateway.Edge.Tcp;

/// <summary>A TCP router's rule as the connection handler asks it.</summary>
internal delegate bool TcpMatch(in TcpRuleInput input);

/// <summary>
/// How the snapshot reads routers' rules: the parsed <see cref="TcpRule"/> and <see cref="HttpRule.HostNames"/>.
/// A seam so that routing can be exercised with rules built some other way (the connection tests' own HostSNI reader).
/// </summary>
internal sealed record TcpRuleAccess(Func<TcpRouterConfig, TcpMatch> Match, Func<TcpRouterConfig, bool> NeedsTls, Func<HttpRouterConfig, IReadOnlyList<string>> HostNames)
{
    public static readonly TcpRuleAccess Parsed = new(r => r.Matcher.Matches, r => r.Matcher.NeedsTls, r => r.Matcher.HostNames);
}

/// <summary>A TCP router ready to take connections: its rule, whether it is HostSNI(`*`), its TLS handling and its chain.</summary>
internal sealed record TcpRoute(string Name, int Priority, TcpMatch Match, bool CatchAll, bool Passthrough, EdgeTlsOptions? TlsOptions, TcpHandler Handler);

/// <summary>A UDP router: the next server for a new client session.</summary>
internal sealed record UdpRoute(string Name, Func<string?> NextServer);

/// <summary>What one TCP entry point routes: its TCP routers (plain and TLS), the HTTPS routers' host names with their TLS options, and its timeouts.</summary>
internal sealed class EntryPointRoutes
{
    public required EntryPointConfig Config { get; init; }
    public required TcpRoute[] Plain { get; init; }
    public required TcpRoute[] Tls { get; init; }
    /// <summary>SNI host name to the tls.options of the HTTPS routers that serve it (Traefik matches them before TCP TLS routers).</summary>
    public required FrozenDictionary<string, EdgeTlsOptions> HttpsHosts { get; init; }
    /// <summary>The options for TLS connections whose SNI no router names: Traefik's <c>default</c> options.</summary>
    public required EdgeTlsOptions HttpsDefault { get; init; }
    public required bool HasHttps { get; init; }

    /// <summary>
    /// Only plain TCP routers here: the connection goes to them at once, without waiting for the client to speak
    /// (server-first protocols such as SMTP or MySQL), as Traefik does.
    /// </summary>
    public bool ServerFirst => Plain.Length > 0 && Tls.Length == 0 && !HasHttps;

    public TcpRoute? MatchPlain(in TcpRuleInput input) => First(Plain, input);
    public TcpRoute? MatchTls(in TcpRuleInput input) => First(Tls, input);

    private static TcpRoute? First(TcpRoute[] routes, in TcpRuleInput input)
    {
        foreach (var route in routes)
        {
            if (route.Match(in input))
                return route;
        }
        return null;
    }
}

/// <summary>
/// The TCP and UDP side of one edge configuration, built whole from the dynamic and static configuration and swapped by
/// the runtime on reload: connections already routed keep the snapshot they started with.
/// </summary>
internal sealed partial class EdgeTcpSnapshot
{
    private readonly FrozenDictionary<string, EntryPointRoutes> _entryPoints;
    private readonly FrozenDictionary<string, UdpRoute> _udp;

    private EdgeTcpSnapshot(EdgeTls tls, FrozenDictionary<string, EntryPointRoutes> entryPoints, FrozenDictionary<string, UdpRoute> udp)
    {
        Tls = tls;
        _entryPoints = entryPoints;
        _udp = udp;
    }

    public EdgeTls Tls { get; }

    /// <summary>The routes of a TCP entry point; null for a name the static configuration does not have.</summary>
    public EntryPointRoutes? EntryPoint(string name) => _entryPoints.GetValueOrDefault(name);

    /// <summary>The router of a UDP entry point (one per entry point, as in Traefik); null when none.</summary>
    public UdpRoute? Udp(string entryPoint) => _udp.GetValueOrDefault(entryPoint);

    public static EdgeTcpSnapshot Build(EdgeDynamicConfig config, EdgeStaticConfig staticConfig, IReadOnlyList<ICertificateSource> certificateSources,
        IAcmeTlsChallenge? acme, ILoggerFactory loggers, List<string> errors) =>
        Build(config, staticConfig, certificateSources, acme, loggers, errors, TcpRuleAccess.Parsed);

    internal static EdgeTcpSnapshot Build(EdgeDynamicConfig config, EdgeStaticConfig staticConfig, IReadOnlyList<ICertificateSource> certificateSources,
        IAcmeTlsChallenge? acme, ILoggerFactory loggers, List<string> errors, TcpRuleAccess rules)
    {
        var logger = loggers.CreateLogger("AgenticGateway.Edge.Tcp");
        var tls = EdgeTls.Build(config.Tls, certificateSources, acme, errors);
        var services = TcpServices.Build(config.Tcp, errors, logger);

        var tcpEntryPoints = staticConfig.EntryPoints.Values.Where(e => !e.Udp).ToList();
        var defaults = tcpEntryPoints.Where(e => e.AsDefault).Select(e => e.Name).ToList();
        if (defaults.Count == 0)
            defaults = [.. tcpEntryPoints.Select(e => e.Name)];

        var plain = tcpEntryPoints.ToDictionary(e => e.Name, _ => new List<TcpRoute>(), StringComparer.Ordinal);
        var tlsRoutes = tcpEntryPoints.ToDictionary(e => e.Name, _ => new List<TcpRoute>(), StringComparer.Ordinal);
        foreach (var router in config.Tcp.Routers.Values)
        {
            var route = BuildRoute(router, config.Tcp, services, tls, rules, errors, logger);
            if (route is null)
                continue;
            foreach (var entryPoint in EntryPointsOf(router.EntryPoints, defaults, plain.Keys, $"{router.Path}.entryPoints", errors))
                (router.Tls is null ? plain : tlsRoutes)[entryPoint].Add(route);
        }

        var entryPoints = new Dictionary<string, EntryPointRoutes>(StringComparer.Ordinal);
        foreach (var entryPoint in tcpEntryPoints)
        {
            var (hosts, hasHttps) = HttpsHosts(config.Http, entryPoint, defaults, tls, rules, errors, logger);
            entryPoints[entryPoint.Name] = new EntryPointRoutes
            {
                Config = entryPoint,
                Plain = Ordered(plain[entryPoint.Name]),
                Tls = Ordered(tlsRoutes[entryPoint.Name]),
                HttpsHosts = hosts,
                HttpsDefault = tls.DefaultOptions,
                HasHttps = hasHttps,
            };
        }

        return new EdgeTcpSnapshot(tls, entryPoints.ToFrozenDictionary(StringComparer.Ordinal), BuildUdp(config.Udp, staticConfig, errors, logger));
    }

    public static readonly EdgeTcpSnapshot Empty = Build(EdgeDynamicConfig.Empty, EdgeStaticConfig.Empty, [], null, NullLoggerFactory.Instance, []);

    // Highest priority first; equal priorities in name order so that the choice does not depend on dictionary order.
    private static TcpRoute[] Ordered(List<TcpRoute> routes) =>
        [.. routes.OrderByDescending(r => r.Priority).ThenBy(r => r.Name, StringComparer.Ordinal)];

    private static TcpRoute? BuildRoute(TcpRouterConfig router, TcpSection tcp, Dictionary<string, TcpHandler> services, EdgeTls tls,
        TcpRuleAccess rules, List<string> errors, ILogger logger)
    {
        var before = errors.Count;
        if (!services.TryGetValue(EdgeNames.Local(router.Service), out var handler))
        {
            if (!tcp.Services.ContainsKey(EdgeNames.Local(router.Service)))
                errors.Add($"{router.Path}.service: unknown TCP service {router.Service}");
            return null;
        }
        if (router.Tls is null && rules.NeedsTls(router))
            errors.Add($"{router.Path}.rule: a router without tls can only match HostSNI(`*`) or ClientIP (its connections carry no server name)");
        EdgeTlsOptions? options = null;
        if (router.Tls is { Passthrough: false } routerTls)
        {
            options = tls.Options(routerTls.Options);
            if (options is null)
                errors.Add($"{router.Path}.tls.options: unknown TLS options {routerTls.Options}");
        }

        // Middlewares apply in the order listed: the first sees the connection first.
        for (var i = router.Middlewares.Length - 1; i >= 0; i--)
        {
            var name = router.Middlewares[i];
            if (!tcp.Middlewares.TryGetValue(EdgeNames.Local(name), out var middlewareConfig))
            {
                errors.Add($"{router.Path}.middlewares[{i}]: unknown TCP middleware {name}");
                continue;
            }
            if (TcpMiddlewares.Build(middlewareConfig, errors, logger) is { } middleware)
                handler = middleware(handler);
        }
        if (errors.Count != before)
            return null;
        var catchAll = IsCatchAll(router.Rule);
        return new TcpRoute(router.Name, router.EffectivePriority, rules.Match(router), catchAll, router.Tls?.Passthrough == true, options, handler);
    }

    /// <summary>Traefik's catch-all TCP rule, HostSNI(`*`), which yields to HTTPS routers naming the host.</summary>
    private static bool IsCatchAll(string rule)
    {
        var compact = string.Concat(rule.Where(c => !char.IsWhiteSpace(c)));
        return compact is "HostSNI(`*`)" or "HostSNI(\"*\")";
    }

    private static IEnumerable<string> EntryPointsOf(System.Collections.Immutable.ImmutableArray<string> named, List<string> defaults,
        IEnumerable<string> known, string path, List<string> errors)
    {
        if (named.IsDefaultOrEmpty)
            return defaults;
        var knownSet = known.ToHashSet(StringComparer.Ordinal);
        var list = new List<string>();
        foreach (var name in named)
        {
            if (knownSet.Contains(name))
                list.Add(name);
            else
                errors.Add($"{path}: unknown entry point {name}");
        }
        return list;
    }

    /// <summary>
    /// The host names of the HTTPS routers on an entry point with their TLS options. Two routers giving one host
    /// different options fall back to <c>default</c> for it, as Traefik does (with its warning).
    /// </summary>
    private static (FrozenDictionary<string, EdgeTlsOptions>, bool) HttpsHosts(HttpSection http, EntryPointConfig entryPoint, List<string> defaults,
        EdgeTls tls, TcpRuleAccess rules, List<string> errors, ILogger logger)
    {
        var hosts = new Dictionary<string, EdgeTlsOptions>(StringComparer.OrdinalIgnoreCase);
        var conflicts = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var hasHttps = false;
        foreach (var router in http.Routers.Values)
        {
            var onEntryPoint = router.EntryPoints.IsDefaultOrEmpty ? defaults.Contains(entryPoint.Name) : router.EntryPoints.Contains(entryPoint.Name);
            var routerTls = router.Tls ?? entryPoint.DefaultTls;
            if (!onEntryPoint || routerTls is null)
                continue;
            hasHttps = true;
            var options = tls.Options(routerTls.Options);
            if (options is null)
            {
                errors.Add($"{router.Path}.tls.options: unknown TLS options {routerTls.Options}");
                continue;
            }
            foreach (var host in rules.HostNames(router))
            {
                if (hosts.TryGetValue(host, out var existing) && existing != options)
                {
                    if (conflicts.Add(host))
                        LogConflictingOptions(logger, host, entryPoint.Name);
                    hosts[host] = tls.DefaultOptions;
                }
                else if (!conflicts.Contains(host))
                    hosts[host] = options;
            }
        }
        return (hosts.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase), hasHttps);
    }

    private static FrozenDictionary<string, UdpRoute> BuildUdp(UdpSection udp, EdgeStaticConfig staticConfig, List<string> errors, ILogger logger)
    {
        var services = UdpServices.Build(udp, errors);
        var udpEntryPoints = staticConfig.EntryPoints.Values.Where(e => e.Udp).Select(e => e.Name).ToList();
        var routes = new Dictionary<string, UdpRoute>(StringComparer.Ordinal);
        foreach (var entryPoint in udpEntryPoints)
        {
            var routers = udp.Routers.Values
                .Where(r => r.EntryPoints.IsDefaultOrEmpty || r.EntryPoints.Contains(entryPoint))
                .OrderByDescending(r => r.Name, StringComparer.Ordinal)
                .ToList();
            if (routers.Count > 1)
                LogSeveralUdpRouters(logger, entryPoint, routers[0].Name);
            // As Traefik: one router per UDP entry point (UDP has no rule to choose between routers), the last by name.
            foreach (var router in routers)
            {
                if (services.TryGetValue(EdgeNames.Local(router.Service), out var next))
                {
                    routes[entryPoint] = new UdpRoute(router.Name, next);
                    break;
                }
            }
        }
        foreach (var router in udp.Routers.Values)
        {
            if (!udp.Services.ContainsKey(EdgeNames.Local(router.Service)))
                errors.Add($"{router.Path}.service: unknown UDP service {router.Service}");
            foreach (var name in router.EntryPoints.IsDefault ? [] : router.EntryPoints)
            {
                if (!udpEntryPoints.Contains(name))
                    errors.Add($"{router.Path}.entryPoints: {name} is not a UDP entry point");
            }
        }
        return routes.ToFrozenDictionary(StringComparer.Ordinal);
    }

    [LoggerMessage(1934, LogLevel.Warning, "TLS options conflict for host {Host} on entry point {EntryPoint}: routers give it different tls.options; using default")]
    private static partial void LogConflictingOptions(ILogger logger, string host, string entryPoint);

    [LoggerMessage(1935, LogLevel.Warning, "More than one UDP router for entry point {EntryPoint}; only {Router} is used (as Traefik)")]
    private static partial void LogSeveralUdpRouters(ILogger logger, string entryPoint, string router);
}
