using System.Security.Cryptography;
using System.Text;
using AgenticGateway.OpenAi;
using AgenticGateway.Runtime;

namespace AgenticGateway.Pipeline;

/// <summary>
/// Checks the caller's key. Accepts <c>Authorization: Bearer</c>, <c>x-api-key</c> and <c>api-key</c> (the headers
/// OpenAI, Anthropic and Azure clients send). Keys are compared as SHA-256 hashes in constant time.
/// </summary>
internal static class ClientAuth
{
    public static ApiError? Check(HttpRequest request, GatewayRuntime runtime)
    {
        var expected = runtime.MasterKeyHash;
        if (expected is null) return null;
        var presented = PresentedKey(request);
        if (presented is null)
            return new ApiError(401, "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.", "invalid_request_error", "missing_api_key");
        Span<byte> hash = stackalloc byte[32];
        var max = Encoding.UTF8.GetMaxByteCount(presented.Length);
        var bytes = max <= 512 ? stackalloc byte[max] : new byte[max];
        var written = Encoding.UTF8.GetBytes(presented, bytes);
        SHA256.HashData(bytes[..written], hash);
        return CryptographicOperations.FixedTimeEquals(hash, expected)
            ? null
            : new ApiError(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key");
    }

    public static string? PresentedKey(HttpRequest request)
    {
        var headers = request.Headers;
        var auth = headers.Authorization;
        if (auth.Count > 0)
        {
            var value = auth[0];
            if (value is not null && value.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return value[7..].Trim();
        }
        var key = headers["x-api-key"];
        if (key.Count > 0 && !string.IsNullOrEmpty(key[0])) return key[0];
        key = headers["api-key"];
        if (key.Count > 0 && !string.IsNullOrEmpty(key[0])) return key[0];
        return null;
    }
}
