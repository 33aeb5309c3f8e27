using System.Collections.Concurrent;
using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace AgenticGateway.Edge.Acme;

/// <summary>
/// The challenges being validated: the key authorization of each http-01 token and tls-alpn-01 domain. This replica's
/// own are in memory; the CA may validate through another replica, which finds them in the shared store.
/// </summary>
internal sealed class AcmeChallenges(AcmeStore store, TimeProvider time)
{
    public const string Http01 = "http-01";
    public const string TlsAlpn01 = "tls-alpn-01";

    /// <summary>How long a published challenge stays answerable: longer than any validation takes.</summary>
    internal static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(10);
    /// <summary>How long a name nobody published is remembered as such, so a flood of probes does not become a flood of queries.</summary>
    private static readonly TimeSpan MissMemory = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<(string Kind, string Name), string> _own = new();
    private readonly ConcurrentDictionary<(string Kind, string Name), (string? KeyAuthorization, DateTimeOffset Until)> _shared = new();
    private readonly ConcurrentDictionary<string, (string KeyAuthorization, X509Certificate2 Certificate)> _certificates = new(StringComparer.OrdinalIgnoreCase);

    public async Task PublishAsync(string kind, string name, string keyAuthorization, CancellationToken ct)
    {
        _own[(kind, name)] = keyAuthorization;
        await store.PublishChallengeAsync(kind, name, keyAuthorization, Lifetime, ct);
    }

    public async Task WithdrawAsync(string kind, string name, CancellationToken ct)
    {
        _own.TryRemove((kind, name), out _);
        _shared.TryRemove((kind, name), out _);
        if (kind == TlsAlpn01 && _certificates.TryRemove(name, out var removed)) removed.Certificate.Dispose();
        await store.WithdrawChallengeAsync(kind, name, ct);
    }

    /// <summary>The key authorization published for <paramref name="name"/> by this or another replica, else null.</summary>
    public async ValueTask<string?> FindAsync(string kind, string name, CancellationToken ct)
    {
        if (_own.TryGetValue((kind, name), out var own)) return own;
        var now = time.GetUtcNow();
        if (_shared.TryGetValue((kind, name), out var remembered) && remembered.Until > now) return remembered.KeyAuthorization;
        var found = await store.FindChallengeAsync(kind, name, ct);
        // A found one stays valid a while (the CA validates from several places at once); a miss briefly.
        _shared[(kind, name)] = (found, now + (found is null ? MissMemory : TimeSpan.FromSeconds(30)));
        if (_shared.Count > 10_000) _shared.Clear();
        return found;
    }

    /// <summary>
    /// The TLS-ALPN-01 certificate for <paramref name="domain"/> (RFC 8737 §3): self-signed, the domain its only SAN,
    /// and the critical acmeIdentifier extension holding the SHA-256 of the key authorization. Made once per challenge.
    /// </summary>
    public X509Certificate2 TlsAlpnCertificate(string domain, string keyAuthorization)
    {
        if (_certificates.TryGetValue(domain, out var cached) && cached.KeyAuthorization == keyAuthorization) return cached.Certificate;
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=ACME TLS-ALPN-01 challenge", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(domain);
        request.CertificateExtensions.Add(names.Build(critical: true));
        var value = new AsnWriter(AsnEncodingRules.DER);
        value.WriteOctetString(SHA256.HashData(Encoding.ASCII.GetBytes(keyAuthorization)));
        request.CertificateExtensions.Add(new X509Extension(AcmeIdentifierOid, value.Encode(), critical: true));
        var now = time.GetUtcNow();
        var certificate = request.CreateSelfSigned(now.AddDays(-1), now.AddDays(7));
        _certificates[domain] = (keyAuthorization, certificate);
        return certificate;
    }

    /// <summary>id-pe-acmeIdentifier (RFC 8737 §6.1).</summary>
    private const string AcmeIdentifierOid = "1.3.6.1.5.5.7.1.31";
}
