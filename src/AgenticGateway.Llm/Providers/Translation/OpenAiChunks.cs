using System.Text.Json;

namespace AgenticGateway.Providers.Translation;

/// <summary>Pieces of OpenAI's <c>chat.completion.chunk</c> that every provider's stream translation writes the same way.</summary>
internal static class OpenAiChunks
{
    /// <summary>
    /// <c>"tool_calls":[{index, id, type, function:{name, arguments}}]</c> inside a delta. The id, type and name go
    /// only in a call's first delta (null afterwards); later deltas carry argument fragments, in order.
    /// </summary>
    public static void WriteToolCallDelta(Utf8JsonWriter w, int index, string? id, string? name, string arguments)
    {
        w.WriteStartArray("tool_calls");
        w.WriteStartObject();
        w.WriteNumber("index", index);
        if (id is not null)
        {
            w.WriteString("id", id);
            w.WriteString("type", "function");
        }
        w.WriteStartObject("function");
        if (name is not null) w.WriteString("name", name);
        w.WriteString("arguments", arguments);
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteEndArray();
    }
}
