using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace AgenticGateway.Edge.Acme;

/// <summary>How long the steps of an order may take and how often their state is polled.</summary>
internal sealed record AcmeTimings(TimeSpan PollInterval, TimeSpan ValidationTimeout, TimeSpan CertificateTimeout);

/// <summary>
/// One certificate order, RFC 8555 §7.4: newOrder for the domains, each pending authorization answered through
/// HTTP-01 or TLS-ALPN-01 (whichever the resolver has, in the CA's order, as lego picks), then a new key and a CSR for
/// finalize, and the chain downloaded once the order is valid.
/// </summary>
internal sealed class AcmeIssuer(AcmeChallenges challenges, TimeProvider time)
{
    public async Task<AcmeCertificateRecord> IssueAsync(AcmeClient client, AcmeAccountKey key, string kid, AcmeWanted wanted, AcmeTimings timings, CancellationToken ct)
    {
        using var certificateKey = CreateKey(wanted.Resolver.KeyType);
        var order = await client.NewOrderAsync(key, kid, wanted.Domains, ct);
        foreach (var url in order.Authorizations)
            await AuthorizeAsync(client, key, kid, url, wanted.Resolver, timings, ct);

        order = await PollOrderAsync(client, key, kid, order, "pending", timings.ValidationTimeout, ct);
        if (order.Status != "ready" && order.Status != "valid") throw new AcmeException($"the order is {order.Status}, not ready to finalize{Because(order.Error)}");

        if (order.Status == "ready")
        {
            order = await client.FinalizeAsync(key, kid, order, CreateCsr(certificateKey, wanted.Domains), ct);
            order = await PollOrderAsync(client, key, kid, order, "processing", timings.CertificateTimeout, ct);
        }
        if (order.Status != "valid" || order.Certificate is null) throw new AcmeException($"the order is {order.Status} after finalize{Because(order.Error)}");

        var chain = await client.CertificateAsync(key, kid, order.Certificate, ct);
        var keyPem = certificateKey is RSA rsa ? rsa.ExportPkcs8PrivateKeyPem() : ((ECDsa)certificateKey).ExportPkcs8PrivateKeyPem();
        X509Certificate2 leaf;
        try
        {
            leaf = X509Certificate2.CreateFromPem(chain, keyPem);
        }
        catch (CryptographicException e)
        {
            throw new AcmeException("the certificate the ACME server sent cannot be read or does not match the key: " + e.Message, e);
        }
        using (leaf)
            return new AcmeCertificateRecord(wanted.Resolver.Name, wanted.Key, chain, keyPem, leaf.NotBefore.ToUniversalTime(), leaf.NotAfter.ToUniversalTime(), time.GetUtcNow());
    }

    private async Task AuthorizeAsync(AcmeClient client, AcmeAccountKey key, string kid, string url, CertResolverConfig resolver, AcmeTimings timings, CancellationToken ct)
    {
        var authorization = await client.AuthorizationAsync(key, kid, url, ct);
        if (authorization.Status == "valid") return;   // the CA remembers an earlier validation (authorization reuse)
        if (authorization.Status != "pending") throw new AcmeException($"the authorization for {authorization.Domain} is {authorization.Status}{Because(authorization.Error)}");

        var challenge = authorization.Challenges.FirstOrDefault(c =>
            (c.Type == AcmeChallenges.Http01 && resolver.HttpChallengeEntryPoint is not null) || (c.Type == AcmeChallenges.TlsAlpn01 && resolver.TlsChallenge))
            ?? throw new AcmeException($"the ACME server offers {string.Join(", ", authorization.Challenges.Select(c => c.Type))} for {authorization.Domain}, "
                + $"and certResolver {resolver.Name} has {(resolver.HttpChallengeEntryPoint is not null ? "httpChallenge" : resolver.TlsChallenge ? "tlsChallenge" : "no challenge")}");
        var (kind, name) = challenge.Type == AcmeChallenges.Http01 ? (AcmeChallenges.Http01, challenge.Token) : (AcmeChallenges.TlsAlpn01, authorization.Domain);
        await challenges.PublishAsync(kind, name, key.KeyAuthorization(challenge.Token), ct);
        try
        {
            await client.RespondAsync(key, kid, challenge.Url, ct);
            var deadline = time.GetUtcNow() + timings.ValidationTimeout;
            while (authorization.Status == "pending")
            {
                if (time.GetUtcNow() > deadline) throw new AcmeException($"the {challenge.Type} validation of {authorization.Domain} did not finish within {timings.ValidationTimeout.TotalSeconds:0} s");
                await Task.Delay(timings.PollInterval, time, ct);
                authorization = await client.AuthorizationAsync(key, kid, url, ct);
            }
            if (authorization.Status != "valid")
            {
                var failed = authorization.Challenges.FirstOrDefault(c => c.Url == challenge.Url)?.Error ?? authorization.Error;
                throw new AcmeException($"the {challenge.Type} validation of {authorization.Domain} failed: {authorization.Status}{Because(failed)}");
            }
        }
        finally
        {
            await challenges.WithdrawAsync(kind, name, CancellationToken.None);
        }
    }

    private async Task<AcmeOrder> PollOrderAsync(AcmeClient client, AcmeAccountKey key, string kid, AcmeOrder order, string waitingStatus, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = time.GetUtcNow() + timeout;
        order = await client.OrderAsync(key, kid, order.Url, ct);
        while (order.Status == waitingStatus)
        {
            if (time.GetUtcNow() > deadline) throw new AcmeException($"the order stayed {waitingStatus} for {timeout.TotalSeconds:0} s");
            await Task.Delay(TimeSpan.FromMilliseconds(250), time, ct);
            order = await client.OrderAsync(key, kid, order.Url, ct);
        }
        return order;
    }

    /// <summary>The certificate's key, by Traefik's keyType names.</summary>
    private static AsymmetricAlgorithm CreateKey(string keyType) => keyType.ToUpperInvariant() switch
    {
        "EC256" => ECDsa.Create(ECCurve.NamedCurves.nistP256),
        "EC384" => ECDsa.Create(ECCurve.NamedCurves.nistP384),
        "RSA2048" => RSA.Create(2048),
        "RSA3072" => RSA.Create(3072),
        "RSA4096" => RSA.Create(4096),
        "RSA8192" => RSA.Create(8192),
        _ => throw new AcmeException($"keyType {keyType} is not one of EC256, EC384, RSA2048, RSA3072, RSA4096, RSA8192"),
    };

    /// <summary>A PKCS#10 request for the domains: the main one as the subject's CN, all of them as SANs.</summary>
    private static byte[] CreateCsr(AsymmetricAlgorithm key, IReadOnlyList<string> domains)
    {
        var subject = new X500DistinguishedNameBuilder();
        subject.AddCommonName(domains[0]);
        var request = key is RSA rsa
            ? new CertificateRequest(subject.Build(), rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            : new CertificateRequest(subject.Build(), (ECDsa)key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        foreach (var domain in domains) names.AddDnsName(domain);
        request.CertificateExtensions.Add(names.Build());
        return request.CreateSigningRequest();
    }

    private static string Because(string? problem) => problem is null ? "" : ": " + problem;
}
