using System.Buffers;
using System.Text;
using System.Text.Json;

namespace AgenticGateway.Providers.Anthropic.Inbound;

/// <summary>Converts an OpenAI <c>chat.completion</c> body into an Anthropic Message.</summary>
/// <remarks>
/// <para>Content is written in Anthropic's order: thinking (LiteLLM's <c>thinking_blocks</c> with their signatures,
/// else one block from <c>reasoning_content</c> with an empty signature), then the text (or the <c>refusal</c>), then
/// one <c>tool_use</c> per tool call. Only the first choice is read: Anthropic has no <c>n</c>.</para>
/// <para>Tool call arguments that are not a JSON object (a model's malformed JSON, or a bare value) are never dropped
/// and never fail the response: the call keeps its id and name and the input becomes <c>{"_raw": "&lt;the arguments
/// text&gt;"}</c>, so the client's tool reports a bad input to the model, which can retry. Empty arguments are <c>{}</c>.</para>
/// <para>The id is <c>msg_</c> plus the OpenAI id without its <c>chatcmpl-</c> prefix; the model is the one the client
/// asked for (the name it knows), else the one the backend reported. Usage: see <see cref="AnthropicUsage"/>.</para>
/// </remarks>
internal static class AnthropicResponseConverter
{
    /// <summary>Converts the body; throws <see cref="InvalidDataException"/> when it is not a chat completion object.</summary>
    public static byte[] FromOpenAi(ReadOnlyMemory<byte> openAiCompletion, string requestedModel) => FromOpenAi(openAiCompletion, requestedModel, out _);

    /// <summary>Converts the body and returns the usage in the gateway's terms for spend tracking.</summary>
    public static byte[] FromOpenAi(ReadOnlyMemory<byte> openAiCompletion, string requestedModel, out OpenAi.Usage? usage)
    {
        usage = null;
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(openAiCompletion);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException("The chat completion is not valid JSON.", e);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException("The chat completion is not a JSON object.");
            var buffer = new ArrayBufferWriter<byte>(1024);
            using var w = new Utf8JsonWriter(buffer);
            w.WriteStartObject();
            w.WriteString("id", MessageId(root.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String ? id.GetString() : null));
            w.WriteString("type", "message");
            w.WriteString("role", "assistant");
            w.WriteString("model", requestedModel is { Length: > 0 } ? requestedModel
                : root.TryGetProperty("model", out var model) && model.ValueKind == JsonValueKind.String ? model.GetString() : "");

            JsonElement choice = default, message = default;
            if (root.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array && choices.GetArrayLength() > 0)
            {
                choice = choices[0];
                if (choice.ValueKind == JsonValueKind.Object) choice.TryGetProperty("message", out message);
            }
            w.WritePropertyName("content");
            w.WriteStartArray();
            var hasToolCalls = message.ValueKind == JsonValueKind.Object && WriteContent(w, message);
            w.WriteEndArray();

            var finish = choice.ValueKind == JsonValueKind.Object && choice.TryGetProperty("finish_reason", out var f) && f.ValueKind == JsonValueKind.String ? f.GetString() : null;
            var matched = MatchedStopSequence(choice);
            var stopReason = AnthropicStopReason.FromOpenAi(finish, hasToolCalls, matched);
            w.WriteString("stop_reason", stopReason);
            if (stopReason == "stop_sequence") w.WriteString("stop_sequence", matched);
            else w.WriteNull("stop_sequence");

            var anthropicUsage = root.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object ? AnthropicUsage.FromOpenAi(u) : default;
            w.WriteStartObject("usage");
            anthropicUsage.Write(w);
            w.WriteEndObject();
            w.WriteEndObject();
            w.Flush();
            if (u.ValueKind == JsonValueKind.Object) usage = anthropicUsage.ToGatewayUsage();
            return buffer.WrittenSpan.ToArray();
        }
    }

    /// <summary><c>msg_</c> plus the OpenAI id without its <c>chatcmpl-</c> prefix (a fresh id when there is none).</summary>
    public static string MessageId(string? openAiId)
    {
        if (string.IsNullOrEmpty(openAiId)) return "msg_" + Guid.NewGuid().ToString("N");
        if (openAiId.StartsWith("msg_", StringComparison.Ordinal)) return openAiId;
        return "msg_" + (openAiId.StartsWith("chatcmpl-", StringComparison.Ordinal) ? openAiId["chatcmpl-".Length..] : openAiId);
    }

    /// <summary>vLLM's <c>stop_reason</c>: the stop string that ended the choice (a number there is a token id, not a sequence).</summary>
    internal static string? MatchedStopSequence(JsonElement choice) =>
        choice.ValueKind == JsonValueKind.Object && choice.TryGetProperty("stop_reason", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;

    /// <summary>Writes the content blocks; returns whether there were tool calls.</summary>
    private static bool WriteContent(Utf8JsonWriter w, JsonElement message)
    {
        if (message.TryGetProperty("thinking_blocks", out var blocks) && blocks.ValueKind == JsonValueKind.Array && blocks.GetArrayLength() > 0)
        {
            foreach (var block in blocks.EnumerateArray()) WriteThinkingBlock(w, block);
        }
        else if (ReasoningText(message) is { Length: > 0 } reasoning)
        {
            w.WriteStartObject();
            w.WriteString("type", "thinking");
            w.WriteString("thinking", reasoning);
            w.WriteString("signature", "");
            w.WriteEndObject();
        }

        var text = ContentText(message);
        if (string.IsNullOrEmpty(text) && message.TryGetProperty("refusal", out var refusal) && refusal.ValueKind == JsonValueKind.String)
            text = refusal.GetString();
        if (!string.IsNullOrEmpty(text))
        {
            w.WriteStartObject();
            w.WriteString("type", "text");
            w.WriteString("text", text);
            w.WriteEndObject();
        }

        var any = false;
        if (message.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array)
        {
            foreach (var call in calls.EnumerateArray())
            {
                if (call.ValueKind != JsonValueKind.Object) continue;
                any = true;
                call.TryGetProperty("function", out var function);
                w.WriteStartObject();
                w.WriteString("type", "tool_use");
                w.WriteString("id", call.TryGetProperty("id", out var callId) && callId.ValueKind == JsonValueKind.String ? callId.GetString() : "toolu_" + Guid.NewGuid().ToString("N"));
                w.WriteString("name", function.ValueKind == JsonValueKind.Object && function.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String ? name.GetString() : "");
                WriteDirectCaller(w);
                w.WritePropertyName("input");
                WriteToolInput(w, function.ValueKind == JsonValueKind.Object && function.TryGetProperty("arguments", out var args) ? args : default);
                w.WriteEndObject();
            }
        }
        return any;
    }

    /// <summary>
    /// <c>"caller":{"type":"direct"}</c>: the current API marks every tool_use block with who invoked it (the model
    /// itself, or code execution for programmatic tool calls), and the SDKs require the field.
    /// </summary>
    internal static void WriteDirectCaller(Utf8JsonWriter w)
    {
        w.WriteStartObject("caller");
        w.WriteString("type", "direct");
        w.WriteEndObject();
    }

    private static void WriteThinkingBlock(Utf8JsonWriter w, JsonElement block)
    {
        if (block.ValueKind != JsonValueKind.Object) return;
        var type = block.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : "thinking";
        w.WriteStartObject();
        if (type == "redacted_thinking")
        {
            w.WriteString("type", "redacted_thinking");
            w.WriteString("data", block.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.String ? data.GetString() : "");
        }
        else
        {
            w.WriteString("type", "thinking");
            w.WriteString("thinking", block.TryGetProperty("thinking", out var thinking) && thinking.ValueKind == JsonValueKind.String ? thinking.GetString() : "");
            w.WriteString("signature", block.TryGetProperty("signature", out var signature) && signature.ValueKind == JsonValueKind.String ? signature.GetString() : "");
        }
        w.WriteEndObject();
    }

    /// <summary><c>reasoning_content</c> (LiteLLM, DeepSeek, the gateway's translators) or <c>reasoning</c> (vLLM, OpenRouter).</summary>
    internal static string? ReasoningText(JsonElement message)
    {
        if (message.TryGetProperty("reasoning_content", out var r) && r.ValueKind == JsonValueKind.String) return r.GetString();
        if (message.TryGetProperty("reasoning", out r) && r.ValueKind == JsonValueKind.String) return r.GetString();
        return null;
    }

    /// <summary>The message text: a string, or the text parts of a list joined.</summary>
    private static string? ContentText(JsonElement message)
    {
        if (!message.TryGetProperty("content", out var content)) return null;
        if (content.ValueKind == JsonValueKind.String) return content.GetString();
        if (content.ValueKind != JsonValueKind.Array) return null;
        var text = new StringBuilder();
        foreach (var part in content.EnumerateArray())
        {
            if (part.ValueKind == JsonValueKind.Object && part.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String) text.Append(t.GetString());
        }
        return text.ToString();
    }

    /// <summary>Tool input: the arguments' JSON object, <c>{}</c> when empty, else <c>{"_raw": arguments}</c>.</summary>
    private static void WriteToolInput(Utf8JsonWriter w, JsonElement arguments)
    {
        if (arguments.ValueKind == JsonValueKind.Object)
        {
            // Some servers send the arguments as an object rather than as JSON text.
            arguments.WriteTo(w);
            return;
        }
        var text = arguments.ValueKind == JsonValueKind.String ? arguments.GetString()! : "";
        if (string.IsNullOrWhiteSpace(text))
        {
            w.WriteStartObject();
            w.WriteEndObject();
            return;
        }
        try
        {
            using var parsed = JsonDocument.Parse(text);
            if (parsed.RootElement.ValueKind == JsonValueKind.Object)
            {
                parsed.RootElement.WriteTo(w);
                return;
            }
        }
        catch (JsonException)
        {
            // Malformed: kept as text below.
        }
        w.WriteStartObject();
        w.WriteString("_raw", text);
        w.WriteEndObject();
    }
}
