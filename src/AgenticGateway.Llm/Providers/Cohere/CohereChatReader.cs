using System.Buffers;
using System.Text;
using System.Text.Json;
using AgenticGateway.OpenAi;
using AgenticGateway.Providers.Translation;

namespace AgenticGateway.Providers.Cohere;

/// <summary>
/// Cohere's v2 chat answer (<c>{"id","finish_reason","message":{"role","content":[{"type":"text"|"thinking"}],
/// "tool_plan","tool_calls"},"usage":{"billed_units","tokens","cached_tokens"}}</c>) as an OpenAI chat.completion.
/// Text parts are the content; thinking parts and the tool plan are <c>reasoning_content</c>; usage is Cohere's
/// <c>tokens</c> (what the model read and wrote, as LiteLLM reports it), cached tokens as
/// <c>prompt_tokens_details.cached_tokens</c>.
/// </summary>
internal static class CohereChatReader
{
    public static byte[] Translate(ReadOnlyMemory<byte> body, ProviderCall call, long created, out Usage? usage)
    {
        using var doc = ProviderJson.Parse(body, "Cohere returned a chat body that is not JSON");
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("message", out var message) || message.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException("Cohere's chat answer has no message.");
        var text = new StringBuilder();
        var reasoning = new StringBuilder();
        if (ProviderJson.Str(message, "tool_plan") is { Length: > 0 } plan) reasoning.Append(plan);
        if (message.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.Array)
        {
            foreach (var part in content.EnumerateArray())
            {
                if (ProviderJson.Str(part, "type") == "thinking") reasoning.Append(ProviderJson.Str(part, "thinking"));
                else text.Append(ProviderJson.Str(part, "text"));
            }
        }
        var calls = message.TryGetProperty("tool_calls", out var tc) && tc.ValueKind == JsonValueKind.Array ? tc : default;
        var hasCalls = calls.ValueKind == JsonValueKind.Array && calls.GetArrayLength() > 0;
        var finish = MapFinish(ProviderJson.Str(root, "finish_reason"), hasCalls);
        usage = root.TryGetProperty("usage", out var u) ? ReadUsage(u) : null;

        var buffer = new ArrayBufferWriter<byte>(body.Length + 256);
        using (var w = new Utf8JsonWriter(buffer, ProviderJson.OpenAiWriterOptions))
        {
            w.WriteStartObject();
            w.WriteString("id", "chatcmpl-" + (ProviderJson.Str(root, "id") ?? call.RequestId));
            w.WriteString("object", "chat.completion");
            w.WriteNumber("created", created);
            w.WriteString("model", call.UpstreamModel);
            w.WriteStartArray("choices");
            w.WriteStartObject();
            w.WriteNumber("index", 0);
            w.WriteStartObject("message");
            w.WriteString("role", "assistant");
            if (text.Length == 0 && hasCalls) w.WriteNull("content"); else w.WriteString("content", text.ToString());
            if (reasoning.Length > 0) w.WriteString("reasoning_content", reasoning.ToString());
            if (hasCalls)
            {
                w.WriteStartArray("tool_calls");
                foreach (var call2 in calls.EnumerateArray())
                {
                    var function = call2.TryGetProperty("function", out var f) ? f : default;
                    w.WriteStartObject();
                    w.WriteString("id", ProviderJson.Str(call2, "id") ?? throw new InvalidDataException("A Cohere tool call has no id."));
                    w.WriteString("type", "function");
                    w.WriteStartObject("function");
                    w.WriteString("name", ProviderJson.Str(function, "name") ?? throw new InvalidDataException("A Cohere tool call has no name."));
                    w.WriteString("arguments", ProviderJson.Str(function, "arguments") ?? "{}");
                    w.WriteEndObject();
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            w.WriteEndObject();
            w.WriteNull("logprobs");
            w.WriteString("finish_reason", finish);
            w.WriteEndObject();
            w.WriteEndArray();
            WriteUsage(w, usage ?? default);
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Cohere's finish reasons (ChatFinishReason) as OpenAI's: COMPLETE and STOP_SEQUENCE stop, MAX_TOKENS length,
    /// TOOL_CALL tool_calls. ERROR and TIMEOUT are failures, not finishes: they are thrown, so the attempt is retried or
    /// failed over like any upstream failure.
    /// </summary>
    public static string MapFinish(string? reason, bool hasToolCalls) => reason switch
    {
        "COMPLETE" or "STOP_SEQUENCE" => hasToolCalls ? "tool_calls" : "stop",
        "MAX_TOKENS" => "length",
        "TOOL_CALL" => "tool_calls",
        "ERROR" or "TIMEOUT" => throw new InvalidDataException($"Cohere ended the generation with finish_reason {reason}."),
        null => throw new InvalidDataException("Cohere's chat answer has no finish_reason."),
        _ => throw new InvalidDataException($"Cohere returned an unknown finish_reason {reason}."),
    };

    /// <summary>Cohere's usage: <c>tokens.input_tokens</c>/<c>output_tokens</c>, else the billed units; <c>cached_tokens</c>.</summary>
    public static Usage? ReadUsage(JsonElement usage)
    {
        if (usage.ValueKind != JsonValueKind.Object) return null;
        var source = usage.TryGetProperty("tokens", out var t) && t.ValueKind == JsonValueKind.Object ? t
            : usage.TryGetProperty("billed_units", out var b) && b.ValueKind == JsonValueKind.Object ? b : default;
        if (source.ValueKind != JsonValueKind.Object) return null;
        var cached = usage.TryGetProperty("cached_tokens", out var c) && c.ValueKind == JsonValueKind.Number ? (long)c.GetDouble() : 0;
        return new Usage(Number(source, "input_tokens"), Number(source, "output_tokens")) { CachedPromptTokens = cached };
    }

    public static void WriteUsage(Utf8JsonWriter w, Usage usage)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", usage.PromptTokens);
        w.WriteNumber("completion_tokens", usage.CompletionTokens);
        w.WriteNumber("total_tokens", usage.TotalTokens);
        if (usage.CachedPromptTokens > 0)
        {
            w.WriteStartObject("prompt_tokens_details");
            w.WriteNumber("cached_tokens", usage.CachedPromptTokens);
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    private static long Number(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? (long)v.GetDouble() : 0;
}
