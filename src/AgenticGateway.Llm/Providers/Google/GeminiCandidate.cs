using System.Text.Json;
using AgenticGateway.OpenAi;
using AgenticGateway.Providers.Translation;

namespace AgenticGateway.Providers.Google;

/// <summary>One functionCall part, with the OpenAI id it is given.</summary>
internal readonly record struct GeminiCall(string Id, string Name, string Arguments);

/// <summary>Reading of Gemini response pieces shared by the whole-body and the stream translations.</summary>
internal static class GeminiCandidate
{
    /// <summary>
    /// Gemini's finishReason as an OpenAI finish_reason. Safety-type stops become content_filter, never stop;
    /// STOP with function calls is tool_calls.
    /// <para>
    /// Null for a function call Gemini itself could not parse or did not allow (<c>MALFORMED_FUNCTION_CALL</c>,
    /// <c>UNEXPECTED_TOOL_CALL</c>...): OpenAI has no finish_reason for it. "stop" would hand the client an empty
    /// answer as if it were complete and "content_filter" would blame a safety filter, so the callers report it as an
    /// upstream failure (<see cref="Malformed"/>: 502, retryable, since a retry usually succeeds) with Gemini's
    /// finishMessage kept.
    /// </para>
    /// </summary>
    public static string? MapFinish(string reason, bool hasToolCalls) => reason switch
    {
        "STOP" => hasToolCalls ? "tool_calls" : "stop",
        "MAX_TOKENS" => "length",
        "SAFETY" or "RECITATION" or "BLOCKLIST" or "PROHIBITED_CONTENT" or "SPII" or "IMAGE_SAFETY" or "IMAGE_PROHIBITED_CONTENT"
            or "IMAGE_RECITATION" or "MODEL_ARMOR" => "content_filter",
        "MALFORMED_FUNCTION_CALL" or "UNEXPECTED_TOOL_CALL" or "TOO_MANY_TOOL_CALLS" or "MALFORMED_RESPONSE" => null,
        _ => hasToolCalls ? "tool_calls" : "stop",
    };

    /// <summary>The upstream failure reported for a finish <see cref="MapFinish"/> has no OpenAI reason for.</summary>
    public static ProviderError Malformed(string reason, string? finishMessage) =>
        new(502, $"Gemini stopped with {reason}" + (finishMessage is { Length: > 0 } ? ": " + finishMessage : "."), reason);

    /// <summary>Reads usageMetadata. Thought tokens are billed as output, so they count as completion tokens.</summary>
    public static Usage ReadUsage(JsonElement meta)
    {
        long Get(string name) => meta.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt64() : 0;
        var thoughts = Get("thoughtsTokenCount");
        return new Usage(Get("promptTokenCount") + Get("toolUsePromptTokenCount"), Get("candidatesTokenCount") + thoughts)
        {
            CachedPromptTokens = Get("cachedContentTokenCount"),
            ReasoningTokens = thoughts,
        };
    }

    public static void WriteUsage(Utf8JsonWriter w, Usage usage)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", usage.PromptTokens);
        w.WriteNumber("completion_tokens", usage.CompletionTokens);
        w.WriteNumber("total_tokens", usage.TotalTokens);
        w.WriteStartObject("prompt_tokens_details");
        w.WriteNumber("cached_tokens", usage.CachedPromptTokens);
        w.WriteEndObject();
        w.WriteStartObject("completion_tokens_details");
        w.WriteNumber("reasoning_tokens", usage.ReasoningTokens);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>The refusal text for a prompt Gemini blocked before generating (promptFeedback.blockReason).</summary>
    public static string? BlockedPrompt(JsonElement root)
    {
        if (!root.TryGetProperty("promptFeedback", out var feedback) || feedback.ValueKind != JsonValueKind.Object) return null;
        if (!feedback.TryGetProperty("blockReason", out var reason) || reason.ValueKind != JsonValueKind.String) return null;
        var message = feedback.TryGetProperty("blockReasonMessage", out var m) && m.ValueKind == JsonValueKind.String ? ": " + m.GetString() : ".";
        return $"Gemini blocked the prompt (blockReason {reason.GetString()}){message}";
    }

    public static string? Str(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    /// <summary>The candidate's parts array, or an empty array when it has no content (a safety stop, a bare finish).</summary>
    public static JsonElement.ArrayEnumerator Parts(JsonElement candidate) =>
        candidate.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.Object
        && content.TryGetProperty("parts", out var parts) && parts.ValueKind == JsonValueKind.Array
            ? parts.EnumerateArray() : default;

    /// <summary>A functionCall part as an OpenAI call; <paramref name="index"/> numbers the calls of one choice.</summary>
    public static GeminiCall ReadCall(JsonElement part, JsonElement call, int index)
    {
        var name = Str(call, "name") ?? throw new InvalidDataException("Gemini functionCall without a name.");
        var arguments = call.TryGetProperty("args", out var args) && args.ValueKind == JsonValueKind.Object ? args.GetRawText() : "{}";
        arguments = Compact(arguments);
        return new GeminiCall(GeminiToolCallIds.Create(index, Str(call, "id"), name, arguments, Str(part, "thoughtSignature")), name, arguments);
    }

    /// <summary>Re-serialises JSON without whitespace, so the same call reads the same in a body and in a stream.</summary>
    private static string Compact(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(json.Length);
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping })) doc.RootElement.WriteTo(w);
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public static bool IsThought(JsonElement part) =>
        part.TryGetProperty("thought", out var t) && t.ValueKind == JsonValueKind.True;
}
