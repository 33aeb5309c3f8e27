using System.Buffers;
using System.Globalization;
using AgenticGateway.Providers.Anthropic.Inbound;
using Microsoft.Net.Http.Headers;

namespace AgenticGateway.OpenAi;

/// <summary>Writes the gateway's errors to Anthropic-format clients in Anthropic's shape (see <see cref="AnthropicErrors"/>).</summary>
internal static class AnthropicErrorShape
{
    public static Task WriteAsync(HttpResponse response, ApiError error)
    {
        if (response.HasStarted) return Task.CompletedTask;
        response.StatusCode = error.Status;
        response.ContentType = "application/json";
        if (error.RetryAfterSeconds is { } retryAfter) response.Headers[HeaderNames.RetryAfter] = retryAfter.ToString(CultureInfo.InvariantCulture);
        var buffer = new ArrayBufferWriter<byte>(256);
        // An Anthropic deployment's own error body goes to an Anthropic-format client as it came.
        if (error is Pipeline.UpstreamApiError { RawBody: { } raw, RawIsAnthropic: true }) buffer.Write(raw);
        else AnthropicErrors.Write(buffer, error);
        response.ContentLength = buffer.WrittenCount;
        return response.Body.WriteAsync(buffer.WrittenMemory).AsTask();
    }

    /// <summary>An <c>event: error</c> for failures after a stream has started, as Anthropic sends them.</summary>
    public static byte[] SseEvent(ApiError error) => AnthropicErrors.SseEvent(error);
}
