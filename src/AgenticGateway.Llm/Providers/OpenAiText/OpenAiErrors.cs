using System.Text;
using System.Text.Json;
using AgenticGateway.Providers.Translation;

namespace AgenticGateway.Providers.OpenAiText;

/// <summary>OpenAI's error body, <c>{"error":{"message","type","param","code"}}</c>; anything else is kept as text.</summary>
internal static class OpenAiErrors
{
    public static ProviderError Read(int status, ReadOnlySpan<byte> body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body.ToArray());
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.Object)
            {
                var message = ProviderJson.Str(e, "message") ?? $"HTTP {status}";
                return new ProviderError(status, message, ProviderJson.Str(e, "code") ?? ProviderJson.Str(e, "type"));
            }
        }
        catch (JsonException)
        {
        }
        var text = Encoding.UTF8.GetString(body).Trim();
        if (text.Length > 500) text = text[..500];
        return new ProviderError(status, text.Length > 0 ? text : $"The provider returned HTTP {status}.", null);
    }
}
