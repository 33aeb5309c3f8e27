using System.Text;
using System.Text.Json;
using AgenticGateway.Providers.Translation;

namespace AgenticGateway.Providers.Anthropic;

/// <summary>
/// Anthropic's error bodies, <c>{"type":"error","error":{"type":"...","message":"..."},"request_id":"..."}</c>, in
/// HTTP responses and as the stream's <c>error</c> event. Its 529 <c>overloaded_error</c> is classified as 503.
/// </summary>
internal static class AnthropicErrors
{
    /// <summary>The HTTP status Anthropic documents for each error type (overloaded_error is 529), or null for another type.</summary>
    public static int? DocumentedStatus(string? type) => type switch
    {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "billing_error" => 402,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "api_error" => 500,
        "timeout_error" => 504,
        "overloaded_error" => 529,
        _ => null,
    };

    /// <summary>The status to classify an error type by: as documented, overloaded's 529 as 503, an unknown type as 500.</summary>
    public static int StatusOf(string? type) => DocumentedStatus(type) switch
    {
        529 => 503,
        { } status => status,
        null => 500,
    };

    public static ProviderError Read(int status, ReadOnlySpan<byte> body)
    {
        var (type, message) = Parse(body);
        var classified = status == 529 ? 503 : status;
        if (message is null)
        {
            var text = Encoding.UTF8.GetString(body).Trim();
            message = text.Length is > 0 and <= 500 && !text.StartsWith('<') ? text : $"Anthropic returned HTTP {status}.";
        }
        return new ProviderError(classified, message, type);
    }

    /// <summary>An <c>error</c> event inside a stream: the status comes from the error type, the HTTP status having been 200.</summary>
    public static ProviderError FromStreamEvent(JsonElement root)
    {
        var error = root.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.Object ? e : default;
        var type = error.ValueKind == JsonValueKind.Object ? AnthropicMessages.Str(error, "type") : null;
        var message = error.ValueKind == JsonValueKind.Object ? AnthropicMessages.Str(error, "message") : null;
        return new ProviderError(StatusOf(type), message ?? "Anthropic reported an error in the stream.", type);
    }

    private static (string? Type, string? Message) Parse(ReadOnlySpan<byte> body)
    {
        if (body.IsEmpty) return (null, null);
        try
        {
            using var document = JsonDocument.Parse(body.ToArray());
            var root = document.RootElement;
            // Vertex answers some failures (auth, quota) in Google's own shape, {"error":{"code":429,"message":..,"status":..}},
            // at times wrapped in an array.
            if (root.ValueKind == JsonValueKind.Array && root.GetArrayLength() > 0) root = root[0];
            if (root.ValueKind != JsonValueKind.Object) return (null, null);
            if (root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
                return (AnthropicMessages.Str(error, "type") ?? AnthropicMessages.Str(error, "status"), AnthropicMessages.Str(error, "message"));
            if (root.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String) return (null, m.GetString());
        }
        catch (JsonException)
        {
        }
        return (null, null);
    }
}
