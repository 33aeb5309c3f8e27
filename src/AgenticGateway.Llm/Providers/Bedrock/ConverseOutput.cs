using System.Text.Json;
using AgenticGateway.OpenAi;
using AgenticGateway.Providers.Translation;

namespace AgenticGateway.Providers.Bedrock;

/// <summary>Pieces of the Converse output shared by the whole-body and the streamed translation.</summary>
internal static class ConverseOutput
{
    /// <summary>
    /// Converse stop reasons in OpenAI's finish_reason terms. A guardrail or content filter is <c>content_filter</c>;
    /// a context-window stop is a truncation (<c>length</c>). A malformed model output or tool call has no honest
    /// OpenAI equivalent (calling it "stop" would hand the client a broken answer as a finished one), so it is raised
    /// as a 502 the router may retry.
    /// </summary>
    public static string FinishReason(string? stopReason) => stopReason switch
    {
        "end_turn" or "stop_sequence" => "stop",
        "tool_use" => "tool_calls",
        "max_tokens" or "model_context_window_exceeded" => "length",
        "guardrail_intervened" or "content_filtered" => "content_filter",
        "malformed_model_output" or "malformed_tool_use" => throw new ProviderStreamException(new ProviderError(502,
            stopReason == "malformed_tool_use" ? "Bedrock stopped the response: the model produced a malformed tool call (malformed_tool_use)." : "Bedrock stopped the response: the model produced malformed output (malformed_model_output).",
            stopReason)),
        null => throw new InvalidDataException("Converse response has no stopReason"),
        _ => "stop",
    };

    /// <summary>
    /// Reads Converse usage. <c>inputTokens</c> excludes prompt-cache reads and writes, OpenAI's prompt_tokens
    /// includes them, so they are added in; cache reads are also OpenAI's <c>cached_tokens</c>.
    /// </summary>
    public static (Usage Usage, long CacheWrite) ReadUsage(JsonElement usage)
    {
        long Number(string name) => usage.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt64() : 0;
        var cacheRead = Number("cacheReadInputTokens");
        var cacheWrite = Number("cacheWriteInputTokens");
        return (new Usage(Number("inputTokens") + cacheRead + cacheWrite, Number("outputTokens")) { CachedPromptTokens = cacheRead }, cacheWrite);
    }

    /// <summary>OpenAI's usage object; the cache write count goes in LiteLLM's <c>cache_creation_input_tokens</c>.</summary>
    public static void WriteUsage(Utf8JsonWriter w, Usage usage, long cacheWrite)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", usage.PromptTokens);
        w.WriteNumber("completion_tokens", usage.CompletionTokens);
        w.WriteNumber("total_tokens", usage.TotalTokens);
        w.WriteStartObject("prompt_tokens_details");
        w.WriteNumber("cached_tokens", usage.CachedPromptTokens);
        w.WriteEndObject();
        if (cacheWrite > 0) w.WriteNumber("cache_creation_input_tokens", cacheWrite);
        w.WriteEndObject();
    }
}
