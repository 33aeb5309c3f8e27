using System.Collections.Immutable;
using System.Formats.Asn1;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using AgenticGateway.Edge;
using AgenticGateway.Edge.Acme;
using AgenticGateway.Storage;
using AgenticGateway.Tests.Support;
using Microsoft.AspNetCore.Http;

namespace AgenticGateway.Tests.Edge.Acme;

/// <summary>
/// The ACME parts without a CA: which certificates the routers ask for (tls.domains, entry point defaults, duplicates,
/// IDN, and the problems: unknown resolver, wildcard without DNS-01), when a certificate is due for renewal, the JWS a
/// request carries, the HTTP-01 answer and the TLS-ALPN-01 certificate (RFC 8737's acmeIdentifier).
/// </summary>
[Trait("Category", "unit")]
public sealed class AcmeUnitTests : IDisposable
{
    private readonly string _data = Directory.CreateTempSubdirectory("agw-acme-unit-").FullName;

    public void Dispose() => LocalServers.DeleteDirectory(_data);

    private static readonly EdgeStaticConfig Statics = AcmeReplica.Static(AcmeReplica.Resolver("https://ca.test/dir", null, http: true, tls: false));

    [Fact]
    public void Each_tls_domains_entry_is_one_certificate_main_first_normalized_and_deduplicated()
    {
        var dynamic = AcmeReplica.Routers(("a", "le", ["App.Example.com.", "www.example.com", "app.example.com"]), ("b", "le", ["Bücher.example"]), ("c", "le", ["app.example.com", "www.example.com"]));
        var problems = new List<string>();
        var wanted = AcmeDomains.Wanted(dynamic, Statics, problems);
        Assert.Empty(problems);
        Assert.Equal(["app.example.com,www.example.com", "xn--bcher-kva.example"], wanted.Select(w => w.Key).Order(StringComparer.Ordinal));
        Assert.All(wanted, w => Assert.Equal("le", w.Resolver.Name));
    }

    [Fact]
    public void An_unknown_resolver_a_wildcard_and_a_bad_name_are_reported_with_the_router()
    {
        var dynamic = AcmeReplica.Routers(("nores", "missing", ["a.example.com"]), ("wild", "le", ["*.example.com", "b.example.com"]), ("bad", "le", ["exa mple.com"]));
        var problems = new List<string>();
        var wanted = AcmeDomains.Wanted(dynamic, Statics, problems);
        Assert.Equal(["b.example.com"], wanted.Select(w => w.Key));
        Assert.Contains("router nores: certResolver missing is not defined in certificatesResolvers", problems);
        Assert.Contains("router wild: the wildcard domain *.example.com needs the DNS-01 challenge, which certResolver le does not have (not supported)", problems);
        Assert.Contains("router bad: 'exa mple.com' is not a domain name", problems);
    }

    [Fact]
    public void A_router_without_tls_takes_its_entry_points_default_tls_and_a_passthrough_tcp_router_asks_for_nothing()
    {
        var entryPoint = new EntryPointConfig("websecure", ":443", new IPEndPoint(IPAddress.Any, 443), false, false, null,
            new RouterTlsConfig(null, "le", [new TlsDomain("ep.example.com", ["ep2.example.com"])]), [], TimeSpan.Zero, TimeSpan.Zero,
            TimeSpan.FromMinutes(3), TimeSpan.FromSeconds(10), TrustedIpsConfig.None, null, null, TimeSpan.FromSeconds(3), "entryPoints.websecure");
        var statics = Statics with { EntryPoints = ImmutableDictionary.CreateRange(StringComparer.Ordinal, [KeyValuePair.Create("websecure", entryPoint)]) };
        var router = new HttpRouterConfig("plain", "Host(`ep.example.com`)", null!, 0, ["websecure"], [], "svc", null, "http.routers.plain");
        var tcp = new TcpRouterConfig("pass", "HostSNI(`pass.example.com`)", null!, 0, ["websecure"], [], "svc",
            new RouterTlsConfig(null, "le", [new TlsDomain("pass.example.com", [])], Passthrough: true), "tcp.routers.pass");
        var dynamic = EdgeDynamicConfig.Empty with
        {
            Http = HttpSection.Empty with { Routers = ImmutableDictionary.CreateRange(StringComparer.Ordinal, [KeyValuePair.Create("plain", router)]) },
            Tcp = TcpSection.Empty with { Routers = ImmutableDictionary.CreateRange(StringComparer.Ordinal, [KeyValuePair.Create("pass", tcp)]) },
        };
        var problems = new List<string>();
        Assert.Equal(["ep.example.com,ep2.example.com"], AcmeDomains.Wanted(dynamic, statics, problems).Select(w => w.Key));
        Assert.Empty(problems);
    }

    [Fact]
    public void A_certificate_is_due_for_renewal_when_less_than_a_third_of_its_lifetime_is_left()
    {
        var notBefore = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var record = new AcmeCertificateRecord("le", "a.example.com", "", "", notBefore, notBefore.AddDays(90), notBefore);
        Assert.False(AcmeManager.DueForRenewal(record, notBefore.AddDays(60).AddMinutes(-1)));
        Assert.True(AcmeManager.DueForRenewal(record, notBefore.AddDays(60).AddMinutes(1)));
        Assert.True(AcmeManager.DueForRenewal(record, notBefore.AddDays(91)));
    }

    [Fact]
    public void A_request_is_a_flattened_JWS_signed_ES256_with_the_jwk_for_newAccount_and_the_kid_after()
    {
        using var key = AcmeAccountKey.Generate();
        var withJwk = Parse(key.Sign("https://ca.test/new-acct", "nonce-1", null, "{\"a\":1}"u8, postAsGet: false));
        var header = JsonDocument.Parse(Base64UrlDecode(withJwk.GetProperty("protected").GetString()!)).RootElement;
        Assert.Equal("ES256", header.GetProperty("alg").GetString());
        Assert.Equal("nonce-1", header.GetProperty("nonce").GetString());
        Assert.Equal("https://ca.test/new-acct", header.GetProperty("url").GetString());
        Assert.False(header.TryGetProperty("kid", out _));
        var jwk = header.GetProperty("jwk");
        Assert.Equal("EC", jwk.GetProperty("kty").GetString());
        Assert.Equal("P-256", jwk.GetProperty("crv").GetString());
        Assert.Equal("{\"a\":1}", Encoding.UTF8.GetString(Base64UrlDecode(withJwk.GetProperty("payload").GetString()!)));

        // The signature verifies with the public key in the jwk, over "protected.payload" (RFC 7515 §5.2).
        using var verifier = ECDsa.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            Q = new ECPoint { X = Base64UrlDecode(jwk.GetProperty("x").GetString()!), Y = Base64UrlDecode(jwk.GetProperty("y").GetString()!) },
        });
        var signature = Base64UrlDecode(withJwk.GetProperty("signature").GetString()!);
        Assert.Equal(64, signature.Length);
        Assert.True(verifier.VerifyData(Encoding.ASCII.GetBytes(withJwk.GetProperty("protected").GetString() + "." + withJwk.GetProperty("payload").GetString()), signature, HashAlgorithmName.SHA256));

        // The thumbprint (RFC 7638) hashes the jwk's required members in order; the key authorization appends it to the token.
        var canonical = $"{{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"{jwk.GetProperty("x").GetString()}\",\"y\":\"{jwk.GetProperty("y").GetString()}\"}}";
        Assert.Equal(System.Buffers.Text.Base64Url.EncodeToString(SHA256.HashData(Encoding.UTF8.GetBytes(canonical))), key.Thumbprint);
        Assert.Equal("tok." + key.Thumbprint, key.KeyAuthorization("tok"));

        // After newAccount: the kid, no jwk; POST-as-GET has an empty payload.
        var withKid = Parse(key.Sign("https://ca.test/order/1", "nonce-2", "https://ca.test/acct/7", [], postAsGet: true));
        var kidHeader = JsonDocument.Parse(Base64UrlDecode(withKid.GetProperty("protected").GetString()!)).RootElement;
        Assert.Equal("https://ca.test/acct/7", kidHeader.GetProperty("kid").GetString());
        Assert.False(kidHeader.TryGetProperty("jwk", out _));
        Assert.Equal("", withKid.GetProperty("payload").GetString());

        // The stored key comes back as the same key.
        using var reloaded = AcmeAccountKey.FromPem(key.ToPem());
        Assert.Equal(key.Thumbprint, reloaded.Thumbprint);
        Assert.Throws<AcmeException>(() => AcmeAccountKey.FromPem("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----"));
    }

    [Fact]
    public async Task HTTP01_answers_a_published_token_with_its_key_authorization_and_leaves_anything_else_to_the_routers()
    {
        var challenges = new AcmeChallenges(new AcmeStore(SqliteDatabase.ForDataDirectory(_data), TimeProvider.System), TimeProvider.System);
        var http = new AcmeHttpChallenge(challenges);
        await challenges.PublishAsync(AcmeChallenges.Http01, "tok_EN-1", "tok_EN-1.thumb", CancellationToken.None);

        var (answered, status, body) = await AskAsync(http, "GET", "/.well-known/acme-challenge/tok_EN-1");
        Assert.True(answered);
        Assert.Equal(200, status);
        Assert.Equal("tok_EN-1.thumb", body);
        Assert.False((await AskAsync(http, "GET", "/.well-known/acme-challenge/unknown")).Answered);
        Assert.False((await AskAsync(http, "GET", "/.well-known/acme-challenge/tok_EN-1/../x")).Answered);
        Assert.False((await AskAsync(http, "POST", "/.well-known/acme-challenge/tok_EN-1")).Answered);
        Assert.False((await AskAsync(http, "GET", "/other/tok_EN-1")).Answered);

        // Another replica (its own memory, the same store) answers it too; once withdrawn, nobody does.
        var replica = new AcmeHttpChallenge(new AcmeChallenges(new AcmeStore(SqliteDatabase.ForDataDirectory(_data), TimeProvider.System), TimeProvider.System));
        Assert.Equal("tok_EN-1.thumb", (await AskAsync(replica, "GET", "/.well-known/acme-challenge/tok_EN-1")).Body);
        await challenges.WithdrawAsync(AcmeChallenges.Http01, "tok_EN-1", CancellationToken.None);
        Assert.False((await AskAsync(http, "GET", "/.well-known/acme-challenge/tok_EN-1")).Answered);
    }

    [Fact]
    public async Task The_TLS_ALPN01_certificate_names_the_domain_and_carries_the_key_authorizations_digest_in_a_critical_acmeIdentifier()
    {
        var challenges = new AcmeChallenges(new AcmeStore(SqliteDatabase.ForDataDirectory(_data), TimeProvider.System), TimeProvider.System);
        var tls = new AcmeTlsChallenge(challenges);
        Assert.Null(tls.ChallengeCertificate("secure.example.com"));
        await challenges.PublishAsync(AcmeChallenges.TlsAlpn01, "secure.example.com", "token.thumb", CancellationToken.None);

        var certificate = tls.ChallengeCertificate("Secure.Example.com");
        Assert.NotNull(certificate);
        Assert.True(certificate.HasPrivateKey);
        Assert.Equal(["secure.example.com"], certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single().EnumerateDnsNames());
        var identifier = certificate.Extensions.Single(e => e.Oid?.Value == "1.3.6.1.5.5.7.1.31");
        Assert.True(identifier.Critical);
        Assert.Equal(SHA256.HashData("token.thumb"u8), new AsnReader(identifier.RawData, AsnEncodingRules.DER).ReadOctetString());
        Assert.Same(certificate, tls.ChallengeCertificate("secure.example.com"));
        Assert.Null(tls.ChallengeCertificate("other.example.com"));
        Assert.Null(tls.ChallengeCertificate("not a name"));
    }

    private static async Task<(bool Answered, int Status, string Body)> AskAsync(AcmeHttpChallenge http, string method, string path)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = method;
        context.Request.Path = path;
        var body = new MemoryStream();
        context.Response.Body = body;
        var answered = await http.TryAnswerAsync(context);
        return (answered, context.Response.StatusCode, Encoding.UTF8.GetString(body.ToArray()));
    }

    private static JsonElement Parse(byte[] body) => JsonDocument.Parse(body).RootElement;

    private static byte[] Base64UrlDecode(string text) => System.Buffers.Text.Base64Url.DecodeFromChars(text);
}
