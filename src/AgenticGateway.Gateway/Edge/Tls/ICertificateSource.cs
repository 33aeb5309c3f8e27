using System.Security.Cryptography.X509Certificates;

namespace AgenticGateway.Edge.Tls;

/// <summary>
/// Certificates the edge did not read from tls.certificates (ACME's store): asked by server name when no file
/// certificate matches it exactly. Implementations answer from memory; the TLS handshake waits on the call.
/// </summary>
internal interface ICertificateSource
{
    /// <summary>The certificate (with its private key) to serve for <paramref name="serverName"/>, or null.</summary>
    X509Certificate2? Find(string serverName);
}
