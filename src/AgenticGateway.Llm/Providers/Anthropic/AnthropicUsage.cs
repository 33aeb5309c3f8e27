using System.Text.Json;
using AgenticGateway.OpenAi;

namespace AgenticGateway.Providers.Anthropic;

/// <summary>
/// Anthropic's usage numbers. Its <c>input_tokens</c> excludes prompt-cache reads and writes, so OpenAI's
/// <c>prompt_tokens</c> is the sum of all three (what the client was charged input for), with cache reads also
/// reported as <c>prompt_tokens_details.cached_tokens</c>.
/// </summary>
internal record struct AnthropicUsage(long Input, long Output, long? CacheRead, long? CacheCreation)
{
    public readonly long PromptTokens => Input + (CacheRead ?? 0) + (CacheCreation ?? 0);

    public readonly Usage ToUsage() => new(PromptTokens, Output) { CachedPromptTokens = CacheRead ?? 0 };

    /// <summary>Reads a <c>usage</c> object; fields it lacks keep their value in <paramref name="current"/> (message_delta repeats only some).</summary>
    public static AnthropicUsage Read(JsonElement usage, AnthropicUsage current = default)
    {
        if (usage.ValueKind != JsonValueKind.Object) return current;
        if (Long(usage, "input_tokens") is { } input) current.Input = input;
        if (Long(usage, "output_tokens") is { } output) current.Output = output;
        if (Long(usage, "cache_read_input_tokens") is { } read) current.CacheRead = read;
        if (Long(usage, "cache_creation_input_tokens") is { } creation) current.CacheCreation = creation;
        return current;
    }

    /// <summary>
    /// Writes OpenAI's usage object, keeping Anthropic's cache counters under their own names too (as LiteLLM does),
    /// since OpenAI has no field for cache writes.
    /// </summary>
    public readonly void WriteOpenAi(Utf8JsonWriter w)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", PromptTokens);
        w.WriteNumber("completion_tokens", Output);
        w.WriteNumber("total_tokens", PromptTokens + Output);
        w.WriteStartObject("prompt_tokens_details");
        w.WriteNumber("cached_tokens", CacheRead ?? 0);
        if (CacheCreation is { } cc) w.WriteNumber("cache_creation_tokens", cc);
        w.WriteEndObject();
        if (CacheCreation is { } creation) w.WriteNumber("cache_creation_input_tokens", creation);
        if (CacheRead is { } read) w.WriteNumber("cache_read_input_tokens", read);
        w.WriteEndObject();
    }

    private static long? Long(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n) ? n : null;
}

/// <summary>Anthropic's <c>stop_reason</c> as an OpenAI <c>finish_reason</c>.</summary>
internal static class AnthropicStopReason
{
    public static string ToFinishReason(string? stopReason) => stopReason switch
    {
        "end_turn" or "stop_sequence" => "stop",
        // A server-tool loop paused: the turn ended without a final answer, but nothing was cut or filtered.
        "pause_turn" => "stop",
        "max_tokens" or "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        null => "stop",
        // An unknown future reason is passed on rather than disguised as a normal stop.
        var other => other,
    };
}
