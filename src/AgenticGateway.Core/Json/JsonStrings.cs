using System.Text.Encodings.Web;
using System.Text.Json;

namespace AgenticGateway.Json;

/// <summary>The strings of a JSON value (object values and array items, depth first), read out and written back in order.</summary>
internal static class JsonStrings
{
    // Written as a client would read them back: a masked "<EMAIL_ADDRESS>" stays that, not "\u003CEMAIL_ADDRESS\u003E".
    private static readonly JsonWriterOptions Relaxed = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static void Collect(JsonElement value, List<string> into)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String: into.Add(value.GetString()!); break;
            case JsonValueKind.Array: foreach (var item in value.EnumerateArray()) Collect(item, into); break;
            case JsonValueKind.Object: foreach (var p in value.EnumerateObject()) Collect(p.Value, into); break;
        }
    }

    /// <summary><paramref name="value"/> with its strings replaced by <paramref name="texts"/> from <paramref name="index"/> on (keys kept).</summary>
    public static JsonElement Rewrite(JsonElement value, IReadOnlyList<string> texts, ref int index)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, Relaxed)) Write(value, texts, ref index, w);
        using var doc = JsonDocument.Parse(buffer.ToArray());
        return doc.RootElement.Clone();
    }

    private static void Write(JsonElement value, IReadOnlyList<string> texts, ref int index, Utf8JsonWriter w)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                w.WriteStringValue(texts[index++]);
                break;
            case JsonValueKind.Array:
                w.WriteStartArray();
                foreach (var item in value.EnumerateArray()) Write(item, texts, ref index, w);
                w.WriteEndArray();
                break;
            case JsonValueKind.Object:
                w.WriteStartObject();
                foreach (var p in value.EnumerateObject())
                {
                    w.WritePropertyName(p.Name);
                    Write(p.Value, texts, ref index, w);
                }
                w.WriteEndObject();
                break;
            default:
                value.WriteTo(w);
                break;
        }
    }
}
