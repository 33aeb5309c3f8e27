using System.Buffers;
using System.Text.Json;
using AgenticGateway.OpenAi;

namespace AgenticGateway.Providers.Anthropic.Inbound;

/// <summary>
/// Writes gateway errors in Anthropic's shape, <c>{"type":"error","error":{"type","message"}}</c>, for clients of the
/// Anthropic-compatible <c>/v1/messages</c> endpoint (the Anthropic SDKs switch on <c>error.type</c>).
/// </summary>
/// <remarks>
/// Status to type follows https://docs.claude.com/en/api/errors: 400 invalid_request_error (also "other 4XX status
/// codes not listed"), 401 authentication_error, 402 billing_error, 403 permission_error, 404 not_found_error,
/// 413 request_too_large, 429 rate_limit_error, 500 api_error, 504 timeout_error, 529 overloaded_error. The gateway's
/// own 503 (every deployment down or cooling) is reported as overloaded_error, the type Anthropic uses for "try again
/// shortly"; the HTTP status itself is left as the gateway chose it (the SDKs retry 429 and any 5xx alike).
/// </remarks>
internal static class AnthropicErrors
{
    /// <summary>Anthropic's error type for an HTTP status.</summary>
    public static string TypeForStatus(int status) => status switch
    {
        400 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 or 529 => "overloaded_error",
        504 => "timeout_error",
        >= 400 and < 500 => "invalid_request_error",
        _ => "api_error",
    };

    /// <summary>
    /// Anthropic's error type for an error: the status decides, except that an error already typed the Anthropic way
    /// (the request converter's own errors, or an Anthropic upstream's) keeps its type.
    /// </summary>
    public static string TypeFor(ApiError error) => IsAnthropicType(error.Type) && error.Status == StatusForType(error.Type)
        ? error.Type
        : TypeForStatus(error.Status);

    /// <summary>
    /// Anthropic's error type for an error object found inside an OpenAI stream (<c>data: {"error":{...}}</c>), which
    /// carries no HTTP status: a numeric <c>code</c> or <c>status</c> is read as one, else the OpenAI type or code names it.
    /// </summary>
    public static string TypeForOpenAiError(string? type, string? code, int? status)
    {
        if (status is >= 400 and < 600) return TypeForStatus(status.Value);
        foreach (var name in (ReadOnlySpan<string?>)[code, type])
        {
            if (string.IsNullOrEmpty(name)) continue;
            if (IsAnthropicType(name)) return name;
            if (name.Contains("rate_limit", StringComparison.OrdinalIgnoreCase) || name == "insufficient_quota") return "rate_limit_error";
            if (name.Contains("overload", StringComparison.OrdinalIgnoreCase) || name.Contains("unavailable", StringComparison.OrdinalIgnoreCase)) return "overloaded_error";
            if (name.Contains("timeout", StringComparison.OrdinalIgnoreCase)) return "timeout_error";
            if (name.Contains("auth", StringComparison.OrdinalIgnoreCase) || name == "invalid_api_key") return "authentication_error";
            if (name.Contains("permission", StringComparison.OrdinalIgnoreCase)) return "permission_error";
            if (name.Contains("not_found", StringComparison.OrdinalIgnoreCase)) return "not_found_error";
            if (name.Contains("invalid", StringComparison.OrdinalIgnoreCase) || name.Contains("context_length", StringComparison.OrdinalIgnoreCase)) return "invalid_request_error";
        }
        return "api_error";
    }

    /// <summary>Writes the JSON error body.</summary>
    public static void Write(IBufferWriter<byte> output, ApiError error, string? requestId = null) =>
        WriteBody(output, TypeFor(error), error.Message, requestId);

    /// <summary>The JSON error body as bytes.</summary>
    public static byte[] ToJson(ApiError error, string? requestId = null)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        Write(buffer, error, requestId);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>An SSE <c>event: error</c> for a failure after the stream has started (the HTTP status is already 200).</summary>
    public static byte[] SseEvent(ApiError error)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        WriteSseEvent(buffer, TypeFor(error), error.Message);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Writes <c>event: error</c> with an Anthropic error type and message.</summary>
    public static void WriteSseEvent(IBufferWriter<byte> output, string type, string message)
    {
        output.Write("event: error\ndata: "u8);
        WriteBody(output, type, message, null);
        output.Write("\n\n"u8);
    }

    private static void WriteBody(IBufferWriter<byte> output, string type, string message, string? requestId)
    {
        using var w = new Utf8JsonWriter(output);
        w.WriteStartObject();
        w.WriteString("type", "error");
        w.WriteStartObject("error");
        w.WriteString("type", type);
        w.WriteString("message", message);
        w.WriteEndObject();
        if (requestId is not null) w.WriteString("request_id", requestId);
        w.WriteEndObject();
    }

    private static bool IsAnthropicType(string type) => Anthropic.AnthropicErrors.DocumentedStatus(type) is not null;

    private static int StatusForType(string type) => Anthropic.AnthropicErrors.DocumentedStatus(type) ?? 0;
}
