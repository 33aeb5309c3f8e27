using System.Text.Json;

namespace AgenticGateway.Providers.Translation;

/// <summary>How every translator opens a provider's response body.</summary>
internal static class ProviderJson
{
    /// <summary>JSON writer settings for OpenAI output: non-ASCII text kept readable, as OpenAI sends it.</summary>
    public static readonly JsonWriterOptions OpenAiWriterOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The string property <paramref name="name"/> of an object, or null (not an object, no such property, not a string).</summary>
    public static string? Str(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    /// <summary>
    /// Parses <paramref name="body"/> in place (the document reads the caller's memory; no copy of the body), or throws
    /// <see cref="InvalidDataException"/> starting with <paramref name="notJson"/>, which the pipeline turns into a 502.
    /// </summary>
    public static JsonDocument Parse(ReadOnlyMemory<byte> body, string notJson)
    {
        try { return JsonDocument.Parse(body); }
        catch (JsonException ex) { throw new InvalidDataException($"{notJson}: {ex.Message}", ex); }
    }
}
