using System.Security.Cryptography.X509Certificates;
using AgenticGateway.Edge.Tls;

namespace AgenticGateway.Edge.Acme;

/// <summary>
/// The TLS-ALPN-01 challenge (RFC 8737) for the edge's TLS handshake: a connection offering ALPN <c>acme-tls/1</c> for a
/// domain being validated gets the challenge certificate. The handshake asks synchronously; another replica's challenge
/// is read from the store then, which only validation connections (and a bounded number of probes) ever cause.
/// </summary>
internal sealed class AcmeTlsChallenge(AcmeChallenges challenges) : IAcmeTlsChallenge
{
    private static readonly TimeSpan StoreTimeout = TimeSpan.FromSeconds(5);

    public X509Certificate2? ChallengeCertificate(string serverName)
    {
        if (!AcmeDomains.IsHostName(serverName)) return null;
        var domain = serverName.ToLowerInvariant();
        string? keyAuthorization;
        try
        {
            var lookup = challenges.FindAsync(AcmeChallenges.TlsAlpn01, domain, CancellationToken.None);
            keyAuthorization = lookup.IsCompleted ? lookup.Result : lookup.AsTask().WaitAsync(StoreTimeout).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is TimeoutException or System.Data.Common.DbException)
        {
            // The store is slow or down: this handshake fails, the CA's next validation attempt may succeed.
            return null;
        }
        return keyAuthorization is null ? null : challenges.TlsAlpnCertificate(domain, keyAuthorization);
    }
}
