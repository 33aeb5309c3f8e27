using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Microsoft.Net.Http.Headers;

namespace AgenticGateway.OpenAi;

/// <summary>
/// The gateway's errors as Anthropic's API writes them, for Anthropic-format clients:
/// <c>{"type":"error","error":{"type":"...","message":"..."}}</c>, with the error type Anthropic documents for each
/// status (docs.anthropic.com, "Errors").
/// </summary>
internal static class AnthropicErrorShape
{
    public static string TypeFor(int status) => status switch
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

    public static Task WriteAsync(HttpResponse response, ApiError error)
    {
        if (response.HasStarted) return Task.CompletedTask;
        response.StatusCode = error.Status;
        response.ContentType = "application/json";
        if (error.RetryAfterSeconds is { } retryAfter) response.Headers[HeaderNames.RetryAfter] = retryAfter.ToString(CultureInfo.InvariantCulture);
        var buffer = new ArrayBufferWriter<byte>(256);
        if (error is Pipeline.UpstreamApiError { RawBody: { } raw, RawIsAnthropic: true }) buffer.Write(raw);
        else Write(buffer, error);
        response.ContentLength = buffer.WrittenCount;
        return response.Body.WriteAsync(buffer.WrittenMemory).AsTask();
    }

    public static void Write(IBufferWriter<byte> output, ApiError error)
    {
        using var w = new Utf8JsonWriter(output);
        w.WriteStartObject();
        w.WriteString("type", "error");
        w.WriteStartObject("error");
        w.WriteString("type", TypeFor(error.Status));
        w.WriteString("message", error.Message);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>An <c>event: error</c> for failures after a stream has started, as Anthropic sends them.</summary>
    public static byte[] SseEvent(ApiError error)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        buffer.Write("event: error\ndata: "u8);
        Write(buffer, error);
        buffer.Write("\n\n"u8);
        return buffer.WrittenSpan.ToArray();
    }
}
