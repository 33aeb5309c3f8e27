using System.Net;
using AgenticGateway.Configuration;
using AgenticGateway.Edge;

namespace AgenticGateway.Tests.Edge.Config;

/// <summary>Traefik's static configuration in our config file (GatewayOptions.Edge), its defaults and errors, and the file provider.</summary>
[Trait("Category", "unit")]
public class StaticConfigReaderTests
{
    private const string Models = "models:\n  - {name: a, provider: mock}\n";

    private static ConfigLoadResult LoadConfig(string yaml, Dictionary<string, string>? env = null) =>
        ConfigLoader.Load(Models + yaml, "test.yaml", new Dictionary<string, string>(), variables: env ?? new Dictionary<string, string>());

    private static GatewayOptions Load(string yaml, Dictionary<string, string>? env = null)
    {
        var result = LoadConfig(yaml, env);
        Assert.True(result.Options is not null, string.Join("\n", result.Errors));
        return result.Options!;
    }

    [Fact]
    public void A_file_without_edge_keys_leaves_the_edge_off()
    {
        var options = Load("");
        Assert.Same(EdgeStaticConfig.Empty, options.Edge);
        Assert.False(options.Edge.IsEnabled);
    }

    [Fact]
    public void Entry_points_take_traefiks_address_forms_and_defaults()
    {
        var edge = Load("""
            entryPoints:
              web:
                address: ":80"
                http:
                  redirections:
                    entryPoint:
                      to: websecure
              websecure:
                address: "0.0.0.0:8443"
                asDefault: true
                http:
                  tls:
                    certResolver: le
                  middlewares: [auth@file]
                transport:
                  respondingTimeouts:
                    readTimeout: 42
                    idleTimeout: 1m
                  lifeCycle:
                    graceTimeOut: 3s
                forwardedHeaders:
                  trustedIPs: ["127.0.0.1/32", "10.0.0.0/8"]
                proxyProtocol:
                  insecure: true
                http2:
                  maxConcurrentStreams: 100
              local:
                address: "[::1]:8000/tcp"
              dns:
                address: ":53/udp"
                udp:
                  timeout: 10s
            """).Edge;
        Assert.True(edge.IsEnabled);
        var web = edge.EntryPoints["web"];
        Assert.Equal(new IPEndPoint(IPAddress.IPv6Any, 80), web.EndPoint);
        Assert.False(web.Udp);
        Assert.Equal(new RedirectionConfig("websecure", "https", true, int.MaxValue - 1), web.Redirection);
        Assert.Equal((TimeSpan.FromSeconds(60), TimeSpan.Zero, TimeSpan.FromSeconds(180), TimeSpan.FromSeconds(10)), (web.ReadTimeout, web.WriteTimeout, web.IdleTimeout, web.GraceTimeout));
        Assert.Equal(TrustedIpsConfig.None, web.ForwardedHeaders);
        Assert.Null(web.ProxyProtocol);
        Assert.Equal(250, web.Http2MaxConcurrentStreams);
        Assert.False(web.AsDefault);

        var secure = edge.EntryPoints["websecure"];
        Assert.Equal(new IPEndPoint(IPAddress.Any, 8443), secure.EndPoint);
        Assert.True(secure.AsDefault);
        Assert.Equal("le", secure.DefaultTls!.CertResolver);
        Assert.Equal(["auth@file"], secure.DefaultMiddlewares.ToArray());
        Assert.Equal((TimeSpan.FromSeconds(42), TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(3)), (secure.ReadTimeout, secure.IdleTimeout, secure.GraceTimeout));
        Assert.Equal(["127.0.0.1/32", "10.0.0.0/8"], secure.ForwardedHeaders.TrustedIps.ToArray());
        Assert.True(secure.ProxyProtocol!.Insecure);
        Assert.Equal(100, secure.Http2MaxConcurrentStreams);

        Assert.Equal(new IPEndPoint(IPAddress.IPv6Loopback, 8000), edge.EntryPoints["local"].EndPoint);
        var dns = edge.EntryPoints["dns"];
        Assert.True(dns.Udp);
        Assert.Equal(53, dns.EndPoint.Port);
        Assert.Equal(TimeSpan.FromSeconds(10), dns.UdpTimeout);
        Assert.Equal(TimeSpan.FromSeconds(3), edge.EntryPoints["web"].UdpTimeout);
    }

    [Theory]
    [InlineData("80", "has no port")]
    [InlineData(":80/sctp", "must be tcp or udp")]
    [InlineData(":99999", "no valid port")]
    [InlineData("example.com:80", "the host must be")]
    [InlineData("::1:80", "the host must be")]
    public void Bad_addresses_are_errors(string address, string expected)
    {
        var result = LoadConfig($"entryPoints:\n  web:\n    address: \"{address}\"\n");
        Assert.Contains(result.Errors, e => e.StartsWith("entryPoints.web.address: ", StringComparison.Ordinal) && e.Contains(expected));
    }

    [Fact]
    public void Providers_resolvers_api_metrics_and_inline_dynamic_configuration()
    {
        var edge = Load("""
            entryPoints:
              web: {address: ":8080"}
            providers:
              file:
                directory: /etc/agw/dynamic
                watch: false
            certificatesResolvers:
              pebble:
                acme:
                  email: admin@example.com
                  storage: acme.json
                  caServer: https://localhost:14000/dir
                  keyType: EC256
                  caCertificates: [/pebble/ca.pem]
                  httpChallenge:
                    entryPoint: web
              le:
                acme:
                  tlsChallenge: {}
            api:
              dashboard: true
              insecure: true
            metrics:
              prometheus:
                addRoutersLabels: true
                buckets: [0.1, 0.5, 2]
            http:
              routers:
                r: {rule: "Path(`/x`)", service: llm@internal}
            """, new Dictionary<string, string> { ["LEGO_CA_CERTIFICATES"] = "/extra/a.pem:/extra/b.pem" }).Edge;
        Assert.Equal(new FileProviderConfig(null, "/etc/agw/dynamic", false), edge.FileProvider);
        var pebble = edge.CertificatesResolvers["pebble"];
        Assert.Equal(("admin@example.com", "https://localhost:14000/dir", "EC256", "web", false), (pebble.Email, pebble.CaServer, pebble.KeyType, pebble.HttpChallengeEntryPoint, pebble.TlsChallenge));
        Assert.Equal(["/pebble/ca.pem", "/extra/a.pem", "/extra/b.pem"], pebble.CaCertificates.ToArray());
        Assert.Equal(TimeSpan.FromHours(2160), pebble.CertificatesDuration);
        var le = edge.CertificatesResolvers["le"];
        Assert.Equal((StaticConfigReader.LetsEncrypt, "RSA4096", true, (string?)null), (le.CaServer, le.KeyType, le.TlsChallenge, le.HttpChallengeEntryPoint));
        Assert.True(edge.Api);
        Assert.True(edge.Dashboard);
        Assert.Equal(new PrometheusConfig(true, true, true, [0.1, 0.5, 2]) with { Buckets = edge.Prometheus.Buckets }, edge.Prometheus);
        Assert.Equal([0.1, 0.5, 2.0], edge.Prometheus.Buckets.ToArray());
        Assert.Equal("llm@internal", edge.Inline.Http.Routers["r"].Service);
    }

    [Fact]
    public void What_the_edge_does_not_do_is_an_error_saying_so()
    {
        var result = LoadConfig("""
            entryPoints:
              web:
                address: ":80"
                http3: {}
                http:
                  redirections:
                    entryPoint: {to: nowhere}
              other: {address: ":80"}
            providers:
              docker: {}
              file: {filename: a.yml, directory: b}
            certificatesResolvers:
              dns:
                acme:
                  dnsChallenge: {provider: cloudflare}
              bad:
                tailscale: {}
            metrics:
              prometheus:
                entryPoint: metrics
            """);
        string[] expected =
        [
            "entryPoints.web.http3: is not supported",
            "entryPoints.web.http.redirections.entryPoint.to: 'nowhere' is neither an entry point",
            "entryPoints.web.address: ':80' is also entry point other's address",
            "providers.docker: is not supported",
            "providers.file: filename and directory are mutually exclusive",
            "certificatesResolvers.dns.acme.dnsChallenge: is not supported",
            "certificatesResolvers.bad.tailscale: is not supported",
            "metrics.prometheus.entryPoint: is not supported",
        ];
        foreach (var e in expected) Assert.True(result.Errors.Any(x => x.StartsWith(e, StringComparison.Ordinal)), $"missing: {e}\nin:\n{string.Join("\n", result.Errors)}");
    }

    [Fact]
    public void The_edges_static_settings_are_start_up_only_and_its_inline_routers_reload()
    {
        const string baseEdge = """
            entryPoints:
              web: {address: ":8080"}
            http:
              routers:
                r: {rule: "Path(`/a`)", service: s}
            """;
        var running = Load(baseEdge);
        Assert.Empty(StartupOnlySettings.Changed(running, Load(baseEdge)));
        var next = Load(baseEdge.Replace(":8080", ":9090").Replace("/a", "/b"));
        Assert.Equal(["entryPoints"], StartupOnlySettings.Changed(running, next));
        var applied = StartupOnlySettings.Keep(next, running);
        Assert.Equal(8080, applied.Edge.EntryPoints["web"].EndPoint.Port);
        Assert.Equal("Path(`/b`)", applied.Edge.Inline.Http.Routers["r"].Rule);
        Assert.Equal(["providers"], StartupOnlySettings.Changed(running, Load(baseEdge + "\nproviders: {file: {filename: x.yml}}\n")));
    }

    [Fact]
    public void Traefik_syntax_is_not_interpolated_as_our_environment_references()
    {
        var edge = Load("""
            http:
              middlewares:
                r:
                  redirectRegex:
                    regex: "^http://localhost/(.*)"
                    replacement: "http://mydomain/${1}"
            """).Edge;
        Assert.Equal("http://mydomain/${1}", edge.Inline.Http.Middlewares["r"].Options["replacement"]!.Scalar);
    }
}

/// <summary>Traefik's file provider: a file or a directory tree of YAML and TOML files, merged, duplicates named with both files.</summary>
[Trait("Category", "unit")]
public class EdgeFileProviderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("agw-edge-files-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private void Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    [Fact]
    public void A_directory_merges_yaml_and_toml_files_from_its_subdirectories()
    {
        Write("dynamic/a.yml", "http:\n  routers:\n    r1: {rule: \"Path(`/a`)\", service: s}\n");
        Write("dynamic/sub/b.toml", "[http.services.s.loadBalancer]\n  [[http.services.s.loadBalancer.servers]]\n    url = \"http://127.0.0.1:9000\"\n");
        Write("dynamic/c.yaml", "tls:\n  certificates:\n    - {certFile: /a.crt, keyFile: /a.key}\n");
        Write("dynamic/notes.txt", "not: [config");
        var (config, errors) = EdgeFileProvider.Load(new FileProviderConfig(null, "dynamic", true), _dir);
        Assert.Empty(errors);
        Assert.Equal("s", config.Http.Routers["r1"].Service);
        Assert.IsType<LoadBalancerConfig>(config.Http.Services["s"]);
        Assert.Single(config.Tls.Certificates);
    }

    [Fact]
    public void A_name_defined_in_two_files_is_an_error_naming_both()
    {
        Write("d/a.yml", "http:\n  services:\n    s: {loadBalancer: {servers: [{url: \"http://a:1\"}]}}\n");
        Write("d/b.toml", "[http.services.s.loadBalancer]\n  [[http.services.s.loadBalancer.servers]]\n    url = \"http://b:1\"\n");
        var (config, errors) = EdgeFileProvider.Load(new FileProviderConfig(null, Path.Combine(_dir, "d"), false), "/");
        Assert.Equal(["http.services.s: defined in both a.yml and b.toml"], errors);
        Assert.False(config.Http.Services.ContainsKey("s"));
    }

    [Fact]
    public void Errors_name_the_file_they_are_in()
    {
        Write("d/bad.yml", "http:\n  routers:\n    r: {rule: \"Paht(`/a`)\", service: s}\n");
        Write("d/broken.toml", "[http\n");
        var (_, errors) = EdgeFileProvider.Load(new FileProviderConfig(null, "d", false), _dir);
        Assert.Contains(errors, e => e.StartsWith("bad.yml: http.routers.r.rule: column 1: unknown matcher 'Paht'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("broken.toml:1:", StringComparison.Ordinal));
        var (_, missing) = EdgeFileProvider.Load(new FileProviderConfig("nope.yml", null, false), _dir);
        Assert.Contains("does not exist", Assert.Single(missing));
    }
}
