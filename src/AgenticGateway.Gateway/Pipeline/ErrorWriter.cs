using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Microsoft.Net.Http.Headers;
using AgenticGateway.OpenAi;

namespace AgenticGateway.Pipeline;

/// <summary>Writes <see cref="ApiError"/>s as OpenAI-shaped JSON responses and as SSE error events.</summary>
internal static class ErrorWriter
{
    /// <param name="anthropic">Write it in Anthropic's shape, for Anthropic-format clients (/v1/messages).</param>
    public static Task WriteAsync(HttpResponse response, ApiError error, bool anthropic = false)
    {
        if (!Start(response, error)) return Task.CompletedTask;
        var buffer = new ArrayBufferWriter<byte>(256);
        // A provider's own error body goes as it came to a client of the same format.
        if (error is UpstreamApiError { RawBody: { } raw } upstream && upstream.RawIsAnthropic == anthropic) buffer.Write(raw);
        else if (anthropic) Providers.Anthropic.Inbound.AnthropicErrors.Write(buffer, error);
        else Write(buffer, error);
        return Finish(response, buffer);
    }

    /// <summary>The status and headers every error response has; false when the response has started (too late for one).</summary>
    private static bool Start(HttpResponse response, ApiError error)
    {
        if (response.HasStarted) return false;
        response.StatusCode = error.Status;
        response.ContentType = "application/json";
        if (error.RetryAfterSeconds is { } retryAfter) response.Headers[HeaderNames.RetryAfter] = retryAfter.ToString(CultureInfo.InvariantCulture);
        return true;
    }

    private static Task Finish(HttpResponse response, ArrayBufferWriter<byte> body)
    {
        response.ContentLength = body.WrittenCount;
        return response.Body.WriteAsync(body.WrittenMemory).AsTask();
    }

    /// <summary>
    /// The error as a JSON-RPC response (id null: the request was refused before its id was read), for MCP clients.
    /// The HTTP status stays what it is (401 for a missing key, 429 for a limit), which MCP clients act on; the code is
    /// JSON-RPC's Invalid Request for a client's fault and Internal Error for the gateway's, and data says which.
    /// </summary>
    public static Task WriteJsonRpcAsync(HttpResponse response, ApiError error)
    {
        if (!Start(response, error)) return Task.CompletedTask;
        if (error.Status == 401) response.Headers[HeaderNames.WWWAuthenticate] = BearerChallenge(response.HttpContext);
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("jsonrpc", "2.0");
            w.WriteNull("id");
            w.WriteStartObject("error");
            w.WriteNumber("code", error.Status >= 500 ? -32603 : -32600);
            w.WriteString("message", error.Message);
            w.WriteStartObject("data");
            w.WriteNumber("status", error.Status);
            w.WriteString("type", error.Type);
            if (error.Code is not null) w.WriteString("code", error.Code);
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return Finish(response, buffer);
    }

    /// <summary>
    /// The error as E2B's API writes it, <c>{"code": status, "message": ...}</c>, for the E2B-compatible routes (/e2b):
    /// its SDKs read the message from there.
    /// </summary>
    public static Task WriteCodeMessageAsync(HttpResponse response, ApiError error)
    {
        if (!Start(response, error)) return Task.CompletedTask;
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("code", error.Status);
            w.WriteString("message", error.Message);
            w.WriteEndObject();
        }
        return Finish(response, buffer);
    }

    /// <summary>
    /// A 401's challenge for MCP clients: with an authorization server to name (a JWT issuer), where the endpoint's
    /// protected resource metadata is (RFC 9728 §5.1), and the scopes to ask for when configured (MCP 2025-11-25,
    /// authorization); else plain Bearer.
    /// </summary>
    private static string BearerChallenge(HttpContext context)
    {
        var options = context.RequestServices.GetService<Runtime.RuntimeHolder>()?.Current.Options;
        if (options?.Jwt?.Issuer is not { Length: > 0 }) return "Bearer";
        var request = context.Request;
        var metadata = request.Scheme + "://" + request.Host.Value + request.PathBase.Value
            + Configuration.McpOptions.ResourceMetadataPath(context.GetRouteValue("server") as string);
        var challenge = $"Bearer resource_metadata=\"{metadata}\"";
        // scope is a quoted string of space-separated scope tokens, which hold no '"' or '\\' (RFC 6749 §3.3).
        if (options.Mcp.ScopesSupported.Length > 0) challenge += $", scope=\"{string.Join(' ', options.Mcp.ScopesSupported)}\"";
        return challenge;
    }

    public static void Write(IBufferWriter<byte> output, ApiError error)
    {
        using var w = new Utf8JsonWriter(output);
        w.WriteStartObject();
        w.WriteStartObject("error");
        w.WriteString("message", error.Message);
        w.WriteString("type", error.Type);
        if (error.Param is null) w.WriteNull("param"); else w.WriteString("param", error.Param);
        if (error.Code is null) w.WriteNull("code"); else w.WriteString("code", error.Code);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>An SSE event carrying the error, for failures after a stream has started.</summary>
    public static byte[] SseEvent(ApiError error)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        buffer.Write("data: "u8);
        Write(buffer, error);
        buffer.Write("\n\n"u8);
        return buffer.WrittenSpan.ToArray();
    }
}
