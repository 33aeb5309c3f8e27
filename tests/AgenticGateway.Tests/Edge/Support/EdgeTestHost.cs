using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using AgenticGateway.Edge.Tcp;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AgenticGateway.Tests.Edge.Support;

/// <summary>
/// A Kestrel host with the edge's connection handling installed on one entry point the way the runtime installs it
/// (EdgeConnections.Use on the listener, HTTP/1.1 and HTTP/2); its HTTP answers "protocol scheme client-ip client-cert-subject".
/// </summary>
internal sealed class EdgeTestHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private EdgeTestHost(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; }
    public EdgeTcpSnapshot Snapshot { get; set; } = EdgeTcpSnapshot.Empty;

    public static async Task<EdgeTestHost> StartAsync(EdgeTcpSnapshot snapshot, string entryPoint = "web")
    {
        EdgeTestHost? host = null;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen =>
        {
            listen.Protocols = HttpProtocols.Http1AndHttp2;
            EdgeConnections.Use(listen, entryPoint, () => host!.Snapshot);
        }));
        var app = builder.Build();
        app.Run(context =>
        {
            var body = Encoding.ASCII.GetBytes(
                $"{context.Request.Protocol} {context.Request.Scheme} {context.Connection.RemoteIpAddress} {context.Connection.ClientCertificate?.GetNameInfo(X509NameType.SimpleName, false)}".TrimEnd());
            context.Response.ContentLength = body.Length;
            return context.Response.Body.WriteAsync(body).AsTask();
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        host = new EdgeTestHost(app, new Uri(address).Port) { Snapshot = snapshot };
        return host;
    }

    /// <summary>Opens a TLS connection with <paramref name="serverName"/> as SNI, accepting whatever certificate the edge serves.</summary>
    public async Task<SslStream> TlsAsync(string serverName, SslProtocols protocols = SslProtocols.None, X509Certificate2? clientCertificate = null, params string[] alpn)
    {
        var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, Port);
        var ssl = new SslStream(client.GetStream(), leaveInnerStreamOpen: false);
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = serverName,
            EnabledSslProtocols = protocols,
            RemoteCertificateValidationCallback = static (_, _, _, _) => true,
            ApplicationProtocols = alpn.Length == 0 ? null : [.. alpn.Select(p => new SslApplicationProtocol(p))],
        };
        if (clientCertificate is not null)
            options.ClientCertificates = [clientCertificate];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await ssl.AuthenticateAsClientAsync(options, timeout.Token);
        return ssl;
    }

    /// <summary>Sends one HTTP/1.1 GET over <paramref name="stream"/> and returns the response's body.</summary>
    public static async Task<string> GetAsync(Stream stream, string host = "edge.test")
    {
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"));
        await stream.FlushAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var response = await ReadToEndAsync(stream, timeout.Token);
        var body = response.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 200", response);
        return response[(body + 4)..];
    }

    public static async Task<string> ReadToEndAsync(Stream stream, CancellationToken cancellation)
    {
        var buffer = new MemoryStream();
        var chunk = new byte[4096];
        try
        {
            int read;
            while ((read = await stream.ReadAsync(chunk, cancellation)) > 0)
                buffer.Write(chunk, 0, read);
        }
        catch (IOException)
        {
            // A reset after the last byte still leaves what was read.
        }
        return Encoding.ASCII.GetString(buffer.ToArray());
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
