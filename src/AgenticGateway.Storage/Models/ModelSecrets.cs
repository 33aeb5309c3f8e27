using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using AgenticGateway.Configuration;

namespace AgenticGateway.Models;

/// <summary>A stored model's credential that cannot be stored (no key to encrypt it with) or read back (the key changed).</summary>
internal sealed class ModelSecretsException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Encrypts the credentials in a stored model's litellm_params (api_key, aws_secret_access_key, an Authorization
/// header: <see cref="SecretFields"/>) with AES-GCM before they reach the database, as LiteLLM encrypts its model
/// table. The key comes from LITELLM_SALT_KEY (or AGW_SALT_KEY), else from the master key, so replicas that share the
/// database and the master key read each other's models. <c>os.environ/NAME</c> references are kept as they are: they
/// name a secret, each replica resolves them from its own environment.
/// </summary>
/// <param name="keySource">The current key material (the salt key, or the master key, which a reload may change); null when there is none.</param>
internal sealed class ModelSecrets(Func<string?> keySource)
{
    private const string Prefix = "agw-enc:v1:";
    private const int NonceSize = 12;
    private const int TagSize = 16;

    /// <summary>The salt key from the environment (LiteLLM's name first), or null.</summary>
    public static string? SaltKeyFromEnvironment() =>
        new[] { "LITELLM_SALT_KEY", "AGW_SALT_KEY" }.Select(Environment.GetEnvironmentVariable).FirstOrDefault(v => !string.IsNullOrEmpty(v));

    /// <summary>litellm_params with every literal credential encrypted.</summary>
    /// <exception cref="ModelSecretsException">A credential is given but there is no key to encrypt it with.</exception>
    public string Protect(string litellmParams)
    {
        var node = JsonNode.Parse(litellmParams)!;
        Walk(node, sensitive: false, value =>
        {
            if (value.StartsWith(SecretFields.EnvironmentReference, StringComparison.Ordinal) || value.StartsWith(Prefix, StringComparison.Ordinal)) return value;
            return Prefix + Convert.ToBase64String(Encrypt(Key() ?? throw new ModelSecretsException(
                "storing a provider credential in the database needs a key to encrypt it with: set LITELLM_SALT_KEY (or a master key), "
                + "or pass the credential as os.environ/NAME"), Encoding.UTF8.GetBytes(value)));
        });
        return node.ToJsonString();
    }

    /// <summary>litellm_params as they were given, credentials decrypted.</summary>
    /// <exception cref="ModelSecretsException">A credential cannot be decrypted (the salt or master key changed).</exception>
    public string Unprotect(string stored)
    {
        if (!stored.Contains(Prefix, StringComparison.Ordinal)) return stored;
        var node = JsonNode.Parse(stored)!;
        Walk(node, sensitive: false, value =>
        {
            if (!value.StartsWith(Prefix, StringComparison.Ordinal)) return value;
            var key = Key() ?? throw new ModelSecretsException("a stored credential is encrypted but neither LITELLM_SALT_KEY nor a master key is set");
            try { return Encoding.UTF8.GetString(Decrypt(key, Convert.FromBase64String(value[Prefix.Length..]))); }
            catch (Exception ex) when (ex is CryptographicException or FormatException or ArgumentException)
            {
                throw new ModelSecretsException("a stored credential cannot be decrypted: LITELLM_SALT_KEY or the master key is not the one it was stored with", ex);
            }
        });
        return node.ToJsonString();
    }

    /// <summary>Replaces the string values under sensitive keys, at any depth (extra_headers.Authorization too).</summary>
    private static void Walk(JsonNode? node, bool sensitive, Func<string, string> replace)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (name, child) in o.ToList())
                {
                    var isSecret = SecretFields.IsSensitive(name);
                    if (isSecret && child is JsonValue v && v.TryGetValue<string>(out var text) && text.Length > 0) o[name] = replace(text);
                    else Walk(child, isSecret, replace);
                }
                break;
            case JsonArray a:
                for (var i = 0; i < a.Count; i++)
                {
                    if (sensitive && a[i] is JsonValue v && v.TryGetValue<string>(out var text) && text.Length > 0) a[i] = replace(text);
                    else Walk(a[i], sensitive, replace);
                }
                break;
        }
    }

    private byte[]? Key() => keySource() is { Length: > 0 } material ? SHA256.HashData(Encoding.UTF8.GetBytes("agentic-gateway stored model credentials\n" + material)) : null;

    private static byte[] Encrypt(byte[] key, byte[] plain)
    {
        var result = new byte[NonceSize + plain.Length + TagSize];
        var nonce = result.AsSpan(0, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(key, TagSize);
        aes.Encrypt(nonce, plain, result.AsSpan(NonceSize, plain.Length), result.AsSpan(NonceSize + plain.Length));
        return result;
    }

    private static byte[] Decrypt(byte[] key, byte[] sealedBytes)
    {
        if (sealedBytes.Length < NonceSize + TagSize) throw new CryptographicException("too short");
        var plain = new byte[sealedBytes.Length - NonceSize - TagSize];
        using var aes = new AesGcm(key, TagSize);
        aes.Decrypt(sealedBytes.AsSpan(0, NonceSize), sealedBytes.AsSpan(NonceSize, plain.Length), sealedBytes.AsSpan(NonceSize + plain.Length), plain);
        return plain;
    }
}
