using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using AgenticGateway.Edge;
using AgenticGateway.Edge.Tls;
using AgenticGateway.Tests.Support;
using AgenticGateway.Tests.Edge.Support;
using static AgenticGateway.Tests.Edge.Support.EdgeTestConfig;

namespace AgenticGateway.Tests.Edge.Tcp;

/// <summary>TLS at the edge: certificates by SNI, the default certificate, tls.options (versions, cipher suites, mTLS, sniStrict), HTTP/2 by ALPN, ACME's tls-alpn-01.</summary>
[Trait("Category", "functional")]
public class EdgeTlsTests
{
    private static readonly TestPki Pki = new();
    private static readonly (string, string) CertA = Pki.Server("a.test");
    private static readonly (string, string) CertB = Pki.Server("b.test", "*.b.test");

    private static string Subject(SslStream ssl) => ((X509Certificate2)ssl.RemoteCertificate!).GetNameInfo(X509NameType.SimpleName, false);

    [Fact]
    public async Task Certificate_is_chosen_by_SNI_exact_then_wildcard_else_the_generated_default()
    {
        var snapshot = Snapshot(Dynamic(tls: Tls([CertA, CertB])), Static(EntryPoint()));
        await using var host = await EdgeTestHost.StartAsync(snapshot);

        await using (var a = await host.TlsAsync("a.test"))
        {
            Assert.Equal("a.test", Subject(a));
            Assert.Equal("HTTP/1.1 https 127.0.0.1", await EdgeTestHost.GetAsync(a));
        }
        await using (var wildcard = await host.TlsAsync("x.b.test"))
            Assert.Equal("b.test", Subject(wildcard));
        await using (var other = await host.TlsAsync("unknown.test"))
            Assert.Equal("TRAEFIK DEFAULT CERT", Subject(other));
    }

    [Fact]
    public async Task Certificate_files_are_read_from_paths_and_the_store_default_replaces_the_generated_one()
    {
        using var directory = new TempDirectory("edge-tls-");
        var (cert, key) = Pki.Server("files.test");
        File.WriteAllText(Path.Combine(directory.Path, "cert.pem"), cert);
        File.WriteAllText(Path.Combine(directory.Path, "key.pem"), key);
        var defaultCert = Pki.Server("default.test");
        var tls = Tls([]) with
        {
            Certificates = [new CertificateConfig(Path.Combine(directory.Path, "cert.pem"), Path.Combine(directory.Path, "key.pem"), [], "tls.certificates[0]")],
            Stores = TlsSection.Empty.Stores.Add("default", new TlsStoreConfig("default", new CertificateConfig(defaultCert.CertPem, defaultCert.KeyPem, [], "tls.stores.default.defaultCertificate"), null, null)),
        };
        await using var host = await EdgeTestHost.StartAsync(Snapshot(Dynamic(tls: tls), Static(EntryPoint())));

        await using (var named = await host.TlsAsync("files.test"))
            Assert.Equal("files.test", Subject(named));
        await using (var other = await host.TlsAsync("nothing.test"))
            Assert.Equal("default.test", Subject(other));
    }

    [Fact]
    public async Task HTTP2_is_chosen_by_ALPN_and_served_by_Kestrel()
    {
        await using var host = await EdgeTestHost.StartAsync(Snapshot(Dynamic(tls: Tls([CertA])), Static(EntryPoint())));
        using var handler = new SocketsHttpHandler
        {
            SslOptions = { RemoteCertificateValidationCallback = static (_, _, _, _) => true },
            ConnectCallback = async (_, cancellation) =>
            {
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                await socket.ConnectAsync(IPAddress.Loopback, host.Port, cancellation);
                return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
            },
        };
        using var client = new HttpClient(handler) { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };

        using var response = await client.GetAsync("https://a.test/");

        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Equal("HTTP/2 https 127.0.0.1", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Options_minVersion_TLS13_refuses_a_TLS12_client()
    {
        var config = Dynamic(httpRouters: [HttpsRouter("api", "Host(`a.test`)", "modern")], tls: Tls([CertA], Options("modern", minVersion: "VersionTLS13")));
        await using var host = await EdgeTestHost.StartAsync(Snapshot(config, Static(EntryPoint())));

        await Assert.ThrowsAnyAsync<Exception>(() => host.TlsAsync("a.test", SslProtocols.Tls12));
        await using var tls13 = await host.TlsAsync("a.test", SslProtocols.Tls13);
        Assert.Equal(SslProtocols.Tls13, tls13.SslProtocol);
        // Another host is not bound to the router's options: the default ones still accept TLS 1.2.
        await using var other = await host.TlsAsync("c.test", SslProtocols.Tls12);
        Assert.Equal(SslProtocols.Tls12, other.SslProtocol);
    }

    [Fact]
    public async Task Options_cipherSuites_limit_TLS12_to_the_named_suite()
    {
        var config = Dynamic(httpRouters: [HttpsRouter("api", "Host(`a.test`)", "suites")],
            tls: Tls([CertA], Options("suites", maxVersion: "VersionTLS12", cipherSuites: ["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"])));
        await using var host = await EdgeTestHost.StartAsync(Snapshot(config, Static(EntryPoint())));

        await using var ssl = await host.TlsAsync("a.test");

        Assert.Equal(SslProtocols.Tls12, ssl.SslProtocol);
        Assert.Equal(TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, ssl.NegotiatedCipherSuite);
    }

    [Fact]
    public async Task MTLS_RequireAndVerifyClientCert_accepts_a_signed_client_and_refuses_none_or_a_stranger()
    {
        var config = Dynamic(httpRouters: [HttpsRouter("api", "Host(`a.test`)", "mtls")],
            tls: Tls([CertA], Options("mtls", clientAuthType: "RequireAndVerifyClientCert", caFiles: [Pki.CaPem])));
        await using var host = await EdgeTestHost.StartAsync(Snapshot(config, Static(EntryPoint())));

        await using (var signed = await host.TlsAsync("a.test", clientCertificate: Pki.Client("alice")))
            Assert.Equal("HTTP/1.1 https 127.0.0.1 alice", await EdgeTestHost.GetAsync(signed));

        // TLS 1.3 reports a refused client certificate after the client's handshake finished: on its first read.
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var none = await host.TlsAsync("a.test");
            Assert.StartsWith("HTTP", await EdgeTestHost.GetAsync(none));
        });
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var stranger = await host.TlsAsync("a.test", clientCertificate: new TestPki("Other CA").Client("mallory"));
            Assert.StartsWith("HTTP", await EdgeTestHost.GetAsync(stranger));
        });
    }

    [Fact]
    public async Task MTLS_VerifyClientCertIfGiven_accepts_no_certificate()
    {
        var config = Dynamic(httpRouters: [HttpsRouter("api", "Host(`a.test`)", "optional")],
            tls: Tls([CertA], Options("optional", clientAuthType: "VerifyClientCertIfGiven", caFiles: [Pki.CaPem])));
        await using var host = await EdgeTestHost.StartAsync(Snapshot(config, Static(EntryPoint())));

        await using var none = await host.TlsAsync("a.test");

        Assert.Equal("HTTP/1.1 https 127.0.0.1", await EdgeTestHost.GetAsync(none));
    }

    [Fact]
    public async Task SniStrict_default_options_refuse_a_name_without_a_certificate()
    {
        var config = Dynamic(tls: Tls([CertA], Options("default", sniStrict: true)));
        await using var host = await EdgeTestHost.StartAsync(Snapshot(config, Static(EntryPoint())));

        await using (var known = await host.TlsAsync("a.test"))
            Assert.Equal("a.test", Subject(known));
        await Assert.ThrowsAnyAsync<Exception>(() => host.TlsAsync("unknown.test"));
    }

    [Fact]
    public async Task ACME_tls_alpn_01_is_answered_with_the_challenge_certificate()
    {
        var challenge = TestPki.SelfSigned("acme.test");
        var snapshot = Snapshot(Dynamic(tls: Tls([CertA])), Static(EntryPoint()), acme: new Challenge("acme.test", challenge));
        await using var host = await EdgeTestHost.StartAsync(snapshot);

        await using var ssl = await host.TlsAsync("acme.test", alpn: "acme-tls/1");

        Assert.Equal(challenge.Thumbprint, ((X509Certificate2)ssl.RemoteCertificate!).Thumbprint);
        Assert.Equal("acme-tls/1", ssl.NegotiatedApplicationProtocol.ToString());
    }

    [Fact]
    public async Task Bad_options_are_errors_at_their_paths()
    {
        List<string> errors = [];
        var tls = Tls([], Options("bad", minVersion: "VersionTLS14", cipherSuites: ["TLS_NOT_A_SUITE"], clientAuthType: "Sometimes"),
            Options("noca", clientAuthType: "RequireAndVerifyClientCert"));

        Snapshot(Dynamic(tls: tls), Static(EntryPoint()), errors);

        Assert.Contains(errors, e => e.StartsWith("tls.options.bad.minVersion: unknown TLS version VersionTLS14", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("tls.options.bad.cipherSuites[0]: unknown cipher suite TLS_NOT_A_SUITE", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("tls.options.bad.clientAuth.clientAuthType: unknown type Sometimes", StringComparison.Ordinal));
        Assert.Contains("tls.options.noca.clientAuth.caFiles: RequireAndVerifyClientCert needs at least one CA file", errors);
    }

    private sealed class Challenge(string name, X509Certificate2 certificate) : IAcmeTlsChallenge
    {
        public X509Certificate2? ChallengeCertificate(string serverName) => serverName == name ? certificate : null;
    }
}
