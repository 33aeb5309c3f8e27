using System.Text.Json;

namespace AgenticGateway.OpenAi;

/// <summary>Token usage reported by a provider.</summary>
internal readonly record struct Usage(long PromptTokens, long CompletionTokens)
{
    public long TotalTokens => PromptTokens + CompletionTokens;
}

internal static class UsageReader
{
    /// <summary>
    /// Validates a whole JSON document and reads its top-level <c>usage</c>. Returns false when the JSON is malformed.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> json, out Usage? usage)
    {
        usage = null;
        var reader = new Utf8JsonReader(json);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return reader.TokenType != JsonTokenType.None && SkipRest(ref reader);
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.CurrentDepth == 1 && reader.ValueTextEquals("usage"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.StartObject) usage = ReadUsageObject(ref reader);
                    else reader.Skip();
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
            return !reader.Read();
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static bool SkipRest(ref Utf8JsonReader reader)
    {
        reader.Skip();
        return !reader.Read();
    }

    private static Usage ReadUsageObject(ref Utf8JsonReader reader)
    {
        long prompt = 0, completion = 0;
        var depth = reader.CurrentDepth;
        while (reader.Read() && !(reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == depth))
        {
            if (reader.TokenType != JsonTokenType.PropertyName) continue;
            if (reader.CurrentDepth == depth + 1 && (reader.ValueTextEquals("prompt_tokens"u8) || reader.ValueTextEquals("input_tokens"u8)))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.Number) prompt = (long)reader.GetDouble();
            }
            else if (reader.CurrentDepth == depth + 1 && (reader.ValueTextEquals("completion_tokens"u8) || reader.ValueTextEquals("output_tokens"u8)))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.Number) completion = (long)reader.GetDouble();
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        return new Usage(prompt, completion);
    }
}
