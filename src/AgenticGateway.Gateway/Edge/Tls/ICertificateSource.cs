using System.Security.Cryptography.X509Certificates;

namespace AgenticGateway.Edge.Tls;

/// <summary>Certificates the edge did not read from files (ACME's store), asked by SNI when no file certificate matches.</summary>
internal interface ICertificateSource
{
    /// <summary>The certificate (with its private key) for <paramref name="serverName"/>, or null when there is none.</summary>
    X509Certificate2? Find(string serverName);
}
