using System.Collections.Immutable;

namespace AgenticGateway.Edge;

/// <summary>
/// Traefik's HTTP services (loadBalancer, weighted, mirroring, failover) and serversTransports, with Traefik's
/// defaults: passHostHeader true, flushInterval 100ms, wrr, server weight 1, health check interval 30s and timeout 5s,
/// follow redirects, mirrorBody true, maxBodySize -1, cookie path "/", dial timeout 30s, idle timeout 90s.
/// </summary>
internal static class HttpServiceReader
{
    private static readonly string[] Kinds = ["loadBalancer", "weighted", "mirroring", "failover", "highestRandomWeight"];

    public static HttpServiceConfig? Read(string name, EdgeOptions o)
    {
        DynamicConfigReader.NotSupported(o, "middlewares", "put the middlewares on the router");
        var kinds = Kinds.Where(k => o.Node[k] is not null).ToList();
        if (kinds.Count != 1)
        {
            o.Error(o.Path, kinds.Count == 0
                ? $"a service needs one of {string.Join(", ", Kinds[..4])}"
                : $"a service has exactly one kind, found {string.Join(" and ", kinds)}");
            foreach (var k in kinds) o.Child(k);
            return null;
        }
        var kind = kinds[0];
        if (kind == "highestRandomWeight")
        {
            DynamicConfigReader.NotSupported(o, kind, "use weighted, or a loadBalancer with strategy hrw");
            return null;
        }
        var body = o.Map(kind) ?? new EdgeOptions(EdgeNode.OfMap(EdgeNode.ChildPath(o.Path, kind), []), o.Errors);
        HttpServiceConfig? service = kind switch
        {
            "loadBalancer" => ReadLoadBalancer(name, body),
            "weighted" => ReadWeighted(name, body),
            "mirroring" => ReadMirroring(name, body),
            _ => ReadFailover(name, body),
        };
        body.ReportUnknown();
        return service;
    }

    private static LoadBalancerConfig? ReadLoadBalancer(string name, EdgeOptions o)
    {
        var servers = ImmutableArray.CreateBuilder<ServerConfig>();
        foreach (var s in o.MapList("servers"))
        {
            var url = s.RequiredString("url");
            var weight = s.Int("weight", 0) ?? 1;
            var preservePath = s.Bool("preservePath") ?? false;
            s.ReportUnknown();
            if (url.Length == 0) continue;
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https" or "h2c") || uri.Host.Length == 0)
            {
                o.Error(EdgeNode.ChildPath(s.Path, "url"), $"'{url}' is not a server URL (http://host:port, https://... or h2c://...)");
                continue;
            }
            servers.Add(new ServerConfig(uri, weight, preservePath));
        }
        if (servers.Count == 0 && o.Node["servers"] is null) o.Error(EdgeNode.ChildPath(o.Path, "servers"), "is required (at least one server with its url)");
        var sticky = ReadSticky(o);
        var health = ReadHealthCheck(o);
        PassiveHealthCheckConfig? passive = null;
        if (Present(o, "passiveHealthCheck") is { } p)
        {
            passive = new PassiveHealthCheckConfig(p.Duration("failureWindow") ?? TimeSpan.FromSeconds(10), p.Int("maxFailedAttempts", 1) ?? 1);
            p.ReportUnknown();
        }
        var passHostHeader = o.Bool("passHostHeader") ?? true;
        var flush = TimeSpan.FromMilliseconds(100);
        if (o.Map("responseForwarding") is { } rf)
        {
            flush = DynamicConfigReader.SignedDuration(rf, "flushInterval") ?? flush;
            rf.ReportUnknown();
        }
        var transport = o.String("serversTransport");
        var strategy = DynamicConfigReader.OneOf(o, "strategy", "wrr", "wrr", "p2c", "hrw", "leasttime");
        return new LoadBalancerConfig(name, o.Path, servers.ToImmutable(), sticky, health, passHostHeader, transport, flush, strategy)
        {
            PassiveHealthCheck = passive,
        };
    }

    /// <summary>sticky.cookie: present (even empty) turns stickiness on; Traefik's defaults (no flags, path "/", session cookie).</summary>
    private static StickyConfig? ReadSticky(EdgeOptions o)
    {
        if (Present(o, "sticky") is not { } sticky) return null;
        StickyConfig? config = null;
        if (Present(sticky, "cookie") is { } c)
        {
            var name = c.String("name");
            config = new StickyConfig(
                string.IsNullOrEmpty(name) ? null : SanitizeCookieName(name),
                c.Bool("secure") ?? false,
                c.Bool("httpOnly") ?? false,
                DynamicConfigReader.OneOf(c, "sameSite", "", "none", "lax", "strict") is { Length: > 0 } s ? s : null,
                c.Int("maxAge") ?? 0,
                c.String("path") ?? "/",
                c.String("domain"));
            c.ReportUnknown();
        }
        else
        {
            sticky.Error(sticky.Path, "sticky needs a cookie section (cookie: {} for the defaults)");
        }
        sticky.ReportUnknown();
        return config;
    }

    /// <summary>Traefik's cookie name sanitising: every character outside RFC 2616's token set becomes '_'.</summary>
    internal static string SanitizeCookieName(string name) =>
        string.Create(name.Length, name, static (span, n) =>
        {
            for (var i = 0; i < n.Length; i++)
                span[i] = char.IsAsciiLetterOrDigit(n[i]) || "!#$%&'*+-.^`|~".Contains(n[i]) ? n[i] : '_';
        });

    private static HealthCheckConfig? ReadHealthCheck(EdgeOptions o)
    {
        if (Present(o, "healthCheck") is not { } h) return null;
        var mode = DynamicConfigReader.OneOf(h, "mode", "http", "http", "grpc");
        var path = h.String("path") ?? "";
        if (mode == "http" && path.Length == 0) h.Error(EdgeNode.ChildPath(h.Path, "path"), "is required (the path the health check requests)");
        var scheme = h.String("scheme");
        if (scheme is not (null or "http" or "https" or "h2c")) h.Error(EdgeNode.ChildPath(h.Path, "scheme"), $"'{scheme}' is not http, https or h2c");
        var interval = h.Duration("interval") ?? TimeSpan.FromSeconds(30);
        if (interval <= TimeSpan.Zero) h.Error(EdgeNode.ChildPath(h.Path, "interval"), "must be more than zero");
        var config = new HealthCheckConfig(
            scheme,
            mode,
            path,
            (h.String("method") ?? "GET").ToUpperInvariant(),
            h.Int("status", 0, 599) ?? 0,
            h.Int("port", 0, 65535) is { } port and > 0 ? port : null,
            interval,
            h.Duration("unhealthyInterval") ?? interval,
            h.Duration("timeout") ?? TimeSpan.FromSeconds(5),
            h.String("hostname"),
            h.Bool("followRedirects") ?? true,
            h.StringMap("headers"));
        h.ReportUnknown();
        return config;
    }

    private static WeightedConfig ReadWeighted(string name, EdgeOptions o)
    {
        var services = ReadWeightedServices(o);
        var sticky = ReadSticky(o);
        var health = ReadServiceHealthCheck(o);
        return new WeightedConfig(name, o.Path, services, sticky, health);
    }

    internal static ImmutableArray<WeightedService> ReadWeightedServices(EdgeOptions o)
    {
        var list = ImmutableArray.CreateBuilder<WeightedService>();
        foreach (var s in o.MapList("services"))
        {
            var name = s.RequiredString("name");
            var weight = s.Int("weight", 0) ?? 1;
            s.ReportUnknown();
            if (name.Length > 0) list.Add(new WeightedService(name, weight));
        }
        if (list.Count == 0 && o.Node["services"] is null) o.Error(EdgeNode.ChildPath(o.Path, "services"), "is required (the services with their weights)");
        return list.ToImmutable();
    }

    private static MirroringConfig ReadMirroring(string name, EdgeOptions o)
    {
        var service = o.RequiredString("service");
        var mirrors = ImmutableArray.CreateBuilder<Mirror>();
        foreach (var m in o.MapList("mirrors"))
        {
            var mirror = m.RequiredString("name");
            var percent = m.Int("percent", 0, 100) ?? 0;
            m.ReportUnknown();
            if (mirror.Length > 0) mirrors.Add(new Mirror(mirror, percent));
        }
        var maxBodySize = o.Long("maxBodySize", -1) ?? -1;
        var mirrorBody = o.Bool("mirrorBody") ?? true;
        return new MirroringConfig(name, o.Path, service, mirrors.ToImmutable(), maxBodySize, mirrorBody, ReadServiceHealthCheck(o));
    }

    private static FailoverConfig ReadFailover(string name, EdgeOptions o)
    {
        var service = o.RequiredString("service");
        var fallback = o.RequiredString("fallback");
        var health = ReadServiceHealthCheck(o);
        FailoverErrorsConfig? errors = null;
        if (o.Map("errors") is { } e)
        {
            var status = e.Strings("status");
            foreach (var range in status)
                if (!StatusRange.IsValid(range)) e.Error(EdgeNode.ChildPath(e.Path, "status"), $"'{range}' is not a status code or a range such as 500-599");
            errors = new FailoverErrorsConfig(status, e.Long("maxRequestBodyBytes", -1) ?? -1);
            e.ReportUnknown();
        }
        return new FailoverConfig(name, o.Path, service, fallback, health) { Errors = errors };
    }

    /// <summary>A service-level healthCheck (<c>healthCheck: {}</c>): propagate the children's health up; it has no options.</summary>
    private static bool ReadServiceHealthCheck(EdgeOptions o)
    {
        if (Present(o, "healthCheck") is not { } h) return false;
        h.ReportUnknown();
        return true;
    }

    public static ServersTransportConfig? ReadServersTransport(string name, EdgeOptions o)
    {
        DynamicConfigReader.NotSupported(o, "spiffe", "SPIFFE workload identities");
        DynamicConfigReader.NotSupported(o, "peerCertSANs", "use peerCertURI or serverName");
        var timeouts = o.Map("forwardingTimeouts");
        var dial = timeouts?.Duration("dialTimeout") ?? TimeSpan.FromSeconds(30);
        var responseHeader = timeouts?.Duration("responseHeaderTimeout") ?? TimeSpan.Zero;
        var idle = timeouts?.Duration("idleConnTimeout") ?? TimeSpan.FromSeconds(90);
        var readIdle = timeouts?.Duration("readIdleTimeout") ?? TimeSpan.Zero;
        var ping = timeouts?.Duration("pingTimeout") ?? TimeSpan.FromSeconds(15);
        timeouts?.ReportUnknown();
        var maxIdle = o.Int("maxIdleConnsPerHost") ?? 0;
        return new ServersTransportConfig(
            name,
            o.String("serverName"),
            o.Bool("insecureSkipVerify") ?? false,
            o.Strings("rootCAs"),
            TlsReader.ReadCertificates(o, "certificates", withStores: false),
            // Traefik: zero means Go's default of 200 idle connections per host; negative turns keep-alive off.
            maxIdle == 0 ? 200 : maxIdle,
            dial,
            responseHeader,
            idle,
            o.Bool("disableHTTP2") ?? false)
        {
            CipherSuites = o.Strings("cipherSuites"),
            MinVersion = TlsReader.Version(o, "minVersion"),
            MaxVersion = TlsReader.Version(o, "maxVersion"),
            ReadIdleTimeout = readIdle,
            PingTimeout = ping,
            PeerCertUri = o.String("peerCertURI"),
        };
    }

    /// <summary>A section whose presence matters even when empty (<c>sticky: {cookie: {}}</c>, <c>healthCheck: {}</c>, or YAML's bare key).</summary>
    internal static EdgeOptions? Present(EdgeOptions o, string key)
    {
        var raw = o.Node[key];
        if (raw is null) return null;
        return o.Map(key) ?? new EdgeOptions(EdgeNode.OfMap(EdgeNode.ChildPath(o.Path, key), []), o.Errors);
    }
}

/// <summary>HTTP status codes and ranges as Traefik's errors middleware and failover take them: "500", "500-599".</summary>
internal static class StatusRange
{
    public static bool IsValid(string text) => TryParse(text, out _, out _);

    public static bool TryParse(string text, out int from, out int to)
    {
        to = 0;
        var dash = text.IndexOf('-');
        bool ok;
        if (dash < 0)
        {
            ok = int.TryParse(text, out from);
            to = from;
        }
        else
        {
            ok = int.TryParse(text.AsSpan(0, dash), out from) && int.TryParse(text.AsSpan(dash + 1), out to);
        }
        return ok && from is >= 100 and <= 599 && to is >= 100 and <= 599 && from <= to;
    }
}
