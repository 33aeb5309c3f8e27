using System.Text.Json;

namespace AgenticGateway.OpenAi;

/// <summary>Token usage reported by a provider.</summary>
internal readonly record struct Usage(long PromptTokens, long CompletionTokens)
{
    /// <summary>Prompt plus completion tokens.</summary>
    public long TotalTokens => PromptTokens + CompletionTokens;

    /// <summary>Prompt tokens served from the provider's prompt cache (<c>prompt_tokens_details.cached_tokens</c>); included in <see cref="PromptTokens"/>.</summary>
    public long CachedPromptTokens { get; init; }

    /// <summary>Hidden reasoning tokens (<c>completion_tokens_details.reasoning_tokens</c>); included in <see cref="CompletionTokens"/>.</summary>
    public long ReasoningTokens { get; init; }

    /// <summary>Rerank search units the provider billed (Cohere's <c>meta.billed_units.search_units</c>).</summary>
    public long SearchUnits { get; init; }
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

    /// <summary>
    /// Reads a usage object: Chat Completions names (<c>prompt_tokens</c>, <c>prompt_tokens_details.cached_tokens</c>, ...)
    /// or Responses names (<c>input_tokens</c>, <c>input_tokens_details.cached_tokens</c>, ...). DeepSeek's
    /// <c>prompt_cache_hit_tokens</c> stands in for cached tokens when no details object says otherwise.
    /// </summary>
    private static Usage ReadUsageObject(ref Utf8JsonReader reader)
    {
        long prompt = 0, completion = 0, reasoning = 0;
        long? cached = null, cacheHit = null;
        var depth = reader.CurrentDepth;
        while (reader.Read() && !(reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == depth))
        {
            if (reader.TokenType != JsonTokenType.PropertyName) continue;
            if (reader.CurrentDepth != depth + 1)
            {
                reader.Read();
                reader.Skip();
            }
            else if (reader.ValueTextEquals("prompt_tokens"u8) || reader.ValueTextEquals("input_tokens"u8))
            {
                prompt = ReadNumber(ref reader) ?? prompt;
            }
            else if (reader.ValueTextEquals("completion_tokens"u8) || reader.ValueTextEquals("output_tokens"u8))
            {
                completion = ReadNumber(ref reader) ?? completion;
            }
            else if (reader.ValueTextEquals("prompt_tokens_details"u8) || reader.ValueTextEquals("input_tokens_details"u8))
            {
                cached = ReadDetail(ref reader, "cached_tokens"u8) ?? cached;
            }
            else if (reader.ValueTextEquals("completion_tokens_details"u8) || reader.ValueTextEquals("output_tokens_details"u8))
            {
                reasoning = ReadDetail(ref reader, "reasoning_tokens"u8) ?? reasoning;
            }
            else if (reader.ValueTextEquals("prompt_cache_hit_tokens"u8))
            {
                cacheHit = ReadNumber(ref reader);
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        return new Usage(prompt, completion) { CachedPromptTokens = cached ?? cacheHit ?? 0, ReasoningTokens = reasoning };
    }

    /// <summary>Moves to a property's value and returns it when it is a number.</summary>
    private static long? ReadNumber(ref Utf8JsonReader reader)
    {
        reader.Read();
        if (reader.TokenType == JsonTokenType.Number) return (long)reader.GetDouble();
        reader.Skip();
        return null;
    }

    /// <summary>Moves past a property's value; when it is an object, returns its numeric <paramref name="name"/> member.</summary>
    private static long? ReadDetail(ref Utf8JsonReader reader, ReadOnlySpan<byte> name)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return null;
        }
        long? value = null;
        var depth = reader.CurrentDepth;
        while (reader.Read() && !(reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == depth))
        {
            if (reader.TokenType != JsonTokenType.PropertyName) continue;
            if (reader.ValueTextEquals(name)) value = ReadNumber(ref reader) ?? value;
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        return value;
    }
}
