using System.Text.Json;

namespace AgenticGateway.Providers.OpenAiResponses;

/// <summary>Reads a Responses SSE event's <c>type</c> without parsing the rest (most events are small deltas, read once).</summary>
internal static class ResponsesEventType
{
    /// <summary>The top-level <c>type</c> of an event's JSON data; null when absent or the data is not a JSON object.</summary>
    public static string? Of(ReadOnlySpan<byte> data)
    {
        var reader = new Utf8JsonReader(data);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isType = reader.ValueTextEquals("type"u8);
                reader.Read();
                if (isType) return reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                reader.Skip();
            }
        }
        catch (JsonException)
        {
            // Malformed or cut JSON: the caller decides what an untyped event means.
        }
        return null;
    }

    /// <summary>The events that end a Responses stream, each carrying the final response object.</summary>
    public static bool IsTerminal(string? type) => type is "response.completed" or "response.incomplete" or "response.failed";
}
