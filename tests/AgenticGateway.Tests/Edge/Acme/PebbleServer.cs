using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Edge.Acme;

/// <summary>
/// A private Pebble (Let's Encrypt's ACME test server, Debian's pebble package) on free loopback ports, with
/// pebble-challtestsrv as its DNS server answering every name with 127.0.0.1, so it validates challenges against the
/// test's own listeners on <see cref="HttpPort"/> (HTTP-01) and <see cref="TlsPort"/> (TLS-ALPN-01). Pebble's HTTPS
/// listener uses a certificate from a CA made here (<see cref="CaFile"/>, what a resolver's caCertificates trusts).
/// Validation is real (PEBBLE_VA_ALWAYS_VALID=0) and never reuses an earlier authorization (PEBBLE_AUTHZREUSE=0).
/// </summary>
internal sealed class PebbleServer : IAsyncDisposable
{
    private readonly string _directory;
    private readonly List<ChildProcess> _processes = [];
    private readonly List<ExitGuard> _guards = [];

    private PebbleServer(string directory) => _directory = directory;

    public int HttpPort { get; private init; }
    public int TlsPort { get; private init; }
    public int AcmePort { get; private init; }
    public int ManagementPort { get; private init; }
    public string CaFile => Path.Combine(_directory, "ca.pem");
    public string DirectoryUrl => $"https://127.0.0.1:{AcmePort}/dir";

    public static async Task<PebbleServer> StartAsync()
    {
        var pebble = LocalServers.Require("pebble", [.. LocalServers.PathDirectories(), "/usr/bin"], "pebble");
        var challtestsrv = LocalServers.Require("pebble-challtestsrv", [.. LocalServers.PathDirectories(), "/usr/bin"], "pebble");
        var server = new PebbleServer(Directory.CreateTempSubdirectory("agw-pebble-").FullName)
        {
            HttpPort = LocalServers.FreePort(),
            TlsPort = LocalServers.FreePort(),
            AcmePort = LocalServers.FreePort(),
            ManagementPort = LocalServers.FreePort(),
        };
        try
        {
            server.WriteCertificates();
            var dnsPort = FreeUdpPort();
            server.Start(["env", challtestsrv, "-dns01", $"127.0.0.1:{dnsPort}", "-http01", "", "-https01", "", "-tlsalpn01", "",
                "-management", $"127.0.0.1:{LocalServers.FreePort()}", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""]);
            var config = Path.Combine(server._directory, "pebble-config.json");
            File.WriteAllText(config, $$"""
                {
                  "pebble": {
                  "listenAddress": "127.0.0.1:{{server.AcmePort}}",
                  "managementListenAddress": "127.0.0.1:{{server.ManagementPort}}",
                  "certificate": "{{Path.Combine(server._directory, "cert.pem")}}",
                  "privateKey": "{{Path.Combine(server._directory, "key.pem")}}",
                  "httpPort": {{server.HttpPort}},
                  "tlsPort": {{server.TlsPort}},
                  "ocspResponderURL": "",
                  "externalAccountBindingRequired": false
                  }
                }
                """);
            var process = server.Start(["env", "PEBBLE_VA_NOSLEEP=1", "PEBBLE_VA_ALWAYS_VALID=0", "PEBBLE_AUTHZREUSE=0",
                pebble, "-config", config, "-dnsserver", $"127.0.0.1:{dnsPort}"]);
            using var http = new HttpClient(new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true } });
            await process.WaitUntilReadyAsync("pebble on " + server.DirectoryUrl, async ct => (await http.GetAsync(server.DirectoryUrl, ct)).EnsureSuccessStatusCode());
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
        return server;
    }

    /// <summary>The PEM of the root that signs Pebble's certificates (new on every Pebble start), from its management interface.</summary>
    public async Task<X509Certificate2> IssuingRootAsync()
    {
        using var http = new HttpClient(new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true } });
        return X509Certificate2.CreateFromPem(await http.GetStringAsync($"https://127.0.0.1:{ManagementPort}/roots/0"));
    }

    private ChildProcess Start(IReadOnlyList<string> command)
    {
        var process = ChildProcess.Start(command, _directory);
        _processes.Add(process);
        _guards.Add(ExitGuard.Start(_directory, ["kill", "-KILL", process.Id.ToString()]));
        return process;
    }

    /// <summary>A CA, and a certificate for 127.0.0.1 and localhost signed by it, for Pebble's HTTPS listener.</summary>
    private void WriteCertificates()
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=agw test Pebble CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        var now = DateTimeOffset.UtcNow;
        using var ca = caRequest.CreateSelfSigned(now.AddDays(-1), now.AddDays(30));

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var leaf = request.Create(ca, now.AddDays(-1), now.AddDays(29), RandomNumberGenerator.GetBytes(8));
        File.WriteAllText(CaFile, ca.ExportCertificatePem());
        File.WriteAllText(Path.Combine(_directory, "cert.pem"), leaf.ExportCertificatePem());
        File.WriteAllText(Path.Combine(_directory, "key.pem"), key.ExportPkcs8PrivateKeyPem());
    }

    private static int FreeUdpPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    public ValueTask DisposeAsync()
    {
        foreach (var guard in _guards) guard.Cancel();
        foreach (var process in _processes) process.Kill();
        LocalServers.DeleteDirectory(_directory);
        return ValueTask.CompletedTask;
    }
}
