using System.Text;
using System.Text.Json;
using AgenticGateway.Providers.Translation;

namespace AgenticGateway.Providers.Cohere;

/// <summary>
/// Reads Cohere's error body, <c>{"id":"...","message":"..."}</c> (every error status in cohere-openapi.yaml). Cohere's
/// own statuses 498 (invalid token) and 499 (request cancelled) are classified as 401 and 408.
/// </summary>
internal static class CohereErrors
{
    public static ProviderError Read(int status, ReadOnlySpan<byte> body)
    {
        var classified = status switch { 498 => 401, 499 => 408, _ => status };
        try
        {
            using var doc = JsonDocument.Parse(body.ToArray());
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String)
                return new ProviderError(classified, m.GetString()!, null);
            // Servers that speak Cohere's rerank shape but FastAPI's errors (Jina) or OpenAI's (vLLM).
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("detail", out var d))
                return new ProviderError(classified, d.ValueKind == JsonValueKind.String ? d.GetString()! : d.GetRawText(), null);
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.Object
                && e.TryGetProperty("message", out var em) && em.ValueKind == JsonValueKind.String)
                return new ProviderError(classified, em.GetString()!, e.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null);
        }
        catch (JsonException)
        {
        }
        var text = Encoding.UTF8.GetString(body).Trim();
        if (text.Length > 500) text = text[..500];
        return new ProviderError(classified, text.Length > 0 ? text : $"The provider returned HTTP {status}.", null);
    }
}
