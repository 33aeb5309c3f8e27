using AgenticGateway.Edge;

namespace AgenticGateway.Tests.Edge.Config;

/// <summary>Traefik's dynamic configuration read into the model: defaults, every section, errors at their paths, YAML and TOML alike.</summary>
[Trait("Category", "unit")]
public class DynamicConfigReaderTests
{
    internal static EdgeDynamicConfig Read(string text, string file = "dynamic.yml")
    {
        var errors = new List<string>();
        var node = EdgeFiles.Parse(text, file, errors);
        Assert.True(node is not null, string.Join("\n", errors));
        var config = DynamicConfigReader.Read(node!, errors);
        Assert.True(errors.Count == 0, string.Join("\n", errors));
        return config;
    }

    internal static List<string> Errors(string text, string file = "dynamic.yml")
    {
        var errors = new List<string>();
        var node = EdgeFiles.Parse(text, file, errors);
        if (node is not null) DynamicConfigReader.Read(node, errors);
        Assert.NotEmpty(errors);
        return errors;
    }

    [Fact]
    public void A_router_and_a_load_balancer_take_traefiks_defaults()
    {
        var config = Read("""
            http:
              routers:
                my-router:
                  rule: "Host(`example.com`) && PathPrefix(`/api`)"
                  service: my-service
              services:
                my-service:
                  loadBalancer:
                    servers:
                      - url: "http://127.0.0.1:8080"
                      - url: "http://127.0.0.1:8081/base"
                        weight: 3
            """);
        var router = config.Http.Routers["my-router"];
        Assert.Equal("my-service", router.Service);
        Assert.Equal(0, router.Priority);
        Assert.Equal("Host(`example.com`) && PathPrefix(`/api`)".Length, router.EffectivePriority);
        Assert.Empty(router.EntryPoints);
        Assert.Null(router.Tls);
        Assert.Equal(["example.com"], router.Matcher.HostNames);
        Assert.Equal("http.routers.my-router", router.Path);

        var lb = Assert.IsType<LoadBalancerConfig>(config.Http.Services["my-service"]);
        Assert.True(lb.PassHostHeader);
        Assert.Equal("wrr", lb.Strategy);
        Assert.Equal(TimeSpan.FromMilliseconds(100), lb.FlushInterval);
        Assert.Null(lb.Sticky);
        Assert.Null(lb.HealthCheck);
        Assert.Equal([1, 3], lb.Servers.Select(s => s.Weight));
        Assert.Equal("/base", lb.Servers[1].Url.AbsolutePath);
    }

    [Fact]
    public void Sticky_cookies_and_health_checks_take_traefiks_defaults()
    {
        var config = Read("""
            http:
              services:
                a:
                  loadBalancer:
                    sticky:
                      cookie: {}
                    healthCheck:
                      path: /health
                    servers: [{url: "http://a:80"}]
                b:
                  loadBalancer:
                    sticky:
                      cookie:
                        name: "my sticky/cookie"
                        secure: true
                        httpOnly: true
                        sameSite: Lax
                        maxAge: 60
                    healthCheck:
                      path: /health
                      interval: 10s
                      timeout: 3s
                      scheme: https
                      port: 8443
                      hostname: example.org
                      followRedirects: false
                      method: head
                      status: 204
                      headers:
                        My-Header: foo
                    servers: [{url: "https://b:443"}]
            """);
        var a = (LoadBalancerConfig)config.Http.Services["a"];
        Assert.Equal(new StickyConfig(null, false, false, null, 0, "/", null), a.Sticky);
        Assert.Equal("_" , StickyConfig.GeneratedCookieName("a@file")[..1]);
        Assert.Equal(6, StickyConfig.GeneratedCookieName("a@file").Length);
        var health = a.HealthCheck!;
        Assert.Equal((TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(5)), (health.Interval, health.UnhealthyInterval, health.Timeout));
        Assert.Equal(("http", "GET", 0, true), (health.Mode, health.Method, health.Status, health.FollowRedirects));

        var b = (LoadBalancerConfig)config.Http.Services["b"];
        Assert.Equal(new StickyConfig("my_sticky_cookie", true, true, "lax", 60, "/", null), b.Sticky);
        var hb = b.HealthCheck!;
        Assert.Equal(("https", 8443, "example.org", false, "HEAD", 204), (hb.Scheme, hb.Port, hb.Hostname, hb.FollowRedirects, hb.Method, hb.Status));
        Assert.Equal(TimeSpan.FromSeconds(10), hb.UnhealthyInterval);
        Assert.Equal([new KeyValuePair<string, string>("My-Header", "foo")], hb.Headers.ToArray());
    }

    [Fact]
    public void Traefiks_generated_cookie_name_is_the_sha1_of_the_service()
    {
        // SHA-1("_TRAEFIK_BACKEND_whoami@file") starts with these hex digits (computed independently with sha1sum).
        var expected = "_" + Convert.ToHexStringLower(System.Security.Cryptography.SHA1.HashData("_TRAEFIK_BACKEND_whoami@file"u8.ToArray()))[..5];
        Assert.Equal(expected, StickyConfig.GeneratedCookieName("whoami@file"));
    }

    [Fact]
    public void Weighted_mirroring_and_failover_services()
    {
        var config = Read("""
            http:
              services:
                app:
                  weighted:
                    services:
                      - name: appv1
                        weight: 3
                      - name: appv2
                    sticky:
                      cookie: {}
                    healthCheck: {}
                mirrored-api:
                  mirroring:
                    service: appv1
                    mirrors:
                      - name: appv2
                        percent: 10
                app-failover:
                  failover:
                    service: main
                    fallback: backup
                    errors:
                      status: ["500-504", "429"]
            """);
        var weighted = Assert.IsType<WeightedConfig>(config.Http.Services["app"]);
        Assert.Equal([new WeightedService("appv1", 3), new WeightedService("appv2", 1)], weighted.Services.ToArray());
        Assert.True(weighted.HealthCheck);
        Assert.NotNull(weighted.Sticky);
        var mirroring = Assert.IsType<MirroringConfig>(config.Http.Services["mirrored-api"]);
        Assert.Equal(("appv1", -1L, true, false), (mirroring.Service, mirroring.MaxBodySize, mirroring.MirrorBody, mirroring.HealthCheck));
        Assert.Equal([new Mirror("appv2", 10)], mirroring.Mirrors.ToArray());
        var failover = Assert.IsType<FailoverConfig>(config.Http.Services["app-failover"]);
        Assert.Equal(("main", "backup"), (failover.Service, failover.Fallback));
        Assert.Equal(["500-504", "429"], failover.Errors!.Status.ToArray());
        Assert.Equal(-1, failover.Errors.MaxRequestBodyBytes);
    }

    [Fact]
    public void Middlewares_keep_their_options_for_their_builders()
    {
        var config = Read("""
            http:
              middlewares:
                test-stripprefix:
                  stripPrefix:
                    prefixes:
                      - "/foobar"
                grpc:
                  GrpcWeb: {}
                ct:
                  contentType:
            """);
        var strip = config.Http.Middlewares["test-stripprefix"];
        Assert.Equal("stripPrefix", strip.Type);
        Assert.Equal("http.middlewares.test-stripprefix.stripPrefix", strip.Options.Path);
        Assert.Equal("/foobar", strip.Options["prefixes"]!.Items[0].Scalar);
        Assert.Equal("grpcWeb", config.Http.Middlewares["grpc"].Type);
        Assert.Equal("contentType", config.Http.Middlewares["ct"].Type);
    }

    [Fact]
    public void Router_tls_even_empty_means_https()
    {
        var config = Read("""
            http:
              routers:
                a:
                  rule: Host(`a.test`)
                  service: s
                  tls: {}
                b:
                  rule: Host(`b.test`)
                  service: s
                  priority: 42
                  entryPoints: [websecure]
                  middlewares: [auth, "strip@file"]
                  tls:
                    certResolver: myresolver
                    options: modern
                    domains:
                      - main: example.org
                        sans: ["*.example.org"]
                  observability:
                    accessLogs: false
            """);
        Assert.Equal(new RouterTlsConfig(null, null, []), config.Http.Routers["a"].Tls);
        var b = config.Http.Routers["b"];
        Assert.Equal(42, b.EffectivePriority);
        Assert.Equal(["websecure"], b.EntryPoints.ToArray());
        Assert.Equal(["auth", "strip@file"], b.Middlewares.ToArray());
        Assert.Equal(("modern", "myresolver"), (b.Tls!.Options, b.Tls.CertResolver));
        Assert.Equal("example.org", b.Tls.Domains[0].Main);
        Assert.Equal(["*.example.org"], b.Tls.Domains[0].Sans.ToArray());
        Assert.False(b.Observability!.AccessLogs);
        Assert.Null(b.Observability.Metrics);
    }

    [Fact]
    public void Servers_transports()
    {
        var config = Read("""
            http:
              serversTransports:
                mytransport:
                  serverName: backend.internal
                  insecureSkipVerify: true
                  rootCAs: [/ca.pem]
                  certificates:
                    - certFile: /c.pem
                      keyFile: /k.pem
                  maxIdleConnsPerHost: 7
                  forwardingTimeouts:
                    dialTimeout: 1s
                    responseHeaderTimeout: 2s
                  disableHTTP2: true
                  minVersion: VersionTLS12
                defaults: {}
            """);
        var t = config.Http.ServersTransports["mytransport"];
        Assert.Equal(("backend.internal", true, 7, true, "VersionTLS12"), (t.ServerName, t.InsecureSkipVerify, t.MaxIdleConnsPerHost, t.DisableHttp2, t.MinVersion));
        Assert.Equal((TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(90)), (t.DialTimeout, t.ResponseHeaderTimeout, t.IdleConnTimeout));
        Assert.Equal("/c.pem", t.Certificates[0].CertFile);
        var d = config.Http.ServersTransports["defaults"];
        Assert.Equal((200, TimeSpan.FromSeconds(30), TimeSpan.Zero, TimeSpan.FromSeconds(15)), (d.MaxIdleConnsPerHost, d.DialTimeout, d.ResponseHeaderTimeout, d.PingTimeout));
    }

    [Fact]
    public void Tcp_udp_and_tls_sections()
    {
        var config = Read("""
            tcp:
              routers:
                db:
                  rule: HostSNI(`db.example.com`)
                  service: db
                  tls:
                    passthrough: true
                catchall:
                  rule: HostSNI(`*`)
                  service: db
              services:
                db:
                  loadBalancer:
                    servers:
                      - address: "10.0.0.1:5432"
                      - address: "[::1]:5432"
                        tls: true
                    proxyProtocol: {}
                w:
                  weighted:
                    services: [{name: db, weight: 2}]
              middlewares:
                limit:
                  inFlightConn:
                    amount: 10
              serversTransports:
                t:
                  dialTimeout: 5s
                  proxyProtocol:
                    version: 1
                  tls:
                    serverName: db
            udp:
              routers:
                dns:
                  entryPoints: [dns]
                  service: dns
              services:
                dns:
                  loadBalancer:
                    servers: [{address: "1.1.1.1:53"}]
            tls:
              certificates:
                - certFile: /a.crt
                  keyFile: /a.key
                  stores: [default]
              options:
                default:
                  minVersion: VersionTLS12
                mtls:
                  clientAuth:
                    caFiles: [/ca.pem]
              stores:
                default:
                  defaultCertificate:
                    certFile: /d.crt
                    keyFile: /d.key
            """);
        var db = config.Tcp.Routers["db"];
        Assert.True(db.Tls!.Passthrough);
        Assert.Equal("db.example.com".Length + "HostSNI(``)".Length, db.EffectivePriority);
        Assert.Equal(-1, config.Tcp.Routers["catchall"].EffectivePriority);
        var lb = Assert.IsType<TcpLoadBalancerConfig>(config.Tcp.Services["db"]);
        Assert.Equal([("10.0.0.1:5432", false), ("[::1]:5432", true)], lb.Servers.Select(s => (s.Address, s.Tls)));
        Assert.Equal(2, lb.ProxyProtocolVersion);
        Assert.Equal(TimeSpan.FromMilliseconds(100), lb.TerminationDelay);
        Assert.IsType<TcpWeightedConfig>(config.Tcp.Services["w"]);
        Assert.Equal("inFlightConn", config.Tcp.Middlewares["limit"].Type);
        var t = config.Tcp.ServersTransports["t"];
        Assert.Equal((TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(15), 1, true, "db"), (t.DialTimeout, t.DialKeepAlive, t.ProxyProtocolVersion, t.Tls, t.ServerName));

        Assert.Equal(["dns"], config.Udp.Routers["dns"].EntryPoints.ToArray());
        Assert.Equal(["1.1.1.1:53"], Assert.IsType<UdpLoadBalancerConfig>(config.Udp.Services["dns"]).Servers.ToArray());

        Assert.Equal(["default"], config.Tls.Certificates[0].Stores.ToArray());
        Assert.Equal("VersionTLS12", config.Tls.Options["default"].MinVersion);
        Assert.Equal(["h2", "http/1.1", "acme-tls/1"], config.Tls.Options["default"].AlpnProtocols.ToArray());
        Assert.Equal("NoClientCert", config.Tls.Options["default"].ClientAuthType);
        Assert.Equal("RequireAndVerifyClientCert", config.Tls.Options["mtls"].ClientAuthType);
        Assert.Equal("/d.crt", config.Tls.Stores["default"].DefaultCertificate!.CertFile);
    }

    [Fact]
    public void Every_error_is_reported_at_its_path()
    {
        var errors = Errors("""
            http:
              routers:
                r1:
                  rule: Host(`a`) &&
                  service: s
                r2:
                  rule: Host(`b`)
                  servce: s
              services:
                s1:
                  loadBalancer:
                    servers:
                      - url: "not a url"
                    passHostHeader: maybe
                s2: {}
                s3:
                  loadBalancer: {servers: [{url: "http://a"}]}
                  weighted: {services: [{name: x}]}
              middlewares:
                m1:
                  stripPrefix: {prefixes: [/a]}
                  addPrefix: {prefix: /b}
                m2: {}
            tcp:
              routers:
                t:
                  rule: HostSNI(`db.test`)
                  service: db
            tls:
              options:
                o:
                  minVersion: TLS12
                  clientAuth:
                    clientAuthType: RequireAndVerifyClientCert
            htttp: {}
            """);
        string[] expected =
        [
            "http.routers.r1.rule: column 13: expected a matcher",
            "http.routers.r2.service: is required",
            "http.routers.r2.servce: unknown field 'servce'",
            "http.services.s1.loadBalancer.servers[0].url: 'not a url' is not a server URL",
            "http.services.s1.loadBalancer.passHostHeader: expected true or false, got 'maybe'",
            "http.services.s2: a service needs one of loadBalancer, weighted, mirroring, failover",
            "http.services.s3: a service has exactly one kind, found loadBalancer and weighted",
            "http.middlewares.m1: a middleware has exactly one type, found 2: stripPrefix, addPrefix",
            "http.middlewares.m2: a middleware needs its type",
            "tcp.routers.t.rule: matches only TLS connections",
            "tls.options.o.minVersion: 'TLS12' is not one of VersionTLS10",
            "tls.options.o.clientAuth.caFiles: is required by clientAuthType RequireAndVerifyClientCert",
            "htttp: unknown field 'htttp' (known: http, tcp, tls, udp)",
        ];
        foreach (var e in expected) Assert.True(errors.Any(x => x.StartsWith(e, StringComparison.Ordinal)), $"missing: {e}\nin:\n{string.Join("\n", errors)}");
        Assert.True(expected.Length == errors.Count, string.Join("\n", errors));
    }

    [Fact]
    public void Unsupported_fields_are_errors_not_silently_ignored()
    {
        var errors = Errors("""
            http:
              routers:
                r: {rule: "Host(`a`)", service: s, ruleSyntax: v2}
              services:
                h:
                  highestRandomWeight: {services: [{name: a}]}
              serversTransports:
                t:
                  spiffe: {ids: [x]}
            """);
        Assert.Contains(errors, e => e.StartsWith("http.routers.r.ruleSyntax: 'v2' is not supported"));
        Assert.Contains(errors, e => e.StartsWith("http.services.h.highestRandomWeight: is not supported"));
        Assert.Contains(errors, e => e.StartsWith("http.serversTransports.t.spiffe: is not supported"));
    }

    [Fact]
    public void Toml_gives_the_same_model_as_yaml()
    {
        var yaml = Read("""
            http:
              routers:
                r:
                  rule: "Host(`a.test`)"
                  service: s
                  entryPoints: [web]
                  priority: 5
                  tls: {}
              services:
                s:
                  loadBalancer:
                    servers:
                      - url: "http://10.0.0.1:80/"
                      - url: "http://10.0.0.2:80/"
                        weight: 2
                    healthCheck:
                      path: /health
                      interval: 10s
              middlewares:
                m:
                  headers:
                    customRequestHeaders:
                      X-Script-Name: test
            """);
        var toml = Read("""
            [http.routers.r]
              rule = "Host(`a.test`)"
              service = "s"
              entryPoints = ["web"]
              priority = 5
              [http.routers.r.tls]

            [http.services.s.loadBalancer]
              [[http.services.s.loadBalancer.servers]]
                url = "http://10.0.0.1:80/"
              [[http.services.s.loadBalancer.servers]]
                url = "http://10.0.0.2:80/"
                weight = 2
              [http.services.s.loadBalancer.healthCheck]
                path = "/health"
                interval = "10s"

            [http.middlewares.m.headers.customRequestHeaders]
              X-Script-Name = "test"
            """, "dynamic.toml");
        var (ry, rt) = (yaml.Http.Routers["r"], toml.Http.Routers["r"]);
        Assert.Equal((ry.Rule, ry.Service, ry.Priority, ry.Tls, ry.Path), (rt.Rule, rt.Service, rt.Priority, rt.Tls, rt.Path));
        Assert.Equal(ry.EntryPoints.ToArray(), rt.EntryPoints.ToArray());
        var (sy, st) = ((LoadBalancerConfig)yaml.Http.Services["s"], (LoadBalancerConfig)toml.Http.Services["s"]);
        Assert.Equal(sy.Servers.ToArray(), st.Servers.ToArray());
        Assert.Equal(sy.HealthCheck! with { Headers = [] }, st.HealthCheck! with { Headers = [] });
        Assert.Equal(yaml.Http.Middlewares["m"].Options.ToString(), toml.Http.Middlewares["m"].Options.ToString());
    }

    [Fact]
    public void Syntax_errors_name_the_file_line_and_column()
    {
        var yaml = Errors("http:\n  routers:\n    r: [unclosed\n", "dyn.yml");
        Assert.StartsWith("dyn.yml:", yaml[0]);
        Assert.Matches(@"^dyn\.yml:\d+:\d+: ", yaml[0]);
        var toml = Errors("[http.routers.r]\nrule = \"Host(`a`)\"\nservice = \n", "dyn.toml");
        Assert.StartsWith("dyn.toml:3:", toml[0]);
        var dup = Errors("[http.routers.r]\nrule = \"a\"\nrule = \"b\"\n", "dyn.toml");
        Assert.Contains(dup, e => e.StartsWith("dyn.toml:3:1: The key `http.routers.r.rule` is already defined", StringComparison.Ordinal));
        var dupYaml = Errors("http:\n  routers: {}\n  routers: {}\n", "dyn.yml");
        Assert.Contains(dupYaml, e => e.StartsWith("dyn.yml:3:3: Duplicate key routers", StringComparison.Ordinal));
        // Traefik's keys ignore case, so two spellings of one key are one key defined twice.
        var dupCase = Errors("http:\n  routers: {}\n  Routers: {}\n", "dyn.yml");
        Assert.Contains(dupCase, e => e.StartsWith("dyn.yml:3:3: the key 'Routers' is defined twice in http", StringComparison.Ordinal));
    }

    [Fact]
    public void Yaml_aliases_that_explode_are_refused()
    {
        var bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
        var prev = "a";
        for (var i = 0; i < 8; i++)
        {
            var name = $"l{i}";
            bomb += $"{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n";
            prev = name;
        }
        var errors = Errors(bomb, "bomb.yml");
        Assert.Contains(errors, e => e.Contains("more than 1000000 nodes"));
    }
}
