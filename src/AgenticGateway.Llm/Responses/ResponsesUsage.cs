using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.OpenAi;

namespace AgenticGateway.Responses;

/// <summary>
/// A chat <c>usage</c> object read into the gateway's <see cref="Usage"/> and written as Responses usage
/// (<c>input_tokens</c>, <c>input_tokens_details{cached_tokens, cache_write_tokens}</c>, <c>output_tokens</c>,
/// <c>output_tokens_details{reasoning_tokens}</c>, <c>total_tokens</c>, as openai-node's <c>ResponseUsage</c>).
/// </summary>
internal static class ResponsesUsage
{
    /// <summary>Reads chat usage: OpenAI's names, with cache writes as LiteLLM reports them (<c>cache_creation_input_tokens</c>, or <c>prompt_tokens_details.cache_creation_tokens</c>).</summary>
    public static (Usage Usage, long CacheWrites) FromChat(JsonElement usage)
    {
        var prompt = Long(usage, "prompt_tokens") ?? 0;
        var completion = Long(usage, "completion_tokens") ?? 0;
        long cached = 0, reasoning = 0, writes = Long(usage, "cache_creation_input_tokens") ?? 0;
        if (usage.TryGetProperty("prompt_tokens_details", out var pd) && pd.ValueKind == JsonValueKind.Object)
        {
            cached = Long(pd, "cached_tokens") ?? 0;
            if (writes == 0) writes = Long(pd, "cache_creation_tokens") ?? 0;
        }
        if (usage.TryGetProperty("completion_tokens_details", out var cd) && cd.ValueKind == JsonValueKind.Object) reasoning = Long(cd, "reasoning_tokens") ?? 0;
        return (new Usage(prompt, completion) { CachedPromptTokens = cached, ReasoningTokens = reasoning }, writes);
    }

    /// <summary>The Responses usage object.</summary>
    public static JsonObject ToJson(Usage usage, long cacheWrites = 0) => new()
    {
        ["input_tokens"] = usage.PromptTokens,
        ["input_tokens_details"] = new JsonObject { ["cached_tokens"] = usage.CachedPromptTokens, ["cache_write_tokens"] = cacheWrites },
        ["output_tokens"] = usage.CompletionTokens,
        ["output_tokens_details"] = new JsonObject { ["reasoning_tokens"] = usage.ReasoningTokens },
        ["total_tokens"] = usage.TotalTokens,
    };

    private static long? Long(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) ? (long)d : null;
}
