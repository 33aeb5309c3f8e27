using System.Collections.Immutable;
using AgenticGateway.Edge.Rules;

namespace AgenticGateway.Edge;

/// <summary>
/// Reads Traefik's dynamic configuration (the file provider's <c>http</c>, <c>tcp</c>, <c>udp</c> and <c>tls</c>
/// sections, field for field as docs/content/reference/dynamic-configuration/file.yaml lists them) into the typed
/// model, with Traefik's defaults, every error at once at its path. Middleware options stay as nodes for their
/// builders; references between routers, services and middlewares are checked by the runtime, which knows the other
/// providers' names (<c>@internal</c>, <c>@file</c>).
/// </summary>
internal static class DynamicConfigReader
{
    public static EdgeDynamicConfig Read(EdgeNode root, List<string> errors)
    {
        var options = new EdgeOptions(root, errors);
        var config = ReadSections(options);
        options.ReportUnknown();
        return config;
    }

    /// <summary>Reads the four sections from a map that may hold other keys (our config file); unknown keys are the caller's to report.</summary>
    public static EdgeDynamicConfig ReadSections(EdgeOptions root)
    {
        var config = new EdgeDynamicConfig();
        if (root.Map("http") is { } http)
        {
            config = config with { Http = ReadHttp(http) };
            http.ReportUnknown();
        }
        if (root.Map("tcp") is { } tcp)
        {
            config = config with { Tcp = TcpUdpReader.ReadTcp(tcp) };
            tcp.ReportUnknown();
        }
        if (root.Map("udp") is { } udp)
        {
            config = config with { Udp = TcpUdpReader.ReadUdp(udp) };
            udp.ReportUnknown();
        }
        if (root.Map("tls") is { } tls)
        {
            config = config with { Tls = TlsReader.Read(tls) };
            tls.ReportUnknown();
        }
        return config;
    }

    private static HttpSection ReadHttp(EdgeOptions http) => new(
        Named(http, "routers", ReadHttpRouter),
        Named(http, "services", HttpServiceReader.Read),
        Named(http, "middlewares", ReadMiddleware),
        Named(http, "serversTransports", HttpServiceReader.ReadServersTransport));

    /// <summary>A map of named entries (routers, services ...), each read by <paramref name="read"/>; an entry it rejects is left out.</summary>
    internal static ImmutableDictionary<string, T> Named<T>(EdgeOptions parent, string key, Func<string, EdgeOptions, T?> read) where T : class
    {
        var node = parent.Child(key);
        if (node is null) return Names.Empty<T>();
        if (!node.IsMap) { parent.Error(node.Path, "expected a map of names to definitions"); return Names.Empty<T>(); }
        var result = Names.Empty<T>().ToBuilder();
        foreach (var (name, value) in node.Entries)
        {
            if (name.Contains('@')) { parent.Error(value.Path, $"the name '{name}' must not contain '@' (it separates a name from its provider)"); continue; }
            var entry = new EdgeOptions(value, parent.Errors);
            if (read(name, entry) is { } item) result[name] = item;
            entry.ReportUnknown();
        }
        return result.ToImmutable();
    }

    private static HttpRouterConfig? ReadHttpRouter(string name, EdgeOptions o)
    {
        var entryPoints = o.Strings("entryPoints");
        var middlewares = o.Strings("middlewares");
        var service = o.String("service");
        if (string.IsNullOrEmpty(service)) o.Error(EdgeNode.ChildPath(o.Path, "service"), "is required (the service the router sends requests to)");
        var (rule, matcher) = ReadRule(o, HttpRule.Parse);
        var priority = o.Int("priority") ?? 0;
        var tls = ReadRouterTls(o, allowPassthrough: false);
        RouterObservabilityConfig? observability = null;
        if (o.Map("observability") is { } obs)
        {
            observability = new RouterObservabilityConfig(obs.Bool("accessLogs"), obs.Bool("metrics"), obs.Bool("tracing"),
                OneOf(obs, "traceVerbosity", "minimal", "minimal", "detailed"));
            obs.ReportUnknown();
        }
        if (matcher is null || string.IsNullOrEmpty(service)) return null;
        return new HttpRouterConfig(name, rule, matcher, priority, entryPoints, middlewares, service, tls, o.Path) { Observability = observability };
    }

    /// <summary>A router's rule and its ruleSyntax (only v3 exists here: Traefik's v2 syntax is deprecated).</summary>
    internal static (string Rule, T? Matcher) ReadRule<T>(EdgeOptions o, ParseRule<T> parse) where T : class
    {
        var syntax = o.String("ruleSyntax");
        if (syntax is not (null or "" or "v3"))
            o.Error(EdgeNode.ChildPath(o.Path, "ruleSyntax"), $"'{syntax}' is not supported: only Traefik's v3 rule syntax is (leave ruleSyntax out)");
        var rule = o.String("rule");
        if (string.IsNullOrWhiteSpace(rule))
        {
            o.Error(EdgeNode.ChildPath(o.Path, "rule"), "is required");
            return ("", null);
        }
        var matcher = parse(rule, out var error);
        if (matcher is null) o.Error(EdgeNode.ChildPath(o.Path, "rule"), $"{error} in {rule}");
        return (rule, matcher);
    }

    internal delegate T? ParseRule<T>(string text, out string? error);

    /// <summary>A router's tls section: present, even empty (<c>tls: {}</c>), means the router serves TLS.</summary>
    internal static RouterTlsConfig? ReadRouterTls(EdgeOptions o, bool allowPassthrough)
    {
        var raw = o.Node["tls"];
        if (raw is null) return null;
        if (raw is { IsScalar: true, Scalar: null or "" })
        {
            o.Child("tls");
            return new RouterTlsConfig(null, null, []);
        }
        var tls = o.Map("tls")!;
        var passthrough = allowPassthrough && (tls.Bool("passthrough") ?? false);
        var config = new RouterTlsConfig(tls.String("options"), tls.String("certResolver"), ReadDomains(tls, "domains"), passthrough);
        tls.ReportUnknown();
        return config;
    }

    internal static ImmutableArray<TlsDomain> ReadDomains(EdgeOptions o, string key)
    {
        var list = ImmutableArray.CreateBuilder<TlsDomain>();
        foreach (var d in o.MapList(key))
        {
            if (ReadDomain(d) is { } domain) list.Add(domain);
            d.ReportUnknown();
        }
        return list.ToImmutable();
    }

    internal static TlsDomain? ReadDomain(EdgeOptions d)
    {
        var main = d.String("main");
        var sans = d.Strings("sans");
        if (string.IsNullOrEmpty(main) && sans.IsEmpty) { d.Error(d.Path, "a domain needs main or sans"); return null; }
        return new TlsDomain(main ?? "", sans);
    }

    /// <summary>
    /// A middleware: exactly one key, its type (Traefik's name, matched without regard to case as Traefik's decoder
    /// does, or one of ours), whose value is the options its builder reads.
    /// </summary>
    internal static MiddlewareConfig? ReadMiddleware(string name, EdgeOptions o)
    {
        var entries = o.Node.Entries;
        if (entries.Length != 1)
        {
            o.Error(o.Path, entries.Length == 0
                ? "a middleware needs its type, such as stripPrefix or basicAuth, with its options"
                : $"a middleware has exactly one type, found {entries.Length}: {string.Join(", ", entries.Select(e => e.Key))}");
            foreach (var (k, _) in entries) o.Child(k);
            return null;
        }
        var (type, options) = entries[0];
        o.Child(type);
        var canonical = MiddlewareNames.FirstOrDefault(n => string.Equals(n, type, StringComparison.OrdinalIgnoreCase)) ?? type;
        return new MiddlewareConfig(name, canonical, options);
    }

    /// <summary>Traefik's HTTP and TCP middleware names as its documentation spells them.</summary>
    private static readonly string[] MiddlewareNames =
    [
        "addPrefix", "basicAuth", "buffering", "chain", "circuitBreaker", "compress", "contentType", "digestAuth", "errors",
        "forwardAuth", "grpcWeb", "headers", "ipAllowList", "ipWhiteList", "inFlightReq", "passTLSClientCert", "plugin",
        "rateLimit", "redirectRegex", "redirectScheme", "replacePath", "replacePathRegex", "retry", "stripPrefix",
        "stripPrefixRegex", "inFlightConn",
    ];

    /// <summary>A value from a closed list, compared without regard to case and returned as the list spells it.</summary>
    internal static string OneOf(EdgeOptions o, string key, string fallback, params string[] allowed)
    {
        var value = o.String(key);
        if (string.IsNullOrEmpty(value)) return fallback;
        var match = allowed.FirstOrDefault(a => string.Equals(a, value, StringComparison.OrdinalIgnoreCase));
        if (match is null) o.Error(EdgeNode.ChildPath(o.Path, key), $"'{value}' is not one of {string.Join(", ", allowed)}");
        return match ?? fallback;
    }

    /// <summary>A Go duration that may be negative (Traefik gives some a meaning: flush at once, never close).</summary>
    internal static TimeSpan? SignedDuration(EdgeOptions o, string key)
    {
        var text = o.String(key);
        if (text is null) return null;
        if (GoDuration.TryParse(text, out var d)) return d;
        o.Error(EdgeNode.ChildPath(o.Path, key), $"expected a duration such as 10s, 1m30s or 250ms (a bare number is seconds), got '{text}'");
        return null;
    }

    /// <summary>A key that Traefik documents but the edge does not implement: an error, never silently ignored.</summary>
    internal static void NotSupported(EdgeOptions o, string key, string why)
    {
        if (o.Child(key) is { } node) o.Error(node.Path, $"is not supported by the edge ({why})");
    }
}
