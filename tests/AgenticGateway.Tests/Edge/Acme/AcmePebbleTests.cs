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
