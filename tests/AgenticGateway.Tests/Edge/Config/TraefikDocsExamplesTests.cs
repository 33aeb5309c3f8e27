using System.Text;
using AgenticGateway.Edge;

namespace AgenticGateway.Tests.Edge.Config;

/// <summary>
/// Traefik's own documentation examples, unchanged (Fixtures/traefik, sources in its README): each YAML and TOML
/// example of the dynamic configuration loads with no error, keeps every router, service, middleware and transport it
/// defines, and an example's YAML and TOML tabs give the same model. The examples of what the edge does not do fail
/// with an error that says so.
/// </summary>
[Trait("Category", "unit")]
public class TraefikDocsExamplesTests
{
    private static readonly string Dir = Path.Combine(AppContext.BaseDirectory, "Fixtures", "traefik");

    /// <summary>
    /// The examples that fail, with the error each gives: Traefik features the edge refuses (SPIFFE, highestRandomWeight,
    /// service middlewares, multi-layer routing, TCP health checks, v2 rule syntax) and the documentation's own slips
    /// (placeholders such as xx.xx.xx.xx:xx, a router without its service, a Host rule on a TCP router, certificates as
    /// bare paths, keys nested under the wrong section, a YAML string that does not parse), which Traefik refuses too.
    /// </summary>
    private static readonly Dictionary<string, string> Refused = new(StringComparer.Ordinal)
    {
        ["http-load-balancing-serverstransport-1.toml"] = "http.serversTransports.mytransport.spiffe: is not supported by the edge (SPIFFE workload identities)",
        ["http-load-balancing-serverstransport-1.yml"] = "http.serversTransports.mytransport.spiffe: is not supported by the edge (SPIFFE workload identities)",
        ["http-load-balancing-service-1.toml"] = "http.services.my-service.loadBalancer.passiveHealthCheck.passHostHeader: unknown field 'passHostHeader' (known",
        ["http-load-balancing-service-12.toml"] = "http.services.app.highestRandomWeight: is not supported by the edge (use weighted, or a loadBalancer with stra",
        ["http-load-balancing-service-12.yml"] = "http.services.app.highestRandomWeight: is not supported by the edge (use weighted, or a loadBalancer with stra",
        ["http-load-balancing-service-13.toml"] = "http.services.app.highestRandomWeight: is not supported by the edge (use weighted, or a loadBalancer with stra",
        ["http-load-balancing-service-13.yml"] = "http.services.app.highestRandomWeight: is not supported by the edge (use weighted, or a loadBalancer with stra",
        ["http-load-balancing-service-14.yml"] = "28:16: While scanning a quoted scalar, found unexpected end of stream.",
        ["http-load-balancing-service-9.toml"] = "http.services.my-service.middlewares: is not supported by the edge (put the middlewares on the router)",
        ["http-load-balancing-service-9.yml"] = "http.services.my-service.middlewares: is not supported by the edge (put the middlewares on the router)",
        ["http-routing-router-1.toml"] = "http.routers.my-router.parentRefs: is not supported by the edge (multi-layer routing: give each router its ful",
        ["http-routing-router-1.yml"] = "http.routers.my-router.parentRefs: is not supported by the edge (multi-layer routing: give each router its ful",
        ["http-routing-rules-and-priority-1.toml"] = "http.routers.Router-v3.service: is required (the service the router sends requests to)",
        ["http-routing-rules-and-priority-1.yml"] = "http.routers.Router-v3.service: is required (the service the router sends requests to)",
        ["http-routing-rules-and-priority-2.toml"] = "http.routers.Router-1.service: is required (the service the router sends requests to)",
        ["http-routing-rules-and-priority-2.yml"] = "4:13: While scanning a quoted scalar, found unknown escape character.",
        ["http-tls-tls-options-4.toml"] = "tls.options.default.curvePreferences: is not supported: the gateway's TLS (.NET) cannot restrict the curves",
        ["http-tls-tls-options-4.yml"] = "tls.options.default.curvePreferences: is not supported: the gateway's TLS (.NET) cannot restrict the curves",
        ["tcp-middlewares-overview-1.toml"] = "tcp.routers.router1.rule: column 1: unknown matcher 'Host' (known: HostSNI, HostSNIRegexp, ClientIP, ALPN) in ",
        ["tcp-middlewares-overview-1.yml"] = "tcp.routers.router1.rule: column 1: unknown matcher 'Host' (known: HostSNI, HostSNIRegexp, ClientIP, ALPN) in ",
        ["tcp-serverstransport-1.toml"] = "tcp.serversTransports.mytransport.tls.certificates[0]: expected a map of options, got '/path/to/cert1.pem'",
        ["tcp-serverstransport-1.yml"] = "tcp.serversTransports.mytransport.tls.certificates[0]: expected a map of options, got '/path/to/cert1.pem'",
        ["tcp-service-1.toml"] = "tcp.services.my-service.loadBalancer.servers[0].address: 'xx.xx.xx.xx:xx' is not host:port",
        ["tcp-service-1.yml"] = "tcp.services.my-service.loadBalancer.servers[0].address: 'xx.xx.xx.xx:xx' is not host:port",
        ["tcp-service-2.toml"] = "tcp.services.appv1.loadBalancer.servers[0].address: 'private-ip-server-1:8080/' is not host:port",
        ["tcp-service-3.toml"] = "tcp.services.app.weighted.healthCheck: is not supported by the edge (TCP health checks)",
        ["tcp-service-3.yml"] = "tcp.services.app.weighted.healthCheck: is not supported by the edge (TCP health checks)",
        ["udp-service-1.toml"] = "udp.services.my-service.loadBalancer.servers[0].address: 'xx.xx.xx.xx:xx' is not host:port",
        ["udp-service-1.yml"] = "udp.services.my-service.loadBalancer.servers[0].address: 'xx.xx.xx.xx:xx' is not host:port",
    };

    /// <summary>Examples whose YAML and TOML tabs say different things in Traefik's documentation (a path, a field left out of one tab).</summary>
    private static readonly HashSet<string> TabsDiffer = new(StringComparer.Ordinal)
    {
        "http-load-balancing-service-7", "http-load-balancing-service-11", "http-load-balancing-service-15", "http-middlewares-errorpages-1",
    };

    public static TheoryData<string> Files() => [.. Directory.EnumerateFiles(Dir).Where(EdgeFiles.IsConfigFile).Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal)];

    public static TheoryData<string> Pairs() =>
        [.. Directory.EnumerateFiles(Dir, "*.yml").Select(f => Path.GetFileNameWithoutExtension(f)).Where(n => File.Exists(Path.Combine(Dir, n + ".toml"))).Order(StringComparer.Ordinal)];

    private static (EdgeNode? Node, EdgeDynamicConfig? Config, List<string> Errors) Load(string file)
    {
        var errors = new List<string>();
        var node = EdgeFiles.Load(Path.Combine(Dir, file), errors, file);
        var config = node is null ? null : DynamicConfigReader.Read(node, errors);
        return (node, config, errors);
    }

    [Fact]
    public void The_examples_are_there()
    {
        Assert.True(Files().Count >= 150, $"only {Files().Count} examples in {Dir}");
        Assert.True(Pairs().Count >= 70);
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Each_example_loads_and_keeps_every_name_it_defines(string file)
    {
        var (node, config, errors) = Load(file);
        if (Refused.TryGetValue(file, out var expected))
        {
            Assert.True(errors.Any(e => e.Contains(expected, StringComparison.Ordinal)), $"expected '{expected}' in:\n{string.Join("\n", errors)}");
            return;
        }
        Assert.True(errors.Count == 0, string.Join("\n", errors));
        foreach (var (section, names) in Sections(config!))
        {
            var defined = Path2(node!, section)?.Entries.Select(e => e.Key).Order(StringComparer.Ordinal).ToArray() ?? [];
            Assert.Equal(defined, names.Order(StringComparer.Ordinal).ToArray());
        }
        var certificates = Path2(node!, "tls.certificates")?.Items.Length ?? 0;
        Assert.Equal(certificates, config!.Tls.Certificates.Length);
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public void An_examples_yaml_and_toml_give_the_same_model(string name)
    {
        var yaml = Load(name + ".yml");
        var toml = Load(name + ".toml");
        if (Refused.ContainsKey(name + ".yml") || Refused.ContainsKey(name + ".toml") || TabsDiffer.Contains(name)) return;
        Assert.True(yaml.Errors.Count == 0 && toml.Errors.Count == 0, string.Join("\n", yaml.Errors.Concat(toml.Errors)));
        Assert.Equal(Describe(yaml.Config!), Describe(toml.Config!));
    }

    private static IEnumerable<(string Section, IEnumerable<string> Names)> Sections(EdgeDynamicConfig c) =>
    [
        ("http.routers", c.Http.Routers.Keys), ("http.services", c.Http.Services.Keys), ("http.middlewares", c.Http.Middlewares.Keys),
        ("http.serversTransports", c.Http.ServersTransports.Keys), ("tcp.routers", c.Tcp.Routers.Keys), ("tcp.services", c.Tcp.Services.Keys),
        ("tcp.middlewares", c.Tcp.Middlewares.Keys), ("tcp.serversTransports", c.Tcp.ServersTransports.Keys), ("udp.routers", c.Udp.Routers.Keys),
        ("udp.services", c.Udp.Services.Keys), ("tls.options", c.Tls.Options.Keys), ("tls.stores", c.Tls.Stores.Keys),
    ];

    private static EdgeNode? Path2(EdgeNode root, string path)
    {
        var node = root;
        foreach (var part in path.Split('.'))
        {
            node = node[part];
            if (node is null) return null;
        }
        return node;
    }

    /// <summary>The model as text, field by field, so that a difference names itself.</summary>
    private static string Describe(EdgeDynamicConfig c)
    {
        var sb = new StringBuilder();
        foreach (var (name, r) in c.Http.Routers.OrderBy(p => p.Key, StringComparer.Ordinal))
            sb.AppendLine($"router {name}: {r.Rule} -> {r.Service} p{r.Priority} [{string.Join(",", r.EntryPoints)}] [{string.Join(",", r.Middlewares)}] tls={Tls(r.Tls)}");
        foreach (var (name, s) in c.Http.Services.OrderBy(p => p.Key, StringComparer.Ordinal))
            sb.AppendLine($"service {name}: {Service(s)}");
        foreach (var (name, m) in c.Http.Middlewares.OrderBy(p => p.Key, StringComparer.Ordinal))
            sb.AppendLine($"middleware {name}: {m.Type} {m.Options}");
        foreach (var (name, t) in c.Http.ServersTransports.OrderBy(p => p.Key, StringComparer.Ordinal))
            sb.AppendLine($"transport {name}: {t.ServerName} {t.InsecureSkipVerify} {string.Join(",", t.RootCas)} {t.MaxIdleConnsPerHost} {t.DialTimeout} {t.ResponseHeaderTimeout} {t.IdleConnTimeout} {t.DisableHttp2} {string.Join(",", t.Certificates.Select(x => x.CertFile))}");
        foreach (var (name, r) in c.Tcp.Routers.OrderBy(p => p.Key, StringComparer.Ordinal))
            sb.AppendLine($"tcp router {name}: {r.Rule} -> {r.Service} p{r.Priority} [{string.Join(",", r.EntryPoints)}] [{string.Join(",", r.Middlewares)}] tls={Tls(r.Tls)}");
        foreach (var (name, s) in c.Tcp.Services.OrderBy(p => p.Key, StringComparer.Ordinal))
            sb.AppendLine($"tcp service {name}: " + s switch
            {
                TcpLoadBalancerConfig lb => $"lb {string.Join(",", lb.Servers.Select(x => $"{x.Address}/{x.Tls}"))} pp{lb.ProxyProtocolVersion} {lb.TerminationDelay} {lb.ServersTransport}",
                TcpWeightedConfig w => $"weighted {string.Join(",", w.Services)}",
                _ => s.GetType().Name,
            });
        foreach (var (name, m) in c.Tcp.Middlewares.OrderBy(p => p.Key, StringComparer.Ordinal))
            sb.AppendLine($"tcp middleware {name}: {m.Type} {m.Options}");
        foreach (var (name, t) in c.Tcp.ServersTransports.OrderBy(p => p.Key, StringComparer.Ordinal))
            sb.AppendLine($"tcp transport {name}: {t.DialTimeout} {t.DialKeepAlive} {t.TerminationDelay} {t.ServerName} {t.InsecureSkipVerify} {t.ProxyProtocolVersion} {t.Tls}");
        foreach (var (name, r) in c.Udp.Routers.OrderBy(p => p.Key, StringComparer.Ordinal))
            sb.AppendLine($"udp router {name}: [{string.Join(",", r.EntryPoints)}] -> {r.Service}");
        foreach (var (name, s) in c.Udp.Services.OrderBy(p => p.Key, StringComparer.Ordinal))
            sb.AppendLine($"udp service {name}: " + s switch
            {
                UdpLoadBalancerConfig lb => string.Join(",", lb.Servers),
                UdpWeightedConfig w => string.Join(",", w.Services),
                _ => s.GetType().Name,
            });
        foreach (var cert in c.Tls.Certificates)
            sb.AppendLine($"certificate {cert.CertFile} {cert.KeyFile} [{string.Join(",", cert.Stores)}]");
        foreach (var (name, o) in c.Tls.Options.OrderBy(p => p.Key, StringComparer.Ordinal))
            sb.AppendLine($"options {name}: {o.MinVersion} {o.MaxVersion} [{string.Join(",", o.CipherSuites)}] [{string.Join(",", o.CurvePreferences)}] [{string.Join(",", o.ClientCaFiles)}] {o.ClientAuthType} {o.SniStrict} [{string.Join(",", o.AlpnProtocols)}]");
        foreach (var (name, s) in c.Tls.Stores.OrderBy(p => p.Key, StringComparer.Ordinal))
            sb.AppendLine($"store {name}: {s.DefaultCertificate?.CertFile} {s.DefaultGeneratedResolver} {s.DefaultGeneratedDomain?.Main}");
        return sb.ToString();
    }

    private static string Tls(RouterTlsConfig? tls) =>
        tls is null ? "none" : $"{tls.Options}/{tls.CertResolver}/{tls.Passthrough}/{string.Join(";", tls.Domains.Select(d => d.Main + ":" + string.Join(",", d.Sans)))}";

    private static string Service(HttpServiceConfig s) => s switch
    {
        LoadBalancerConfig lb => $"lb {string.Join(",", lb.Servers.Select(x => $"{x.Url}*{x.Weight}/{x.PreservePath}"))} sticky={lb.Sticky} "
            + $"health={(lb.HealthCheck is { } h ? $"{h with { Headers = [] }}[{string.Join(",", h.Headers)}]" : "none")} pass={lb.PassHostHeader} {lb.ServersTransport} {lb.FlushInterval} {lb.Strategy} {lb.PassiveHealthCheck}",
        WeightedConfig w => $"weighted {string.Join(",", w.Services)} sticky={w.Sticky} {w.HealthCheck}",
        MirroringConfig m => $"mirroring {m.Service} {string.Join(",", m.Mirrors)} {m.MaxBodySize} {m.MirrorBody} {m.HealthCheck}",
        FailoverConfig f => $"failover {f.Service} {f.Fallback} {f.HealthCheck} {(f.Errors is { } e ? $"{string.Join(",", e.Status)} {e.MaxRequestBodyBytes}" : "")}",
        _ => s.GetType().Name,
    };
}
