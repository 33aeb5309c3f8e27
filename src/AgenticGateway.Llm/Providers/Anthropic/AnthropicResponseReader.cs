using System.Buffers;
using System.Text;
using System.Text.Json;
using AgenticGateway.Providers.Translation;
using AgenticGateway.OpenAi;

namespace AgenticGateway.Providers.Anthropic;

/// <summary>
/// Converts a Messages API response into an OpenAI <c>chat.completion</c>: text blocks concatenated into
/// <c>content</c>, <c>tool_use</c> blocks into <c>tool_calls</c> (arguments = the input as JSON text), thinking into
/// <c>reasoning_content</c> plus LiteLLM's <c>thinking_blocks</c> (with signatures, so the client can send them back).
/// </summary>
internal static class AnthropicResponseReader
{
    public static byte[] Translate(ReadOnlyMemory<byte> providerBody, string fallbackId, string fallbackModel, long created, out Usage? usage)
    {
        using (var document = ProviderJson.Parse(providerBody, "Anthropic returned a body that is not JSON"))
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || AnthropicMessages.Str(root, "type") != "message"
                || !root.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.Array)
                throw new InvalidDataException("Anthropic returned a body that is not a message (type \"message\" with a content array).");

            var text = new StringBuilder();
            var reasoning = new StringBuilder();
            var hasReasoning = false;
            var blocks = new List<JsonElement>();
            var toolUses = new List<JsonElement>();
            foreach (var block in content.EnumerateArray())
            {
                switch (AnthropicMessages.Str(block, "type"))
                {
                    case "text":
                        text.Append(AnthropicMessages.Str(block, "text"));
                        break;
                    case "tool_use":
                        toolUses.Add(block);
                        break;
                    case "thinking":
                        hasReasoning = true;
                        reasoning.Append(AnthropicMessages.Str(block, "thinking"));
                        blocks.Add(block);
                        break;
                    case "redacted_thinking":
                        blocks.Add(block);
                        break;
                }
            }
            var anthropicUsage = AnthropicUsage.Read(root.TryGetProperty("usage", out var u) ? u : default);
            usage = anthropicUsage.ToUsage();

            var buffer = new ArrayBufferWriter<byte>(1024);
            using (var w = new Utf8JsonWriter(buffer, AnthropicJson.WriterOptions))
            {
                w.WriteStartObject();
                w.WriteString("id", "chatcmpl-" + (AnthropicMessages.Str(root, "id") is { Length: > 0 } id ? id : fallbackId));
                w.WriteString("object", "chat.completion");
                w.WriteNumber("created", created);
                w.WriteString("model", AnthropicMessages.Str(root, "model") is { Length: > 0 } model ? model : fallbackModel);
                w.WriteStartArray("choices");
                w.WriteStartObject();
                w.WriteNumber("index", 0);
                w.WriteStartObject("message");
                w.WriteString("role", "assistant");
                if (text.Length == 0 && toolUses.Count > 0) w.WriteNull("content");
                else w.WriteString("content", text.ToString());
                if (toolUses.Count > 0)
                {
                    w.WriteStartArray("tool_calls");
                    foreach (var tool in toolUses)
                    {
                        w.WriteStartObject();
                        w.WriteString("id", AnthropicMessages.Str(tool, "id"));
                        w.WriteString("type", "function");
                        w.WriteStartObject("function");
                        w.WriteString("name", AnthropicMessages.Str(tool, "name"));
                        w.WriteString("arguments", tool.TryGetProperty("input", out var input) ? Compact(input) : "{}");
                        w.WriteEndObject();
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                }
                if (hasReasoning) w.WriteString("reasoning_content", reasoning.ToString());
                if (blocks.Count > 0)
                {
                    w.WriteStartArray("thinking_blocks");
                    foreach (var block in blocks) WriteThinkingBlock(w, block);
                    w.WriteEndArray();
                }
                w.WriteEndObject();
                w.WriteString("finish_reason", AnthropicStopReason.ToFinishReason(AnthropicMessages.Str(root, "stop_reason")));
                w.WriteEndObject();
                w.WriteEndArray();
                anthropicUsage.WriteOpenAi(w);
                w.WriteEndObject();
            }
            return buffer.WrittenSpan.ToArray();
        }
    }

    /// <summary>Tool input as compact JSON text, as OpenAI sends arguments.</summary>
    private static string Compact(JsonElement input)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer, AnthropicJson.WriterOptions)) input.WriteTo(w);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>LiteLLM's thinking block shape: Anthropic's own block, so it can be sent back unchanged.</summary>
    private static void WriteThinkingBlock(Utf8JsonWriter w, JsonElement block)
    {
        w.WriteStartObject();
        if (AnthropicMessages.Str(block, "type") == "redacted_thinking")
        {
            w.WriteString("type", "redacted_thinking");
            w.WriteString("data", AnthropicMessages.Str(block, "data"));
        }
        else
        {
            w.WriteString("type", "thinking");
            w.WriteString("thinking", AnthropicMessages.Str(block, "thinking") ?? "");
            w.WriteString("signature", AnthropicMessages.Str(block, "signature") ?? "");
        }
        w.WriteEndObject();
    }
}
