using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using AgenticGateway.Edge.Rules;

namespace AgenticGateway.Edge;

/// <summary>
/// Traefik's static configuration as our config file holds it at the top level: <c>entryPoints</c>,
/// <c>providers.file</c>, <c>certificatesResolvers</c> (ACME), <c>api</c>, <c>metrics.prometheus</c>, and dynamic
/// configuration written inline (<c>http</c>, <c>tcp</c>, <c>udp</c>, <c>tls</c>). Names, defaults and meanings are
/// Traefik's (docs/content/reference/install-configuration); what Traefik has and the edge does not do is an error
/// saying so, never ignored.
/// </summary>
internal static class StaticConfigReader
{
    /// <summary>The top-level keys of our config file that belong to the edge.</summary>
    public static readonly ImmutableArray<string> Keys = ["entryPoints", "providers", "certificatesResolvers", "api", "metrics", "http", "tcp", "udp", "tls"];

    public const string LetsEncrypt = "https://acme-v02.api.letsencrypt.org/directory";

    /// <param name="root">A map holding some of <see cref="Keys"/>.</param>
    /// <param name="environment">Looks up environment variables (Traefik's ACME client honours LEGO_CA_CERTIFICATES).</param>
    public static EdgeStaticConfig Read(EdgeNode root, List<string> errors, Func<string, string?>? environment = null)
    {
        var o = new EdgeOptions(root, errors);
        var config = new EdgeStaticConfig();
        var entryPoints = DynamicConfigReader.Named(o, "entryPoints", ReadEntryPoint);
        config = config with { EntryPoints = entryPoints };
        CheckEntryPoints(o, entryPoints);
        if (o.Map("providers") is { } providers)
        {
            config = config with { FileProvider = ReadProviders(providers) };
            providers.ReportUnknown();
        }
        config = config with
        {
            CertificatesResolvers = DynamicConfigReader.Named(o, "certificatesResolvers", (name, r) => ReadResolver(name, r, entryPoints, environment)),
        };
        if (HttpServiceReader.Present(o, "api") is { } api)
        {
            config = config with { Api = true, Dashboard = api.Bool("dashboard") ?? true };
            // Traefik's insecure mode serves the API on an entry point of its own without authentication; here the API is
            // always behind the admin credentials, so insecure only says that the API is on.
            api.Bool("insecure");
            api.Bool("debug");
            DynamicConfigReader.NotSupported(api, "basePath", "the API is served under /api");
            DynamicConfigReader.NotSupported(api, "disableDashboardAd", "the dashboard has no advertisement");
            api.ReportUnknown();
        }
        if (o.Map("metrics") is { } metrics)
        {
            if (HttpServiceReader.Present(metrics, "prometheus") is { } p)
            {
                var buckets = p.Strings("buckets");
                var parsed = ImmutableArray.CreateBuilder<double>();
                foreach (var b in buckets)
                {
                    if (double.TryParse(b, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v)) parsed.Add(v);
                    else p.Error(EdgeNode.ChildPath(p.Path, "buckets"), $"'{b}' is not a number");
                }
                config = config with
                {
                    Prometheus = new PrometheusConfig(
                        p.Bool("addEntryPointsLabels") ?? true,
                        p.Bool("addRoutersLabels") ?? false,
                        p.Bool("addServicesLabels") ?? true,
                        buckets.IsEmpty ? PrometheusConfig.Default.Buckets : parsed.ToImmutable()),
                };
                DynamicConfigReader.NotSupported(p, "entryPoint", "metrics are served on the gateway's /metrics and server.metrics_urls");
                DynamicConfigReader.NotSupported(p, "manualRouting", "metrics are served on the gateway's /metrics");
                DynamicConfigReader.NotSupported(p, "headerLabels", "metric labels are fixed");
                p.ReportUnknown();
            }
            metrics.ReportUnknown();
        }
        config = config with { Inline = DynamicConfigReader.ReadSections(o) };
        o.ReportUnknown();
        return config;
    }

    private static EntryPointConfig? ReadEntryPoint(string name, EdgeOptions o)
    {
        var address = o.RequiredString("address");
        IPEndPoint? endPoint = null;
        var udp = false;
        if (address.Length > 0 && !TryParseAddress(address, out endPoint, out udp, out var addressError))
            o.Error(EdgeNode.ChildPath(o.Path, "address"), addressError!);
        var asDefault = o.Bool("asDefault") ?? false;

        RedirectionConfig? redirection = null;
        RouterTlsConfig? defaultTls = null;
        ImmutableArray<string> middlewares = [];
        if (o.Map("http") is { } http)
        {
            if (http.Map("redirections") is { } redirections)
            {
                if (redirections.Map("entryPoint") is { } r)
                {
                    var to = r.RequiredString("to");
                    redirection = new RedirectionConfig(to, r.String("scheme") ?? "https", r.Bool("permanent") ?? true, r.Int("priority") ?? int.MaxValue - 1);
                    r.ReportUnknown();
                }
                redirections.ReportUnknown();
            }
            if (HttpServiceReader.Present(http, "tls") is { } tls)
            {
                defaultTls = new RouterTlsConfig(tls.String("options"), tls.String("certResolver"), DynamicConfigReader.ReadDomains(tls, "domains"));
                tls.ReportUnknown();
            }
            middlewares = http.Strings("middlewares");
            foreach (var key in (string[])["encodedCharacters", "encodeQuerySemicolons", "sanitizePath", "maxHeaderBytes", "underscoreHeadersStrategy"])
                DynamicConfigReader.NotSupported(http, key, "the edge keeps Kestrel's request parsing");
            http.ReportUnknown();
        }

        var read = TimeSpan.FromSeconds(60);
        var write = TimeSpan.Zero;
        var idle = TimeSpan.FromSeconds(180);
        var grace = TimeSpan.FromSeconds(10);
        if (o.Map("transport") is { } transport)
        {
            if (transport.Map("respondingTimeouts") is { } rt)
            {
                read = rt.Duration("readTimeout") ?? read;
                write = rt.Duration("writeTimeout") ?? write;
                idle = rt.Duration("idleTimeout") ?? idle;
                rt.ReportUnknown();
            }
            if (transport.Map("lifeCycle") is { } lc)
            {
                grace = lc.Duration("graceTimeOut") ?? grace;
                DynamicConfigReader.NotSupported(lc, "requestAcceptGraceTimeout", "connections are refused as soon as the gateway stops");
                lc.ReportUnknown();
            }
            DynamicConfigReader.NotSupported(transport, "keepAliveMaxRequests", "Kestrel has no such limit");
            DynamicConfigReader.NotSupported(transport, "keepAliveMaxTime", "Kestrel has no such limit");
            transport.ReportUnknown();
        }

        var forwarded = TrustedIpsConfig.None;
        if (o.Map("forwardedHeaders") is { } fh)
        {
            forwarded = ReadTrusted(fh);
            DynamicConfigReader.NotSupported(fh, "connection", "Connection headers are removed as HTTP requires");
            DynamicConfigReader.NotSupported(fh, "notAppendXForwardedFor", "the client's address is always appended");
            DynamicConfigReader.NotSupported(fh, "addXForwardedSchemeHeaders", "X-Forwarded-Proto is sent");
            fh.ReportUnknown();
        }
        TrustedIpsConfig? proxyProtocol = null;
        if (HttpServiceReader.Present(o, "proxyProtocol") is { } pp)
        {
            proxyProtocol = ReadTrusted(pp);
            pp.ReportUnknown();
        }
        int? maxStreams = 250;
        if (o.Map("http2") is { } h2)
        {
            maxStreams = h2.Int("maxConcurrentStreams", 1) ?? maxStreams;
            DynamicConfigReader.NotSupported(h2, "maxDecoderHeaderTableSize", "Kestrel's HPACK table size is used");
            DynamicConfigReader.NotSupported(h2, "maxEncoderHeaderTableSize", "Kestrel's HPACK table size is used");
            h2.ReportUnknown();
        }
        var udpTimeout = TimeSpan.FromSeconds(3);
        if (o.Map("udp") is { } u)
        {
            udpTimeout = u.Duration("timeout") ?? udpTimeout;
            if (udpTimeout <= TimeSpan.Zero) u.Error(EdgeNode.ChildPath(u.Path, "timeout"), "must be more than zero");
            u.ReportUnknown();
        }
        RouterObservabilityConfig? observability = null;
        if (o.Map("observability") is { } obs)
        {
            observability = new RouterObservabilityConfig(obs.Bool("accessLogs"), obs.Bool("metrics"), obs.Bool("tracing"),
                DynamicConfigReader.OneOf(obs, "traceVerbosity", "minimal", "minimal", "detailed"));
            obs.ReportUnknown();
        }
        DynamicConfigReader.NotSupported(o, "http3", "HTTP/3 is not served");
        DynamicConfigReader.NotSupported(o, "reusePort", "each entry point has its own port");
        DynamicConfigReader.NotSupported(o, "allowACMEByPass", "ACME challenges are always answered by the edge");
        if (endPoint is null) return null;
        return new EntryPointConfig(name, address, endPoint, udp, asDefault, redirection, defaultTls, middlewares, read, write, idle, grace,
            forwarded, proxyProtocol, maxStreams, udpTimeout, o.Path) { Observability = observability };
    }

    /// <summary>Cross-entry-point checks: a redirection names an entry point that exists (or a port), addresses are not shared.</summary>
    private static void CheckEntryPoints(EdgeOptions o, ImmutableDictionary<string, EntryPointConfig> entryPoints)
    {
        foreach (var ep in entryPoints.Values.OrderBy(e => e.Name, StringComparer.Ordinal))
        {
            if (ep.Redirection is { } r && !r.To.StartsWith(':') && !entryPoints.ContainsKey(r.To))
                o.Error($"{ep.Path}.http.redirections.entryPoint.to", $"'{r.To}' is neither an entry point ({string.Join(", ", entryPoints.Keys.Order(StringComparer.Ordinal))}) nor a port such as :443");
            if (ep.Redirection is { } r2 && r2.To.StartsWith(':') && !int.TryParse(r2.To.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out _))
                o.Error($"{ep.Path}.http.redirections.entryPoint.to", $"'{r2.To}' is not a port such as :443");
            var clash = entryPoints.Values.FirstOrDefault(other => string.CompareOrdinal(other.Name, ep.Name) < 0 && other.Udp == ep.Udp
                && other.EndPoint.Port == ep.EndPoint.Port && other.EndPoint.Port != 0
                && (other.EndPoint.Address.Equals(ep.EndPoint.Address) || IsAny(other.EndPoint.Address) || IsAny(ep.EndPoint.Address)));
            if (clash is not null) o.Error($"{ep.Path}.address", $"'{ep.Address}' is also entry point {clash.Name}'s address");
        }
    }

    private static bool IsAny(IPAddress a) => a.Equals(IPAddress.Any) || a.Equals(IPAddress.IPv6Any);

    private static TrustedIpsConfig ReadTrusted(EdgeOptions o)
    {
        var trusted = o.Strings("trustedIPs");
        foreach (var ip in trusted)
            if (!IpRange.TryParse(ip, out _, out var error)) o.Error(EdgeNode.ChildPath(o.Path, "trustedIPs"), error!);
        return new TrustedIpsConfig(trusted, o.Bool("insecure") ?? false);
    }

    /// <summary>
    /// Traefik's entry point address, <c>[host]:port[/tcp|/udp]</c>: no host listens on every interface (IPv6's any
    /// address, dual-stack), <c>localhost</c> on the loopback, otherwise an IP address (<c>[::1]</c> in brackets).
    /// </summary>
    public static bool TryParseAddress(string address, out IPEndPoint? endPoint, out bool udp, out string? error)
    {
        endPoint = null;
        udp = false;
        error = null;
        var text = address;
        var slash = text.LastIndexOf('/');
        if (slash >= 0)
        {
            var protocol = text[(slash + 1)..].ToLowerInvariant();
            if (protocol is not ("tcp" or "udp")) { error = $"'{address}': the protocol after '/' must be tcp or udp"; return false; }
            udp = protocol == "udp";
            text = text[..slash];
        }
        var colon = text.LastIndexOf(':');
        if (colon < 0) { error = $"'{address}' has no port (write :8080 or 127.0.0.1:8080)"; return false; }
        if (!int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
        {
            error = $"'{address}' has no valid port (0 to 65535)";
            return false;
        }
        var host = text[..colon];
        IPAddress ip;
        if (host.Length == 0) ip = IPAddress.IPv6Any;
        else if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase)) ip = IPAddress.Loopback;
        else if (host.StartsWith('[') && host.EndsWith(']') && IPAddress.TryParse(host[1..^1], out var v6) && v6.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6) ip = v6;
        else if (!host.Contains(':') && IPAddress.TryParse(host, out var v4) && v4.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && host.Count(c => c == '.') == 3) ip = v4;
        else
        {
            error = $"'{address}': the host must be empty (every interface), localhost, an IPv4 address or an IPv6 address in brackets";
            return false;
        }
        endPoint = new IPEndPoint(ip, port);
        return true;
    }

    private static FileProviderConfig? ReadProviders(EdgeOptions providers)
    {
        FileProviderConfig? file = null;
        if (providers.Map("file") is { } f)
        {
            var filename = f.String("filename");
            var directory = f.String("directory");
            if (string.IsNullOrEmpty(filename) == string.IsNullOrEmpty(directory))
                f.Error(f.Path, string.IsNullOrEmpty(filename) ? "needs filename or directory" : "filename and directory are mutually exclusive");
            else file = new FileProviderConfig(string.IsNullOrEmpty(filename) ? null : filename, string.IsNullOrEmpty(directory) ? null : directory, f.Bool("watch") ?? true);
            DynamicConfigReader.NotSupported(f, "debugLogGeneratedTemplate", "files are not Go templates here");
            f.ReportUnknown();
        }
        DynamicConfigReader.NotSupported(providers, "providersThrottleDuration", "the file provider reloads once a burst of changes settles");
        foreach (var (key, value) in providers.Node.Entries)
        {
            if (string.Equals(key, "file", StringComparison.OrdinalIgnoreCase) || string.Equals(key, "providersThrottleDuration", StringComparison.OrdinalIgnoreCase)) continue;
            providers.Child(key);
            providers.Error(value.Path, "is not supported: the edge reads its dynamic configuration from the file provider (providers.file) and this config file");
        }
        return file;
    }

    private static CertResolverConfig? ReadResolver(string name, EdgeOptions r, ImmutableDictionary<string, EntryPointConfig> entryPoints, Func<string, string?>? environment)
    {
        foreach (var (key, value) in r.Node.Entries)
        {
            if (string.Equals(key, "acme", StringComparison.OrdinalIgnoreCase)) continue;
            r.Child(key);
            r.Error(value.Path, "is not supported: the edge's certificate resolvers are ACME (acme)");
        }
        if (r.Map("acme") is not { } acme)
        {
            if (r.Node.Entries.IsEmpty) r.Error(r.Path, "needs an acme section");
            return null;
        }
        var caServer = acme.String("caServer") ?? LetsEncrypt;
        if (!Uri.TryCreate(caServer, UriKind.Absolute, out var ca) || ca.Scheme is not ("https" or "http"))
            acme.Error(EdgeNode.ChildPath(acme.Path, "caServer"), $"'{caServer}' is not an ACME directory URL");
        var keyType = DynamicConfigReader.OneOf(acme, "keyType", "RSA4096", "EC256", "EC384", "RSA2048", "RSA4096", "RSA8192");
        var hours = acme.Long("certificatesDuration", 1) ?? 2160;
        string? httpEntryPoint = null;
        if (HttpServiceReader.Present(acme, "httpChallenge") is { } hc)
        {
            httpEntryPoint = hc.RequiredString("entryPoint");
            if (httpEntryPoint.Length > 0 && !entryPoints.ContainsKey(httpEntryPoint))
                hc.Error(EdgeNode.ChildPath(hc.Path, "entryPoint"), $"'{httpEntryPoint}' is not an entry point");
            DynamicConfigReader.NotSupported(hc, "delay", "challenges are validated at once");
            hc.ReportUnknown();
        }
        var tlsChallenge = false;
        if (HttpServiceReader.Present(acme, "tlsChallenge") is { } tc)
        {
            tlsChallenge = true;
            DynamicConfigReader.NotSupported(tc, "delay", "challenges are validated at once");
            tc.ReportUnknown();
        }
        var caCertificates = acme.Strings("caCertificates").ToBuilder();
        // Traefik's ACME client (lego) also trusts the CA files named by LEGO_CA_CERTIFICATES (a path list).
        if (environment?.Invoke("LEGO_CA_CERTIFICATES") is { Length: > 0 } legoCas)
            caCertificates.AddRange(legoCas.Split([',', Path.PathSeparator], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        DynamicConfigReader.NotSupported(acme, "dnsChallenge", "use httpChallenge or tlsChallenge");
        foreach (var key in (string[])["preferredChain", "disableCommonName", "profile", "caSystemCertPool", "caServerName", "emailAddresses", "eab", "clientTimeout", "clientResponseHeaderTimeout", "certificateTimeout"])
            DynamicConfigReader.NotSupported(acme, key, "not implemented by the edge's ACME client");
        if (httpEntryPoint is null && !tlsChallenge && acme.Node["dnsChallenge"] is null)
            acme.Error(acme.Path, "needs httpChallenge (with its entryPoint) or tlsChallenge");
        var config = new CertResolverConfig(name, acme.String("email"), caServer, acme.String("storage"), keyType, TimeSpan.FromHours(hours),
            string.IsNullOrEmpty(httpEntryPoint) ? null : httpEntryPoint, tlsChallenge, caCertificates.ToImmutable(), acme.Path);
        acme.ReportUnknown();
        return config;
    }
}
