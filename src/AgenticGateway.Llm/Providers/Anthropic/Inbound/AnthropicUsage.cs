using System.Text.Json;

namespace AgenticGateway.Providers.Anthropic.Inbound;

/// <summary>An OpenAI usage object in Anthropic's terms.</summary>
/// <remarks>
/// Anthropic's <c>input_tokens</c> excludes the tokens read from or written to the prompt cache, which OpenAI's
/// <c>prompt_tokens</c> includes: input = prompt - cache read - cache write. Cache reads come from
/// <c>prompt_tokens_details.cached_tokens</c> (or LiteLLM's top-level <c>cache_read_input_tokens</c>); cache writes
/// from LiteLLM's <c>cache_creation_input_tokens</c> or <c>prompt_tokens_details.cache_creation_tokens</c>, else 0.
/// </remarks>
internal readonly record struct AnthropicUsage(long InputTokens, long OutputTokens, long CacheReadInputTokens, long CacheCreationInputTokens)
{
    public static AnthropicUsage FromOpenAi(JsonElement usage)
    {
        var prompt = Number(usage, "prompt_tokens") ?? 0;
        var completion = Number(usage, "completion_tokens") ?? 0;
        long? cacheRead = null, cacheWrite = Number(usage, "cache_creation_input_tokens");
        if (usage.TryGetProperty("prompt_tokens_details", out var details) && details.ValueKind == JsonValueKind.Object)
        {
            cacheRead = Number(details, "cached_tokens");
            cacheWrite ??= Number(details, "cache_creation_tokens");
        }
        cacheRead ??= Number(usage, "cache_read_input_tokens");
        var read = cacheRead ?? 0;
        var write = cacheWrite ?? 0;
        return new AnthropicUsage(Math.Max(prompt - read - write, 0), completion, read, write);
    }

    public void Write(Utf8JsonWriter w, bool includeInput = true)
    {
        if (includeInput)
        {
            w.WriteNumber("input_tokens", InputTokens);
            w.WriteNumber("cache_creation_input_tokens", CacheCreationInputTokens);
            w.WriteNumber("cache_read_input_tokens", CacheReadInputTokens);
        }
        w.WriteNumber("output_tokens", OutputTokens);
    }

    /// <summary>The same numbers as the gateway's <see cref="OpenAi.Usage"/> (prompt tokens include the cached ones).</summary>
    public OpenAi.Usage ToGatewayUsage() =>
        new(InputTokens + CacheReadInputTokens + CacheCreationInputTokens, OutputTokens) { CachedPromptTokens = CacheReadInputTokens };

    private static long? Number(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? (long)value.GetDouble() : null;
}
