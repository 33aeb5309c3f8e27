using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;

namespace AgenticGateway.Edge.Api;

/// <summary>
/// Traefik's API representations written with Utf8JsonWriter: the dynamic configuration's field names (pkg/config/dynamic),
/// and the runtime's additions (<c>status</c>, <c>error</c>, <c>usedBy</c>, <c>using</c>, <c>serverStatus</c>, <c>name</c>,
/// <c>provider</c>, <c>type</c>, <c>priorityStr</c>). Durations are Go's (<c>30s</c>, <c>1m30s</c>, <c>100ms</c>).
/// </summary>
internal static class EdgeApiJson
{
    public static void Router(Utf8JsonWriter w, EdgeApiItem r, bool named)
    {
        w.WriteStartObject();
        Strings(w, "entryPoints", r.EntryPoints);
        Strings(w, "middlewares", r.Middlewares);
        if (r.Service.Length > 0) w.WriteString("service", r.Service);
        if (r.Rule.Length > 0) w.WriteString("rule", r.Rule);
        if (r.Priority != 0) w.WriteNumber("priority", r.Priority);
        if (r.Config is HttpRouterConfig { Tls: { } tls })
        {
            w.WriteStartObject("tls");
            // Traefik's API names the default TLS options when a router has none of its own.
            w.WriteString("options", tls.Options ?? "default");
            if (tls.CertResolver is { } resolver) w.WriteString("certResolver", resolver);
            if (!tls.Domains.IsDefaultOrEmpty)
            {
                w.WriteStartArray("domains");
                foreach (var d in tls.Domains)
                {
                    w.WriteStartObject();
                    w.WriteString("main", d.Main);
                    Strings(w, "sans", d.Sans);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        Status(w, r);
        Strings(w, "using", r.Using);
        if (named) Names(w, r, null, priorityStr: true);
        w.WriteEndObject();
    }

    public static void Service(Utf8JsonWriter w, EdgeApiItem s, bool named)
    {
        w.WriteStartObject();
        switch (s.Config)
        {
            case LoadBalancerConfig lb: LoadBalancer(w, lb); break;
            case WeightedConfig wc:
                w.WriteStartObject("weighted");
                w.WriteStartArray("services");
                foreach (var child in wc.Services)
                {
                    w.WriteStartObject();
                    w.WriteString("name", child.Name);
                    w.WriteNumber("weight", child.Weight);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                if (wc.Sticky is { } sticky) Sticky(w, sticky);
                if (wc.HealthCheck) { w.WriteStartObject("healthCheck"); w.WriteEndObject(); }
                w.WriteEndObject();
                break;
            case MirroringConfig m:
                w.WriteStartObject("mirroring");
                w.WriteString("service", m.Service);
                w.WriteBoolean("mirrorBody", m.MirrorBody);
                if (m.MaxBodySize >= 0) w.WriteNumber("maxBodySize", m.MaxBodySize);
                w.WriteStartArray("mirrors");
                foreach (var mirror in m.Mirrors)
                {
                    w.WriteStartObject();
                    w.WriteString("name", mirror.Name);
                    w.WriteNumber("percent", mirror.Percent);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                if (m.HealthCheck) { w.WriteStartObject("healthCheck"); w.WriteEndObject(); }
                w.WriteEndObject();
                break;
            case FailoverConfig f:
                w.WriteStartObject("failover");
                w.WriteString("service", f.Service);
                w.WriteString("fallback", f.Fallback);
                if (f.HealthCheck) { w.WriteStartObject("healthCheck"); w.WriteEndObject(); }
                w.WriteEndObject();
                break;
        }
        Status(w, s);
        Strings(w, "usedBy", s.UsedBy);
        if (s.ServerStatus.Count > 0)
        {
            w.WriteStartObject("serverStatus");
            foreach (var (url, state) in s.ServerStatus) w.WriteString(url, state);
            w.WriteEndObject();
        }
        if (named) Names(w, s, s.Type, priorityStr: false);
        w.WriteEndObject();
    }

    public static void Middleware(Utf8JsonWriter w, EdgeApiItem m, bool named)
    {
        w.WriteStartObject();
        if (m.Config is MiddlewareConfig config)
        {
            // Traefik's shape: the options under the middleware's type key (addPrefix: {prefix: ...}).
            w.WritePropertyName(config.Type);
            Node(w, config.Options, 0);
        }
        Status(w, m);
        Strings(w, "usedBy", m.UsedBy);
        if (named) Names(w, m, m.Type, priorityStr: false);
        w.WriteEndObject();
    }

    public static void Overview(Utf8JsonWriter w, EdgeView view, EdgeStaticConfig statics, bool accessLog)
    {
        w.WriteStartObject();
        w.WriteStartObject("http");
        Section(w, "routers", view.Routers);
        Section(w, "services", view.Services);
        Section(w, "middlewares", view.Middlewares);
        w.WriteEndObject();
        w.WriteStartObject("tcp");
        Section(w, "routers", []);
        Section(w, "services", []);
        Section(w, "middlewares", []);
        w.WriteEndObject();
        w.WriteStartObject("udp");
        Section(w, "routers", []);
        Section(w, "services", []);
        w.WriteEndObject();
        w.WriteStartObject("features");
        w.WriteString("tracing", "");
        // The gateway always serves Prometheus' /metrics, with Traefik's edge metrics in it.
        w.WriteString("metrics", "Prometheus");
        w.WriteBoolean("accessLog", accessLog);
        w.WriteEndObject();
        if (statics.FileProvider is not null)
        {
            w.WriteStartArray("providers");
            w.WriteStringValue("File");
            w.WriteEndArray();
        }
        w.WriteEndObject();
    }

    public static void RawData(Utf8JsonWriter w, EdgeView view)
    {
        w.WriteStartObject();
        Map(w, "routers", view.Routers, Router);
        Map(w, "middlewares", view.Middlewares, Middleware);
        Map(w, "services", view.Services, Service);
        w.WriteEndObject();

        static void Map(Utf8JsonWriter w, string name, ImmutableArray<EdgeApiItem> items, Action<Utf8JsonWriter, EdgeApiItem, bool> write)
        {
            if (items.IsEmpty) return;
            w.WriteStartObject(name);
            foreach (var item in items.OrderBy(i => i.Name, StringComparer.Ordinal))
            {
                w.WritePropertyName(item.Name);
                write(w, item, false);
            }
            w.WriteEndObject();
        }
    }

    public static void Version(Utf8JsonWriter w, DateTimeOffset started)
    {
        w.WriteStartObject();
        w.WriteString("Version", Telemetry.TelemetryNames.Version);
        w.WriteString("Codename", "agentic-gateway");
        w.WriteString("startDate", started.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture));
        w.WriteEndObject();
    }

    /// <summary>The configured entry points, and the gateway's own listener (entry point <c>gateway</c>), sorted by name.</summary>
    public static List<string> EntryPointNames(EdgeStaticConfig statics)
    {
        var names = statics.EntryPoints.Keys.ToList();
        if (!names.Contains(EdgeEntryPoint.Gateway)) names.Add(EdgeEntryPoint.Gateway);
        names.Sort(StringComparer.Ordinal);
        return names;
    }

    public static void EntryPoint(Utf8JsonWriter w, string name, EdgeStaticConfig statics)
    {
        w.WriteStartObject();
        if (statics.EntryPoints.TryGetValue(name, out var ep))
        {
            w.WriteString("address", ep.Address);
            if (ep.AsDefault) w.WriteBoolean("asDefault", true);
            w.WriteStartObject("transport");
            w.WriteStartObject("lifeCycle");
            w.WriteString("graceTimeOut", Go(ep.GraceTimeout));
            w.WriteEndObject();
            w.WriteStartObject("respondingTimeouts");
            w.WriteString("readTimeout", Go(ep.ReadTimeout));
            w.WriteString("writeTimeout", Go(ep.WriteTimeout));
            w.WriteString("idleTimeout", Go(ep.IdleTimeout));
            w.WriteEndObject();
            w.WriteEndObject();
            Trusted(w, "forwardedHeaders", ep.ForwardedHeaders);
            if (ep.ProxyProtocol is { } pp) Trusted(w, "proxyProtocol", pp);
            w.WriteStartObject("http");
            if (ep.Redirection is { } r)
            {
                w.WriteStartObject("redirections");
                w.WriteStartObject("entryPoint");
                w.WriteString("to", r.To);
                w.WriteString("scheme", r.Scheme);
                w.WriteBoolean("permanent", r.Permanent);
                w.WriteNumber("priority", r.Priority);
                w.WriteEndObject();
                w.WriteEndObject();
            }
            Strings(w, "middlewares", ep.DefaultMiddlewares);
            if (ep.DefaultTls is { } tls)
            {
                w.WriteStartObject("tls");
                if (tls.Options is { } o) w.WriteString("options", o);
                if (tls.CertResolver is { } cr) w.WriteString("certResolver", cr);
                w.WriteEndObject();
            }
            w.WriteEndObject();
            if (ep.Http2MaxConcurrentStreams is { } streams)
            {
                w.WriteStartObject("http2");
                w.WriteNumber("maxConcurrentStreams", streams);
                w.WriteEndObject();
            }
            if (ep.Udp)
            {
                w.WriteStartObject("udp");
                w.WriteString("timeout", Go(ep.UdpTimeout));
                w.WriteEndObject();
            }
        }
        w.WriteString("name", name);
        w.WriteEndObject();
    }

    private static void Trusted(Utf8JsonWriter w, string name, TrustedIpsConfig trusted)
    {
        w.WriteStartObject(name);
        if (trusted.Insecure) w.WriteBoolean("insecure", true);
        Strings(w, "trustedIPs", trusted.TrustedIps);
        w.WriteEndObject();
    }

    private static void LoadBalancer(Utf8JsonWriter w, LoadBalancerConfig lb)
    {
        w.WriteStartObject("loadBalancer");
        w.WriteStartArray("servers");
        foreach (var s in lb.Servers)
        {
            w.WriteStartObject();
            w.WriteString("url", string.IsNullOrEmpty(s.Url.UserInfo) ? s.Url.OriginalString : s.Url.OriginalString.Replace(s.Url.UserInfo + "@", "", StringComparison.Ordinal));
            if (s.Weight != 1) w.WriteNumber("weight", s.Weight);
            if (s.PreservePath) w.WriteBoolean("preservePath", true);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        if (lb.Strategy.Length > 0) w.WriteString("strategy", lb.Strategy);
        if (lb.Sticky is { } sticky) Sticky(w, sticky);
        if (lb.HealthCheck is { } hc)
        {
            w.WriteStartObject("healthCheck");
            if (hc.Scheme is { } scheme) w.WriteString("scheme", scheme);
            if (hc.Mode.Length > 0) w.WriteString("mode", hc.Mode);
            w.WriteString("path", hc.Path);
            w.WriteString("method", hc.Method);
            if (hc.Status != 0) w.WriteNumber("status", hc.Status);
            if (hc.Port is { } port) w.WriteNumber("port", port);
            w.WriteString("interval", Go(hc.Interval));
            w.WriteString("unhealthyInterval", Go(hc.UnhealthyInterval));
            w.WriteString("timeout", Go(hc.Timeout));
            if (hc.Hostname is { } host) w.WriteString("hostname", host);
            w.WriteBoolean("followRedirects", hc.FollowRedirects);
            if (!hc.Headers.IsDefaultOrEmpty)
            {
                w.WriteStartObject("headers");
                foreach (var (k, v) in hc.Headers) w.WriteString(k, v);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        w.WriteBoolean("passHostHeader", lb.PassHostHeader);
        if (lb.FlushInterval is { } flush)
        {
            w.WriteStartObject("responseForwarding");
            w.WriteString("flushInterval", Go(flush));
            w.WriteEndObject();
        }
        if (lb.ServersTransport is { } transport) w.WriteString("serversTransport", transport);
        w.WriteEndObject();
    }

    private static void Sticky(Utf8JsonWriter w, StickyConfig sticky)
    {
        w.WriteStartObject("sticky");
        w.WriteStartObject("cookie");
        if (sticky.CookieName is { } name) w.WriteString("name", name);
        if (sticky.Secure) w.WriteBoolean("secure", true);
        if (sticky.HttpOnly) w.WriteBoolean("httpOnly", true);
        if (sticky.SameSite is { } sameSite) w.WriteString("sameSite", sameSite);
        if (sticky.MaxAge != 0) w.WriteNumber("maxAge", sticky.MaxAge);
        if (sticky.Path is { } path) w.WriteString("path", path);
        if (sticky.Domain is { } domain) w.WriteString("domain", domain);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void Status(Utf8JsonWriter w, EdgeApiItem item)
    {
        Strings(w, "error", item.Errors);
        w.WriteString("status", item.Status);
    }

    private static void Names(Utf8JsonWriter w, EdgeApiItem item, string? type, bool priorityStr)
    {
        w.WriteString("name", item.Name);
        w.WriteString("provider", item.Provider);
        if (priorityStr) w.WriteString("priorityStr", item.Priority.ToString(CultureInfo.InvariantCulture));
        if (!string.IsNullOrEmpty(type)) w.WriteString("type", type);
    }

    /// <summary>A list, left out when empty (Go's omitempty).</summary>
    private static void Strings(Utf8JsonWriter w, string name, ImmutableArray<string> values)
    {
        if (values.IsDefaultOrEmpty) return;
        w.WriteStartArray(name);
        foreach (var v in values) w.WriteStringValue(v);
        w.WriteEndArray();
    }

    private static void Section(Utf8JsonWriter w, string name, ImmutableArray<EdgeApiItem> items)
    {
        w.WriteStartObject(name);
        w.WriteNumber("total", items.Length);
        w.WriteNumber("warnings", items.Count(i => i.Status == "warning"));
        w.WriteNumber("errors", items.Count(i => i.Status == "disabled"));
        w.WriteEndObject();
    }

    /// <summary>
    /// A middleware's options as JSON: maps and lists as they are, scalars typed the way Traefik's decoded struct would
    /// show them (true/false and numbers unquoted). Values under keys that name a secret are masked.
    /// </summary>
    private static void Node(Utf8JsonWriter w, EdgeNode node, int depth)
    {
        if (depth > 32) { w.WriteNullValue(); return; }
        switch (node.Kind)
        {
            case EdgeNodeKind.Map:
                w.WriteStartObject();
                foreach (var (key, child) in node.Entries)
                {
                    w.WritePropertyName(key);
                    if (Secret(key) && child.IsScalar) w.WriteStringValue("***");
                    else Node(w, child, depth + 1);
                }
                w.WriteEndObject();
                break;
            case EdgeNodeKind.List:
                w.WriteStartArray();
                foreach (var item in node.Items) Node(w, item, depth + 1);
                w.WriteEndArray();
                break;
            default:
                var text = node.Scalar;
                if (text is null) w.WriteNullValue();
                else if (text is "true" or "false") w.WriteBooleanValue(text == "true");
                else if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) && n.ToString(CultureInfo.InvariantCulture) == text) w.WriteNumberValue(n);
                else w.WriteStringValue(text);
                break;
        }
    }

    private static bool Secret(string key) =>
        key.Contains("password", StringComparison.OrdinalIgnoreCase) || key.Contains("secret", StringComparison.OrdinalIgnoreCase)
        || key.Contains("apikey", StringComparison.OrdinalIgnoreCase) || key.Equals("token", StringComparison.OrdinalIgnoreCase);

    /// <summary>Go's time.Duration.String(): 0s, 250ms, 5s, 1m30s, 1h0m0s.</summary>
    internal static string Go(TimeSpan d)
    {
        if (d == TimeSpan.Zero) return "0s";
        var negative = d < TimeSpan.Zero;
        if (negative) d = d.Negate();
        string text;
        if (d < TimeSpan.FromSeconds(1))
        {
            var ns = d.Ticks * 100;
            text = ns >= 1_000_000 ? Trim(ns / 1e6) + "ms" : ns >= 1_000 ? Trim(ns / 1e3) + "µs" : ns + "ns";
        }
        else
        {
            var seconds = Trim(d.Ticks % TimeSpan.TicksPerMinute / (double)TimeSpan.TicksPerSecond) + "s";
            var minutes = (long)d.TotalMinutes;
            text = minutes == 0 ? seconds : minutes < 60 ? $"{minutes}m{seconds}" : $"{minutes / 60}h{minutes % 60}m{seconds}";
        }
        return negative ? "-" + text : text;

        static string Trim(double v) => v.ToString("0.#########", CultureInfo.InvariantCulture);
    }
}
