using System.Security.Cryptography.X509Certificates;

namespace AgenticGateway.Edge.Tls;

/// <summary>
/// ACME's tls-alpn-01 challenge (RFC 8737): when a ClientHello offers only ALPN <c>acme-tls/1</c>, the edge completes
/// the handshake with the challenge certificate for that name and closes the connection.
/// </summary>
internal interface IAcmeTlsChallenge
{
    /// <summary>The self-signed challenge certificate for <paramref name="serverName"/>, or null when no challenge is pending for it.</summary>
    X509Certificate2? ChallengeCertificate(string serverName);
}
