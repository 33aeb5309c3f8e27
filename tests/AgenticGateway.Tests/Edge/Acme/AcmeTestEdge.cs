using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using AgenticGateway.Edge.Acme;
using AgenticGateway.Edge.Tls;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace AgenticGateway.Tests.Edge.Acme;

/// <summary>
/// The parts of an edge an ACME CA talks to, as small as the tests need: an HTTP listener that answers HTTP-01
/// through <see cref="AcmeHttpChallenge"/> (404 otherwise), and a TLS listener that reads the ClientHello's SNI and
/// ALPN and answers with the challenge certificate from <see cref="IAcmeTlsChallenge"/> when ALPN offers acme-tls/1,
/// else with the certificate from <see cref="ICertificateSource"/> (the real edge does both in the tcp helper's
/// connection middleware).
/// </summary>
internal sealed class AcmeTestEdge : IAsyncDisposable
{
    private static readonly SslApplicationProtocol AcmeTls = new("acme-tls/1");

    private readonly WebApplication _http;
    private readonly TcpListener _tls;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    private AcmeTestEdge(WebApplication http, TcpListener tls, IAcmeTlsChallenge challenge, ICertificateSource certificates)
    {
        _http = http;
        _tls = tls;
        _accepting = AcceptAsync(challenge, certificates);
    }

    /// <summary>How many TLS handshakes were answered with a challenge certificate.</summary>
    public int ChallengeHandshakes;

    public static async Task<AcmeTestEdge> StartAsync(int httpPort, int tlsPort, AcmeHttpChallenge http, IAcmeTlsChallenge tls, ICertificateSource certificates)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, httpPort));
        var app = builder.Build();
        app.Run(async context =>
        {
            if (!await http.TryAnswerAsync(context)) context.Response.StatusCode = StatusCodes.Status404NotFound;
        });
        await app.StartAsync();
        var listener = new TcpListener(IPAddress.Loopback, tlsPort);
        listener.Start();
        return new AcmeTestEdge(app, listener, tls, certificates);
    }

    private async Task AcceptAsync(IAcmeTlsChallenge challenge, ICertificateSource certificates)
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _tls.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception) { return; }
            _ = Task.Run(() => ServeAsync(client, challenge, certificates));
        }
    }

    private async Task ServeAsync(TcpClient client, IAcmeTlsChallenge challenge, ICertificateSource certificates)
    {
        using var connection = client;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            var network = client.GetStream();
            var hello = await ReadRecordAsync(network, timeout.Token);
            var (serverName, alpn) = ParseClientHello(hello);
            if (serverName is null) return;
            X509Certificate2? certificate;
            List<SslApplicationProtocol> protocols;
            if (alpn.Contains("acme-tls/1"))
            {
                certificate = challenge.ChallengeCertificate(serverName);
                protocols = [AcmeTls];
                if (certificate is not null) Interlocked.Increment(ref ChallengeHandshakes);
            }
            else
            {
                certificate = certificates.Find(serverName);
                protocols = [SslApplicationProtocol.Http11];
            }
            if (certificate is null) return;
            await using var tls = new SslStream(new ReplayStream(hello, network));
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate, ApplicationProtocols = protocols }, timeout.Token);
            // Hold the connection until the client is done (the CA closes after its checks).
            _ = await tls.ReadAsync(new byte[1], timeout.Token);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or System.Security.Authentication.AuthenticationException or InvalidDataException)
        {
            // The client went away, or sent something else than a ClientHello.
        }
    }

    /// <summary>One TLS record (the ClientHello, which fits one record for every client here), header included.</summary>
    private static async Task<byte[]> ReadRecordAsync(Stream stream, CancellationToken ct)
    {
        var header = new byte[5];
        await stream.ReadExactlyAsync(header, ct);
        if (header[0] != 0x16) throw new InvalidDataException("not a TLS handshake");
        var record = new byte[5 + BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(3))];
        header.CopyTo(record, 0);
        await stream.ReadExactlyAsync(record.AsMemory(5), ct);
        return record;
    }

    /// <summary>The server_name (0) and application_layer_protocol_negotiation (16) extensions of a ClientHello record (RFC 8446 §4.1.2).</summary>
    internal static (string? ServerName, List<string> Alpn) ParseClientHello(byte[] record)
    {
        var r = record.AsSpan(5);
        if (r.Length < 4 || r[0] != 1) throw new InvalidDataException("not a ClientHello");
        var p = 4 + 2 + 32;                 // handshake header, legacy_version, random
        p += 1 + r[p];                       // legacy_session_id
        p += 2 + BinaryPrimitives.ReadUInt16BigEndian(r[p..]);   // cipher_suites
        p += 1 + r[p];                       // legacy_compression_methods
        var end = p + 2 + BinaryPrimitives.ReadUInt16BigEndian(r[p..]);
        p += 2;
        string? serverName = null;
        var alpn = new List<string>();
        while (p + 4 <= end)
        {
            var type = BinaryPrimitives.ReadUInt16BigEndian(r[p..]);
            var length = BinaryPrimitives.ReadUInt16BigEndian(r[(p + 2)..]);
            var data = r.Slice(p + 4, length);
            if (type == 0 && data.Length > 5 && data[2] == 0)
                serverName = System.Text.Encoding.ASCII.GetString(data.Slice(5, BinaryPrimitives.ReadUInt16BigEndian(data[3..])));
            else if (type == 16)
            {
                for (var q = 2; q < data.Length; q += 1 + data[q])
                    alpn.Add(System.Text.Encoding.ASCII.GetString(data.Slice(q + 1, data[q])));
            }
            p += 4 + length;
        }
        return (serverName, alpn);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _tls.Stop();
        await _accepting;
        await _http.DisposeAsync();
        _stop.Dispose();
    }

    /// <summary>The bytes already read (the ClientHello), then the rest of the connection.</summary>
    private sealed class ReplayStream(byte[] prefix, Stream inner) : Stream
    {
        private int _position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_position < prefix.Length)
            {
                var n = Math.Min(buffer.Length, prefix.Length - _position);
                prefix.AsMemory(_position, n).CopyTo(buffer);
                _position += n;
                return n;
            }
            return await inner.ReadAsync(buffer, cancellationToken);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => inner.WriteAsync(buffer, cancellationToken);
        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.WriteAsync(buffer, offset, count, cancellationToken);
        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);
        public override void Flush() => inner.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
