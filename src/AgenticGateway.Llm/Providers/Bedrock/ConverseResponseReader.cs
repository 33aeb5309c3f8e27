using System.Buffers;
using System.Text;
using System.Text.Json;
using AgenticGateway.OpenAi;
using AgenticGateway.Providers.Translation;

namespace AgenticGateway.Providers.Bedrock;

/// <summary>A Converse response body to an OpenAI <c>chat.completion</c>.</summary>
internal static class ConverseResponseReader
{
    public static byte[] Translate(ReadOnlyMemory<byte> body, ProviderCall call, long created, out Usage? usage)
    {
        using (var document = ProviderJson.Parse(body, "Converse response is not JSON"))
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("output", out var output) || !output.TryGetProperty("message", out var message)
                || !message.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.Array)
                throw new InvalidDataException("Converse response has no output.message.content");
            var finish = ConverseOutput.FinishReason(root.TryGetProperty("stopReason", out var sr) ? sr.GetString() : null);
            long cacheWrite = 0;
            usage = null;
            if (root.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object)
            {
                (var read, cacheWrite) = ConverseOutput.ReadUsage(u);
                usage = read;
            }

            var text = new StringBuilder();
            var reasoning = new StringBuilder();
            var hasText = false;
            var hasReasoning = false;
            var buffer = new ArrayBufferWriter<byte>(1024);
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                w.WriteString("id", "chatcmpl-" + call.RequestId);
                w.WriteString("object", "chat.completion");
                w.WriteNumber("created", created);
                w.WriteString("model", call.UpstreamModel);
                w.WriteStartArray("choices");
                w.WriteStartObject();
                w.WriteNumber("index", 0);
                w.WriteStartObject("message");
                w.WriteString("role", "assistant");
                foreach (var block in content.EnumerateArray())
                {
                    if (block.TryGetProperty("text", out var t)) { text.Append(t.GetString()); hasText = true; }
                    else if (block.TryGetProperty("reasoningContent", out var rc) && rc.TryGetProperty("reasoningText", out var rt) && rt.TryGetProperty("text", out var rtt))
                    { reasoning.Append(rtt.GetString()); hasReasoning = true; }
                }
                if (hasText) w.WriteString("content", text.ToString()); else w.WriteNull("content");
                if (hasReasoning) w.WriteString("reasoning_content", reasoning.ToString());
                WriteThinkingBlocks(w, content);
                WriteToolCalls(w, content);
                w.WriteEndObject();
                w.WriteString("finish_reason", finish);
                w.WriteEndObject();
                w.WriteEndArray();
                if (usage is { } value) ConverseOutput.WriteUsage(w, value, cacheWrite);
                w.WriteEndObject();
            }
            return buffer.WrittenSpan.ToArray();
        }
    }

    /// <summary>Reasoning blocks with their signatures (LiteLLM's <c>thinking_blocks</c>), so a client can send them back.</summary>
    private static void WriteThinkingBlocks(Utf8JsonWriter w, JsonElement content)
    {
        var any = false;
        foreach (var block in content.EnumerateArray())
        {
            if (!block.TryGetProperty("reasoningContent", out var rc)) continue;
            if (!any) { w.WriteStartArray("thinking_blocks"); any = true; }
            w.WriteStartObject();
            if (rc.TryGetProperty("reasoningText", out var rt))
            {
                w.WriteString("type", "thinking");
                w.WriteString("thinking", rt.TryGetProperty("text", out var tt) ? tt.GetString() : "");
                if (rt.TryGetProperty("signature", out var sig)) w.WriteString("signature", sig.GetString());
            }
            else if (rc.TryGetProperty("redactedContent", out var redacted))
            {
                w.WriteString("type", "redacted_thinking");
                w.WriteString("data", redacted.GetString());
            }
            w.WriteEndObject();
        }
        if (any) w.WriteEndArray();
    }

    /// <summary>Tool input as compact JSON text, as OpenAI sends arguments (Bedrock's body may be pretty-printed).</summary>
    private static string Compact(JsonElement input)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping })) input.WriteTo(w);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void WriteToolCalls(Utf8JsonWriter w, JsonElement content)
    {
        var any = false;
        foreach (var block in content.EnumerateArray())
        {
            if (!block.TryGetProperty("toolUse", out var tu)) continue;
            if (!any) { w.WriteStartArray("tool_calls"); any = true; }
            w.WriteStartObject();
            w.WriteString("id", tu.GetProperty("toolUseId").GetString());
            w.WriteString("type", "function");
            w.WriteStartObject("function");
            w.WriteString("name", tu.GetProperty("name").GetString());
            w.WriteString("arguments", tu.TryGetProperty("input", out var input) ? Compact(input) : "{}");
            w.WriteEndObject();
            w.WriteEndObject();
        }
        if (any) w.WriteEndArray();
    }
}
