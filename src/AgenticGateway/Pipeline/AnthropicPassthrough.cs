using System.Text.Json;
using AgenticGateway.Providers.Translation;
using AgenticGateway.Routing;

namespace AgenticGateway.Pipeline;

/// <summary>
/// An Anthropic-format request to an Anthropic deployment goes as it came: the client's bytes with only the model
/// replaced, so every field (including ones newer than this gateway) reaches Anthropic. The client's
/// <c>anthropic-version</c> and <c>anthropic-beta</c> headers go along; the key is the deployment's.
/// </summary>
internal static class AnthropicPassthrough
{
    public const string DefaultVersion = "2023-06-01";

    public static HttpRequestMessage Build(LlmExchange x, Deployment d, byte[] modelToken)
    {
        var body = x.Body.Memory;
        var sameModel = body.Span[x.Request.ModelStart..x.Request.ModelEnd].SequenceEqual(modelToken);
        var request = new HttpRequestMessage(HttpMethod.Post, MessagesUri(d, countTokens: false))
        {
            Content = new UpstreamContent(body, x.Request.ModelStart, x.Request.ModelEnd, sameModel ? null : modelToken),
        };
        AddHeaders(request, x.Http.Request, d);
        return request;
    }

    public static Uri MessagesUri(Deployment d, bool countTokens) =>
        new(d.Options.ApiBase.ToString().TrimEnd('/') + (countTokens ? "/v1/messages/count_tokens" : "/v1/messages"));

    public static void AddHeaders(HttpRequestMessage request, HttpRequest client, Deployment d)
    {
        if (d.Options.ApiKey.IsSet) request.Headers.TryAddWithoutValidation("x-api-key", d.Options.ApiKey.Value);
        var version = client.Headers["anthropic-version"];
        request.Headers.TryAddWithoutValidation("anthropic-version", version.Count > 0 ? version.ToString() : DefaultVersion);
        var beta = client.Headers["anthropic-beta"];
        if (beta.Count > 0) request.Headers.TryAddWithoutValidation("anthropic-beta", beta.ToString());
    }

    /// <summary>
    /// Anthropic's <c>{"type":"error","error":{"type","message"}}</c>: the message kept, 529 overloaded treated as
    /// 503 so that retries, cooldowns and fallbacks see an unavailable provider.
    /// </summary>
    public static ProviderError ReadError(int status, ReadOnlySpan<byte> body)
    {
        string? message = null, type = null;
        try
        {
            var reader = new Utf8JsonReader(body);
            using var doc = JsonDocument.ParseValue(ref reader);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.Object)
            {
                if (e.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String) message = m.GetString();
                if (e.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String) type = t.GetString();
            }
        }
        catch (JsonException)
        {
            message = System.Text.Encoding.UTF8.GetString(body[..Math.Min(body.Length, 512)]).Trim();
        }
        var effective = status == 529 || type == "overloaded_error" ? 503 : status;
        return new ProviderError(effective, string.IsNullOrEmpty(message) ? $"upstream returned HTTP {status}" : message, type);
    }
}
