using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AgenticGateway.Edge;
using AgenticGateway.Edge.Acme;
using AgenticGateway.Storage;
using AgenticGateway.Tests.Support;
using Dapper;

namespace AgenticGateway.Tests.Edge.Acme;

/// <summary>
/// The ACME manager against a real CA, a private Pebble validating for real through the test's edge listeners:
/// certificates by HTTP-01 and by TLS-ALPN-01 that chain to Pebble's root and are served by SNI, renewal of a
/// certificate with a third of its life left (and not of one with more), two replicas sharing one store ordering once
/// (the CA validating through a third replica that only reads the store), one account reused across processes, and an
/// unreachable CA logged with its reason and retried.
/// </summary>
[Trait("Category", "integration")]
public sealed class AcmePebbleTests : IAsyncLifetime
{
    private PebbleServer _pebble = null!;
    private readonly string _data = Directory.CreateTempSubdirectory("agw-acme-").FullName;

    public async Task InitializeAsync() => _pebble = await PebbleServer.StartAsync();

    public async Task DisposeAsync()
    {
        await _pebble.DisposeAsync();
        LocalServers.DeleteDirectory(_data);
    }

    [Fact]
    public async Task Http01_obtains_a_certificate_for_the_routers_domains_that_chains_to_the_CA_and_is_served_by_SNI()
    {
        await using var replica = await new AcmeReplica(SqliteDatabase.ForDataDirectory(_data)).StartAsync();
        await using var edge = await AcmeTestEdge.StartAsync(_pebble.HttpPort, _pebble.TlsPort, replica.Http, replica.Tls, replica.Certificates);
        replica.Manager.Update(AcmeReplica.Routers(("app", "le", ["app.example.com", "www.example.com"])), Static(http: true, tls: false));

        var certificate = await replica.WaitForCertificateAsync("www.example.com");
        Assert.Same(certificate, replica.Certificates.Find("app.example.com"));
        Assert.Null(replica.Certificates.Find("other.example.com"));
        Assert.True(certificate.HasPrivateKey);
        Assert.Equal(["app.example.com", "www.example.com"], DnsNames(certificate));
        Assert.NotNull(certificate.GetECDsaPublicKey());   // keyType EC256
        await AssertChainsToPebbleAsync(replica, certificate);
        Assert.Equal(0, edge.ChallengeHandshakes);

        // A client reaching the edge's TLS listener by SNI gets it.
        var served = await HandshakeAsync(_pebble.TlsPort, "www.example.com");
        Assert.Equal(certificate.Thumbprint, served.Thumbprint);
        Assert.Contains(replica.Logs, l => l.StartsWith("Information: ACME certificate for app.example.com,www.example.com obtained by certResolver le", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TlsAlpn01_obtains_a_certificate_through_the_challenge_certificate_offered_on_acme_tls_1()
    {
        await using var replica = await new AcmeReplica(SqliteDatabase.ForDataDirectory(_data)).StartAsync();
        await using var edge = await AcmeTestEdge.StartAsync(_pebble.HttpPort, _pebble.TlsPort, replica.Http, replica.Tls, replica.Certificates);
        replica.Manager.Update(AcmeReplica.Routers(("secure", "le", ["secure.example.com"])), Static(http: false, tls: true, keyType: "RSA2048"));

        var certificate = await replica.WaitForCertificateAsync("secure.example.com");
        Assert.True(edge.ChallengeHandshakes > 0, "Pebble validated through the acme-tls/1 handshake");
        Assert.NotNull(certificate.GetRSAPublicKey());   // keyType RSA2048
        Assert.Equal(["secure.example.com"], DnsNames(certificate));
        await AssertChainsToPebbleAsync(replica, certificate);
        // The challenge is withdrawn once validated: an acme-tls/1 handshake gets nothing any more.
        Assert.Null(replica.Tls.ChallengeCertificate("secure.example.com"));
    }

    [Fact]
    public async Task A_certificate_with_a_third_of_its_life_left_is_renewed_and_one_with_more_is_kept()
    {
        var database = SqliteDatabase.ForDataDirectory(_data);
        var store = new AcmeStore(database, TimeProvider.System);
        var now = DateTimeOffset.UtcNow;
        // Two 90-day certificates: one with 29 days left (under a third: due), one with 31 days left (not yet).
        var due = SelfSigned("le", "due.example.com", now.AddDays(-61), now.AddDays(29));
        var fresh = SelfSigned("le", "fresh.example.com", now.AddDays(-59), now.AddDays(31));
        await store.SaveCertificateAsync(due, CancellationToken.None);
        await store.SaveCertificateAsync(fresh, CancellationToken.None);

        await using var replica = await new AcmeReplica(database).StartAsync();
        await using var edge = await AcmeTestEdge.StartAsync(_pebble.HttpPort, _pebble.TlsPort, replica.Http, replica.Tls, replica.Certificates);
        // Routers in name order: the fresh one is looked at first, so once the due one is renewed both were decided.
        replica.Manager.Update(AcmeReplica.Routers(("a-fresh", "le", ["fresh.example.com"]), ("b-due", "le", ["due.example.com"])), Static(http: true, tls: false));

        var renewed = await replica.WaitForCertificateAsync("due.example.com", c => c.NotAfter.ToUniversalTime() > now.AddDays(60));
        await AssertChainsToPebbleAsync(replica, renewed);
        Assert.Contains(replica.Logs, l => l.StartsWith("Information: Renewing the ACME certificate for due.example.com of certResolver le", StringComparison.Ordinal));
        var rows = await store.CertificatesAsync(CancellationToken.None);
        Assert.Equal(fresh.CertificatePem, rows.Single(r => r.Domains == "fresh.example.com").CertificatePem);
        Assert.Equal(fresh.NotAfter.ToUnixTimeSeconds(), new DateTimeOffset(replica.Certificates.Find("fresh.example.com")!.NotAfter.ToUniversalTime()).ToUnixTimeSeconds());
        Assert.DoesNotContain(replica.Logs, l => l.Contains("fresh.example.com", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Two_replicas_sharing_a_store_order_once_and_the_CA_may_validate_through_a_third(string backend)
    {
        var location = backend == "postgres" ? await (await PostgresInstance.SharedAsync()).CreateDatabaseAsync("acme") : _data;
        IDatabase Open() => backend == "postgres" ? new PostgresDatabase(location) : SqliteDatabase.ForDataDirectory(location);
        await using var a = await new AcmeReplica(Open()).StartAsync();
        await using var b = await new AcmeReplica(Open()).StartAsync();
        // The edge in front of the CA is a third replica's, which orders nothing: it answers from the shared store.
        await using var c = await new AcmeReplica(Open()).StartAsync();
        await using var edge = await AcmeTestEdge.StartAsync(_pebble.HttpPort, _pebble.TlsPort, c.Http, c.Tls, c.Certificates);

        var routers = AcmeReplica.Routers(("shared", "le", ["shared.example.com"]));
        a.Manager.Update(routers, Static(http: true, tls: false));
        b.Manager.Update(routers, Static(http: true, tls: false));

        var fromA = await a.WaitForCertificateAsync("shared.example.com");
        var fromB = await b.WaitForCertificateAsync("shared.example.com");
        var fromC = await c.WaitForCertificateAsync("shared.example.com");
        Assert.Equal(fromA.Thumbprint, fromB.Thumbprint);
        Assert.Equal(fromA.Thumbprint, fromC.Thumbprint);
        Assert.Single(a.Logs.Concat(b.Logs), l => l.Contains("obtained by certResolver le", StringComparison.Ordinal));
        Assert.Single(a.Logs.Concat(b.Logs), l => l.Contains("ACME account registered", StringComparison.Ordinal));
        await using var connection = await Open().OpenAsync(CancellationToken.None);
        Assert.Equal(1, await connection.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM edge_certificates"));
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM edge_acme_leases"));
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM edge_acme_challenges"));
    }

    [Fact]
    public async Task The_account_is_registered_once_and_reused_by_the_next_process()
    {
        var database = SqliteDatabase.ForDataDirectory(_data);
        string accountUrl;
        await using (var first = await new AcmeReplica(database).StartAsync())
        await using (var edge = await AcmeTestEdge.StartAsync(_pebble.HttpPort, _pebble.TlsPort, first.Http, first.Tls, first.Certificates))
        {
            first.Manager.Update(AcmeReplica.Routers(("one", "le", ["one.example.com"])), Static(http: true, tls: false));
            await first.WaitForCertificateAsync("one.example.com");
            Assert.Single(first.Logs, l => l.Contains("ACME account registered", StringComparison.Ordinal));
            accountUrl = (await first.Store.FindAccountAsync(_pebble.DirectoryUrl, "admin@example.com", CancellationToken.None))!.AccountUrl;
        }

        // A restarted gateway (a new manager, the same database) orders a new certificate with the stored account.
        await using var second = await new AcmeReplica(SqliteDatabase.ForDataDirectory(_data)).StartAsync();
        await using var edge2 = await AcmeTestEdge.StartAsync(_pebble.HttpPort, _pebble.TlsPort, second.Http, second.Tls, second.Certificates);
        second.Manager.Update(AcmeReplica.Routers(("one", "le", ["one.example.com"]), ("two", "le", ["two.example.com"])), Static(http: true, tls: false));
        await second.WaitForCertificateAsync("two.example.com");
        Assert.NotNull(second.Certificates.Find("one.example.com"));
        Assert.DoesNotContain(second.Logs, l => l.Contains("ACME account registered", StringComparison.Ordinal));
        Assert.Single(second.Logs, l => l.Contains("obtained by certResolver le", StringComparison.Ordinal));   // two only: one was in the store
        await using var connection = await database.OpenAsync(CancellationToken.None);
        Assert.Equal(accountUrl, Assert.Single(await connection.QueryAsync<string>("SELECT account_url FROM edge_acme_accounts")));
    }

    [Fact]
    public async Task An_unreachable_CA_is_logged_with_its_reason_and_retried()
    {
        var closedPort = LocalServers.FreePort();
        var caServer = $"https://127.0.0.1:{closedPort}/dir";
        await using var replica = await new AcmeReplica(SqliteDatabase.ForDataDirectory(_data)).StartAsync();
        replica.Manager.Update(AcmeReplica.Routers(("app", "bad", ["app.example.com"])),
            AcmeReplica.Static(AcmeReplica.Resolver(caServer, null, http: true, tls: false, name: "bad")));

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (replica.Logs.Count(IsFailure) < 3 && DateTime.UtcNow < deadline) await Task.Delay(50);
        var failures = replica.Logs.Where(IsFailure).ToList();
        Assert.True(failures.Count >= 3, string.Join("\n", replica.Logs));
        Assert.StartsWith($"Error: Unable to obtain an ACME certificate for app.example.com from certResolver bad ({caServer}): reading the directory: cannot reach the ACME server at https://127.0.0.1:{closedPort}", failures[0], StringComparison.Ordinal);
        Assert.Null(replica.Certificates.Find("app.example.com"));

        bool IsFailure(string line) => line.StartsWith("Error: Unable to obtain an ACME certificate for app.example.com", StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_CA_whose_certificate_is_not_trusted_is_refused_with_a_clear_error()
    {
        // Pebble's HTTPS certificate comes from the test's own CA: without caCertificates it is not trusted.
        await using var replica = await new AcmeReplica(SqliteDatabase.ForDataDirectory(_data)).StartAsync();
        replica.Manager.Update(AcmeReplica.Routers(("app", "le", ["app.example.com"])),
            AcmeReplica.Static(AcmeReplica.Resolver(_pebble.DirectoryUrl, null, http: true, tls: false)));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!replica.Logs.Any(l => l.StartsWith("Error: Unable to obtain", StringComparison.Ordinal)) && DateTime.UtcNow < deadline) await Task.Delay(50);
        var failure = Assert.Single(replica.Logs.Where(l => l.StartsWith("Error: Unable to obtain", StringComparison.Ordinal)).Take(1));
        Assert.Contains("cannot reach the ACME server", failure, StringComparison.Ordinal);
        Assert.Contains("SSL", failure, StringComparison.OrdinalIgnoreCase);
    }

    private static AcmeCertificateRecord SelfSigned(string resolver, string domain, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + domain, key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(domain);
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(notBefore, notAfter);
        return new AcmeCertificateRecord(resolver, domain, certificate.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem(),
            certificate.NotBefore.ToUniversalTime(), certificate.NotAfter.ToUniversalTime(), DateTimeOffset.UtcNow);
    }

    private EdgeStaticConfig Static(bool http, bool tls, string keyType = "EC256") =>
        AcmeReplica.Static(AcmeReplica.Resolver(_pebble.DirectoryUrl, _pebble.CaFile, http, tls, keyType: keyType));

    private static List<string> DnsNames(X509Certificate2 certificate) =>
        [.. certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single().EnumerateDnsNames().Order(StringComparer.Ordinal)];

    /// <summary>The stored chain builds from the leaf through Pebble's intermediate to the root Pebble made at start.</summary>
    private async Task AssertChainsToPebbleAsync(AcmeReplica replica, X509Certificate2 certificate)
    {
        var stored = (await replica.Store.CertificatesAsync(CancellationToken.None)).Single(r => r.Domains.Contains(DnsNames(certificate)[0], StringComparison.Ordinal));
        var pem = new X509Certificate2Collection();
        pem.ImportFromPem(stored.CertificatePem);
        Assert.True(pem.Count >= 2, "the chain holds the leaf and an intermediate");
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(await _pebble.IssuingRootAsync());
        chain.ChainPolicy.ExtraStore.AddRange(pem);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        Assert.True(chain.Build(certificate), string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation)));
    }

    private static async Task<X509Certificate2> HandshakeAsync(int port, string serverName)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        await using var tls = new SslStream(client.GetStream());
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = serverName,
            RemoteCertificateValidationCallback = (_, _, _, _) => true,
        });
        return new X509Certificate2(tls.RemoteCertificate!);
    }
}
