using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AgenticGateway.Configuration;

namespace AgenticGateway.Providers.Google;

/// <summary>
/// OAuth access tokens for Vertex AI. A deployment's api_key, when set, is taken as a ready access token. Otherwise
/// its vertex_credentials (a service-account JSON document, or a path to one) sign a JWT (RS256, scope
/// cloud-platform, audience the key's token_uri) that is exchanged at token_uri with the jwt-bearer grant
/// (Google's OAuth 2.0 for service accounts). An authorized_user document (gcloud's application default
/// credentials) is exchanged with its refresh token instead. Tokens are cached per credential until shortly before
/// they expire, and a refresh is single-flight: concurrent requests wait for one exchange.
/// </summary>
/// <remarks>
/// Failures (unreadable credentials, token endpoint unreachable or refusing) throw <see cref="HttpRequestException"/>,
/// as a connection failure to the provider would, so the request can fail over to another deployment.
/// </remarks>
internal sealed class VertexTokenSource(HttpMessageInvoker http, TimeProvider? time = null)
{
    public const string Scope = "https://www.googleapis.com/auth/cloud-platform";
    public const string JwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer";
    private const string DefaultTokenUri = "https://oauth2.googleapis.com/token";
    /// <summary>Google access tokens live an hour; refreshing five minutes early keeps in-flight requests valid.</summary>
    private static readonly TimeSpan RefreshMargin = TimeSpan.FromMinutes(5);

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly ConcurrentDictionary<string, Entry> _cache = new(StringComparer.Ordinal);

    private sealed class Entry
    {
        public readonly SemaphoreSlim Gate = new(1, 1);
        public string? Token;
        public DateTimeOffset RefreshAt;
    }

    /// <summary>The token delegate for one deployment, as <see cref="GeminiTranslator"/> takes it.</summary>
    public Func<CancellationToken, ValueTask<string>> ForDeployment(DeploymentOptions deployment) => ct => GetTokenAsync(deployment, ct);

    public async ValueTask<string> GetTokenAsync(DeploymentOptions deployment, CancellationToken cancellationToken)
    {
        if (deployment.ApiKey.IsSet) return deployment.ApiKey.Value!;
        var credentials = deployment.Cloud.VertexCredentials;
        if (!credentials.IsSet)
            throw new HttpRequestException($"Deployment {deployment.Id}: Vertex AI needs vertex_credentials (or GOOGLE_APPLICATION_CREDENTIALS) or an access token as api_key.");
        var entry = _cache.GetOrAdd(credentials.Value!, static _ => new Entry());
        if (entry.Token is { } cached && _time.GetUtcNow() < entry.RefreshAt) return cached;
        await entry.Gate.WaitAsync(cancellationToken);
        try
        {
            if (entry.Token is { } fresh && _time.GetUtcNow() < entry.RefreshAt) return fresh;
            var (token, lifetime) = await ExchangeAsync(ReadCredentials(credentials.Value!), cancellationToken);
            var margin = lifetime > RefreshMargin * 2 ? RefreshMargin : lifetime / 2;
            entry.RefreshAt = _time.GetUtcNow() + lifetime - margin;
            entry.Token = token;
            return token;
        }
        finally
        {
            entry.Gate.Release();
        }
    }

    /// <summary>vertex_credentials holds either the JSON document itself or a path to it.</summary>
    private static JsonDocument ReadCredentials(string value)
    {
        var text = value.TrimStart();
        try
        {
            if (!text.StartsWith('{')) text = File.ReadAllText(value);
            return JsonDocument.Parse(text);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException or ArgumentException or NotSupportedException)
        {
            throw new HttpRequestException("Vertex AI credentials could not be read: " + ex.Message, ex);
        }
    }

    private async Task<(string Token, TimeSpan Lifetime)> ExchangeAsync(JsonDocument credentials, CancellationToken cancellationToken)
    {
        using (credentials)
        {
            var root = credentials.RootElement;
            var type = Str(root, "type") ?? "service_account";
            var tokenUri = Str(root, "token_uri") ?? DefaultTokenUri;
            Dictionary<string, string> form;
            if (type == "authorized_user")
            {
                form = new()
                {
                    ["grant_type"] = "refresh_token",
                    ["client_id"] = Str(root, "client_id") ?? "",
                    ["client_secret"] = Str(root, "client_secret") ?? "",
                    ["refresh_token"] = Str(root, "refresh_token") ?? throw new HttpRequestException("Vertex AI credentials: authorized_user without refresh_token."),
                };
            }
            else
            {
                var email = Str(root, "client_email") ?? throw new HttpRequestException("Vertex AI credentials: service account without client_email.");
                var key = Str(root, "private_key") ?? throw new HttpRequestException("Vertex AI credentials: service account without private_key.");
                form = new() { ["grant_type"] = JwtBearerGrant, ["assertion"] = SignJwt(email, key, Str(root, "private_key_id"), tokenUri, _time.GetUtcNow()) };
            }

            using var request = new HttpRequestMessage(HttpMethod.Post, tokenUri) { Content = new FormUrlEncodedContent(form) };
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            using var response = await http.SendAsync(request, cancellationToken);
            var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
            if (!response.IsSuccessStatusCode)
                throw new HttpRequestException($"Vertex AI token exchange at {tokenUri} failed with HTTP {(int)response.StatusCode}: {Encoding.UTF8.GetString(body.AsSpan(0, Math.Min(body.Length, 300)))}", null, response.StatusCode);
            try
            {
                using var doc = JsonDocument.Parse(body);
                var token = Str(doc.RootElement, "access_token") ?? throw new HttpRequestException("Vertex AI token exchange answered without access_token.");
                var seconds = doc.RootElement.TryGetProperty("expires_in", out var e) && e.ValueKind == JsonValueKind.Number ? e.GetDouble() : 3600;
                return (token, TimeSpan.FromSeconds(Math.Max(1, seconds)));
            }
            catch (JsonException ex)
            {
                throw new HttpRequestException("Vertex AI token exchange answered with a body that is not JSON.", ex);
            }
        }
    }

    /// <summary>The self-signed assertion: RS256 over base64url(header).base64url(claims), valid for an hour.</summary>
    internal static string SignJwt(string clientEmail, string privateKeyPem, string? keyId, string audience, DateTimeOffset now)
    {
        var iat = now.ToUnixTimeSeconds();
        var header = Json(w =>
        {
            w.WriteString("alg", "RS256");
            w.WriteString("typ", "JWT");
            if (keyId is not null) w.WriteString("kid", keyId);
        });
        var claims = Json(w =>
        {
            w.WriteString("iss", clientEmail);
            w.WriteString("scope", Scope);
            w.WriteString("aud", audience);
            w.WriteNumber("iat", iat);
            w.WriteNumber("exp", iat + 3600);
        });
        var signingInput = Base64Url(header) + "." + Base64Url(claims);
        using var rsa = RSA.Create();
        try { rsa.ImportFromPem(privateKeyPem); }
        catch (ArgumentException ex) { throw new HttpRequestException("Vertex AI credentials: private_key is not a PEM RSA key.", ex); }
        var signature = rsa.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return signingInput + "." + Base64Url(signature);
    }

    private static byte[] Json(Action<Utf8JsonWriter> write)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            write(w);
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    internal static string Base64Url(ReadOnlySpan<byte> data) => Convert.ToBase64String(data).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
