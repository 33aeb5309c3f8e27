using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace AgenticGateway.Providers.Bedrock;

/// <summary>AWS credentials for one signature; the session token is sent as <c>x-amz-security-token</c>.</summary>
internal readonly record struct AwsCredentials(string AccessKeyId, string SecretAccessKey, string? SessionToken);

/// <summary>Signs an outgoing request for an AWS service. One implementation: <see cref="SigV4Signer"/>.</summary>
internal interface IAwsRequestSigner
{
    /// <summary>Adds <c>x-amz-date</c>, <c>host</c>, the session token and <c>Authorization</c> to <paramref name="request"/>.</summary>
    void Sign(HttpRequestMessage request, ReadOnlySpan<byte> body, AwsCredentials credentials, string region, string service, DateTimeOffset now);
}

/// <summary>
/// AWS Signature Version 4 (header form). Written here rather than taken from AWSSDK.Core: the SDK's
/// <c>AWS4Signer</c> signs its own <c>IRequest</c> pipeline type together with an <c>IClientConfig</c>, not an
/// <see cref="HttpRequestMessage"/>, so using it would mean building SDK request objects for every call. The
/// algorithm is small and checked against AWS's published SigV4 test-suite vectors.
/// </summary>
/// <remarks>
/// The canonical URI is the request path URI-encoded once more, segment by segment, as every AWS service except S3
/// expects. Bedrock model ids are path labels (<c>anthropic.claude-v2:1</c> goes out as <c>anthropic.claude-v2%3A1</c>),
/// so their canonical form is double-encoded (<c>%253A</c>), exactly as the AWS SDKs sign it.
/// </remarks>
internal sealed class SigV4Signer : IAwsRequestSigner
{
    public const string Algorithm = "AWS4-HMAC-SHA256";

    public void Sign(HttpRequestMessage request, ReadOnlySpan<byte> body, AwsCredentials credentials, string region, string service, DateTimeOffset now)
    {
        var uri = request.RequestUri ?? throw new InvalidOperationException("request has no URI");
        var host = uri.IsDefaultPort ? uri.IdnHost : uri.IdnHost + ":" + uri.Port.ToString(CultureInfo.InvariantCulture);
        var amzDate = now.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        request.Headers.Host = host;
        request.Headers.TryAddWithoutValidation("x-amz-date", amzDate);
        if (!string.IsNullOrEmpty(credentials.SessionToken)) request.Headers.TryAddWithoutValidation("x-amz-security-token", credentials.SessionToken);

        var headers = new List<KeyValuePair<string, string>>
        {
            new("host", host),
            new("x-amz-date", amzDate),
        };
        if (request.Content?.Headers.ContentType is { } contentType) headers.Add(new("content-type", contentType.ToString()));
        if (!string.IsNullOrEmpty(credentials.SessionToken)) headers.Add(new("x-amz-security-token", credentials.SessionToken));

        var authorization = Authorization(request.Method.Method, uri.AbsolutePath, uri.Query, headers, HexSha256(body), credentials, region, service, now);
        request.Headers.TryAddWithoutValidation("Authorization", authorization);
    }

    /// <summary>
    /// The Authorization header value for a request. <paramref name="path"/> is the path as it goes on the wire
    /// (already percent-encoded where it must be); <paramref name="query"/> is the raw query string, with or without '?'.
    /// </summary>
    public static string Authorization(string method, string path, string query, IReadOnlyList<KeyValuePair<string, string>> headers,
        string payloadHash, AwsCredentials credentials, string region, string service, DateTimeOffset now)
    {
        var date = now.UtcDateTime.ToString("yyyyMMdd", CultureInfo.InvariantCulture);
        var amzDate = now.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        var (canonicalRequest, signedHeaders) = CanonicalRequest(method, path, query, headers, payloadHash);
        var scope = $"{date}/{region}/{service}/aws4_request";
        var stringToSign = $"{Algorithm}\n{amzDate}\n{scope}\n{HexSha256(Encoding.UTF8.GetBytes(canonicalRequest))}";
        var key = SigningKey(credentials.SecretAccessKey, date, region, service);
        var signature = Convert.ToHexStringLower(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(stringToSign)));
        return $"{Algorithm} Credential={credentials.AccessKeyId}/{scope}, SignedHeaders={signedHeaders}, Signature={signature}";
    }

    /// <summary>The canonical request (task 1 of the signing process) and its signed-headers list.</summary>
    public static (string CanonicalRequest, string SignedHeaders) CanonicalRequest(string method, string path, string query,
        IReadOnlyList<KeyValuePair<string, string>> headers, string payloadHash)
    {
        var canonicalHeaders = headers
            .GroupBy(h => h.Key.ToLowerInvariant(), StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => (Name: g.Key, Value: string.Join(",", g.Select(h => TrimValue(h.Value)))))
            .ToList();
        var signedHeaders = string.Join(";", canonicalHeaders.Select(h => h.Name));
        var sb = new StringBuilder(256);
        sb.Append(method).Append('\n');
        sb.Append(CanonicalUri(path)).Append('\n');
        sb.Append(CanonicalQuery(query)).Append('\n');
        foreach (var (name, value) in canonicalHeaders) sb.Append(name).Append(':').Append(value).Append('\n');
        sb.Append('\n').Append(signedHeaders).Append('\n').Append(payloadHash);
        return (sb.ToString(), signedHeaders);
    }

    /// <summary>Each path segment URI-encoded (RFC 3986 unreserved characters kept); an empty path is "/".</summary>
    public static string CanonicalUri(string path)
    {
        if (string.IsNullOrEmpty(path)) return "/";
        return string.Join('/', path.Split('/').Select(UriEncode));
    }

    private static string CanonicalQuery(string query)
    {
        if (query.StartsWith('?')) query = query[1..];
        if (query.Length == 0) return "";
        return string.Join('&', query.Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(p =>
            {
                var eq = p.IndexOf('=');
                var name = Uri.UnescapeDataString(eq < 0 ? p : p[..eq]);
                var value = eq < 0 ? "" : Uri.UnescapeDataString(p[(eq + 1)..]);
                return (Name: UriEncode(name), Value: UriEncode(value));
            })
            .OrderBy(p => p.Name, StringComparer.Ordinal).ThenBy(p => p.Value, StringComparer.Ordinal)
            .Select(p => p.Name + "=" + p.Value));
    }

    /// <summary>AWS's UriEncode: every byte of the UTF-8 form percent-encoded (upper-case hex) except A-Z a-z 0-9 - _ . ~.</summary>
    public static string UriEncode(string value)
    {
        var sb = new StringBuilder(value.Length + 8);
        foreach (var b in Encoding.UTF8.GetBytes(value))
        {
            if (b is (>= (byte)'A' and <= (byte)'Z') or (>= (byte)'a' and <= (byte)'z') or (>= (byte)'0' and <= (byte)'9') or (byte)'-' or (byte)'_' or (byte)'.' or (byte)'~')
                sb.Append((char)b);
            else
                sb.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }

    public static string HexSha256(ReadOnlySpan<byte> data) => Convert.ToHexStringLower(SHA256.HashData(data));

    private static byte[] SigningKey(string secret, string date, string region, string service)
    {
        var key = HMACSHA256.HashData(Encoding.UTF8.GetBytes("AWS4" + secret), Encoding.UTF8.GetBytes(date));
        key = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(region));
        key = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(service));
        return HMACSHA256.HashData(key, "aws4_request"u8);
    }

    /// <summary>Leading and trailing spaces removed, inner runs of spaces collapsed to one.</summary>
    private static string TrimValue(string value)
    {
        var sb = new StringBuilder(value.Length);
        var space = false;
        foreach (var c in value.Trim())
        {
            if (c is ' ' or '\t')
            {
                if (!space) sb.Append(' ');
                space = true;
            }
            else
            {
                sb.Append(c);
                space = false;
            }
        }
        return sb.ToString();
    }
}
