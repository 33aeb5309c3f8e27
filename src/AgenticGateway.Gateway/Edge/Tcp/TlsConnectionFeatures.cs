using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;

namespace AgenticGateway.Edge.Tcp;

/// <summary>
/// The TLS features Kestrel's HTTPS middleware would set, set by the edge after it terminated TLS itself: HTTP reads
/// the scheme (https) and the client certificate from them, and picks HTTP/2 when ALPN chose <c>h2</c>.
/// </summary>
internal sealed class TlsConnectionFeatures(SslStream ssl) : ITlsConnectionFeature, ITlsHandshakeFeature, ITlsApplicationProtocolFeature, ISslStreamFeature
{
    public X509Certificate2? ClientCertificate { get; set; } = ssl.RemoteCertificate as X509Certificate2;

    public Task<X509Certificate2?> GetClientCertificateAsync(CancellationToken cancellationToken) => Task.FromResult(ClientCertificate);

    public ReadOnlyMemory<byte> ApplicationProtocol { get; } = ssl.NegotiatedApplicationProtocol.Protocol;

    public SslStream SslStream => ssl;

    public SslProtocols Protocol => ssl.SslProtocol;
    public TlsCipherSuite? NegotiatedCipherSuite => ssl.NegotiatedCipherSuite;
    public string HostName => ssl.TargetHostName;

#pragma warning disable SYSLIB0058 // Kestrel's own feature still exposes these; they are read from the same SslStream.
    public CipherAlgorithmType CipherAlgorithm => ssl.CipherAlgorithm;
    public int CipherStrength => ssl.CipherStrength;
    public HashAlgorithmType HashAlgorithm => ssl.HashAlgorithm;
    public int HashStrength => ssl.HashStrength;
    public ExchangeAlgorithmType KeyExchangeAlgorithm => ssl.KeyExchangeAlgorithm;
    public int KeyExchangeStrength => ssl.KeyExchangeStrength;
#pragma warning restore SYSLIB0058
}

/// <summary>What the edge learned of a connection before HTTP saw it, as a connection feature HTTP requests can read.</summary>
internal sealed record EdgeConnectionFeature(string EntryPoint, string? ServerName, bool Tls);
