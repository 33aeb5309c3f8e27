using System.Security.Cryptography.X509Certificates;

namespace AgenticGateway.Edge.Tls;

/// <summary>The TLS-ALPN-01 challenge (RFC 8737): a connection whose ClientHello offers ALPN <c>acme-tls/1</c> gets this certificate.</summary>
internal interface IAcmeTlsChallenge
{
    /// <summary>The challenge certificate for <paramref name="serverName"/> while its validation is pending, else null (refuse the handshake).</summary>
    X509Certificate2? ChallengeCertificate(string serverName);
}
