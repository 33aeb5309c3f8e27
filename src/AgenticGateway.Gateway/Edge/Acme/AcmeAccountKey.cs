using System.Buffers;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace AgenticGateway.Edge.Acme;

/// <summary>
/// An ACME account's key (ECDSA P-256, signing ES256) and the JSON Web Signatures of RFC 8555 §6.2 made with it: the
/// protected header carries the nonce, the URL and either the public key (<c>jwk</c>, for newAccount) or the account
/// URL (<c>kid</c>, every other request). The signature is r||s, 64 bytes (RFC 7518 §3.4), .NET's default format.
/// </summary>
internal sealed class AcmeAccountKey : IDisposable
{
    private readonly ECDsa _key;

    private AcmeAccountKey(ECDsa key)
    {
        _key = key;
        var p = key.ExportParameters(includePrivateParameters: false);
        X = Base64Url.EncodeToString(p.Q.X);
        Y = Base64Url.EncodeToString(p.Q.Y);
        // RFC 7638: the thumbprint hashes the required members only, in lexicographic order, with no whitespace.
        Thumbprint = Base64Url.EncodeToString(SHA256.HashData(Encoding.UTF8.GetBytes($$"""{"crv":"P-256","kty":"EC","x":"{{X}}","y":"{{Y}}"}""")));
    }

    private string X { get; }
    private string Y { get; }

    /// <summary>The JWK thumbprint (base64url), the second half of every key authorization.</summary>
    public string Thumbprint { get; }

    public static AcmeAccountKey Generate() => new(ECDsa.Create(ECCurve.NamedCurves.nistP256));

    /// <exception cref="AcmeException">The PEM is not a P-256 private key.</exception>
    public static AcmeAccountKey FromPem(string pem)
    {
        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(pem);
            if (key.KeySize != 256) throw new AcmeException("the stored ACME account key is not a P-256 key");
            return new AcmeAccountKey(key);
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            key.Dispose();
            throw new AcmeException("the stored ACME account key cannot be read: " + e.Message, e);
        }
    }

    public string ToPem() => _key.ExportPkcs8PrivateKeyPem();

    /// <summary>The key authorization for a challenge token (RFC 8555 §8.1).</summary>
    public string KeyAuthorization(string token) => token + "." + Thumbprint;

    /// <summary>
    /// A flattened JWS JSON body. <paramref name="payload"/> null is POST-as-GET (an empty payload, §6.3);
    /// <paramref name="accountUrl"/> null signs with the public key embedded (jwk) instead of the kid.
    /// </summary>
    public byte[] Sign(string url, string nonce, string? accountUrl, ReadOnlySpan<byte> payload, bool postAsGet)
    {
        var header = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(header))
        {
            w.WriteStartObject();
            w.WriteString("alg", "ES256");
            if (accountUrl is null)
            {
                w.WriteStartObject("jwk");
                w.WriteString("crv", "P-256");
                w.WriteString("kty", "EC");
                w.WriteString("x", X);
                w.WriteString("y", Y);
                w.WriteEndObject();
            }
            else
            {
                w.WriteString("kid", accountUrl);
            }
            w.WriteString("nonce", nonce);
            w.WriteString("url", url);
            w.WriteEndObject();
        }
        var protectedPart = Base64Url.EncodeToString(header.WrittenSpan);
        var payloadPart = postAsGet ? "" : Base64Url.EncodeToString(payload);
        var signature = _key.SignData(Encoding.ASCII.GetBytes(protectedPart + "." + payloadPart), HashAlgorithmName.SHA256);

        var body = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(body))
        {
            w.WriteStartObject();
            w.WriteString("protected", protectedPart);
            w.WriteString("payload", payloadPart);
            w.WriteString("signature", Base64Url.EncodeToString(signature));
            w.WriteEndObject();
        }
        return body.WrittenSpan.ToArray();
    }

    public void Dispose() => _key.Dispose();
}
