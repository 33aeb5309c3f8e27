using System.Text.Json;

namespace AgenticGateway.Services.Llm;

/// <summary>
/// Reads the top-level "id" of an answer (OpenAI's "chatcmpl-...", Anthropic's "msg_..."), the id LiteLLM's scripts
/// pass to /spend/logs?request_id=. Only the top level is read, and reading stops at the id (it comes first in
/// practice), so the cost is a few bytes of scanning per answer.
/// </summary>
internal static class ResponseIds
{
    private const int MaxLength = 256;

    public static string? Read(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 256 });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isId = reader.ValueTextEquals("id"u8);
                if (!reader.Read()) return null;
                if (isId) return reader.TokenType == JsonTokenType.String && reader.ValueSpan.Length <= MaxLength ? reader.GetString() : null;
                if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray) reader.Skip();
            }
        }
        catch (JsonException)
        {
            // Not JSON after all (the relay passes some answers through as they are): no id.
        }
        return null;
    }

    /// <summary>The id in the first "data:" event of a chunk of a stream, if it has one.</summary>
    public static string? ReadFirstEvent(ReadOnlySpan<byte> events)
    {
        var at = events.IndexOf("data:"u8);
        if (at < 0) return null;
        var line = events[(at + 5)..];
        var end = line.IndexOf((byte)'\n');
        if (end >= 0) line = line[..end];
        line = line.Trim(" \r"u8);
        return line.Length > 0 && line[0] == (byte)'{' ? Read(line) : null;
    }
}
