using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace AgenticGateway.Providers.Anthropic;

/// <summary>
/// Converts OpenAI chat messages into the Messages API's shape: system and developer messages become the top-level
/// <c>system</c> blocks, the rest become content blocks in strictly alternating user/assistant turns (Anthropic
/// rejects two turns of the same role in a row, so consecutive ones are merged, and role:tool results join the user
/// turn that follows the assistant's tool calls).
/// </summary>
internal static class AnthropicMessages
{
    /// <summary>The converted conversation: <paramref name="System"/> is empty when the client sent no system text.</summary>
    public readonly record struct Converted(JsonArray System, JsonArray Messages);

    public static Converted Convert(JsonElement messages)
    {
        if (messages.ValueKind != JsonValueKind.Array) throw AnthropicRequestException.BadRequest("'messages' must be an array.", "messages");
        var system = new JsonArray();
        var turns = new List<(string Role, JsonArray Blocks)>();
        var i = 0;
        foreach (var message in messages.EnumerateArray())
        {
            var path = $"messages[{i++}]";
            if (message.ValueKind != JsonValueKind.Object) throw AnthropicRequestException.BadRequest($"{path} must be an object.", path);
            var role = message.TryGetProperty("role", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString()! : "";
            switch (role)
            {
                case "system" or "developer":
                    AddWithMessageCache(system, SystemBlocks(message, path), message);
                    break;
                case "user":
                    Append(turns, "user", WithMessageCache(UserBlocks(message, path), message));
                    break;
                case "assistant":
                    Append(turns, "assistant", WithMessageCache(AssistantBlocks(message, path), message));
                    break;
                case "tool":
                    Append(turns, "user", WithMessageCache([ToolResult(message, path)], message));
                    break;
                case "function":
                    throw AnthropicRequestException.BadRequest($"{path}: role 'function' (deprecated function calling) has no tool call id to answer; use tool_calls and role 'tool'.", path + ".role");
                default:
                    throw AnthropicRequestException.BadRequest($"{path}: unknown role '{role}'.", path + ".role");
            }
        }
        if (turns.Count == 0) throw AnthropicRequestException.BadRequest("Anthropic needs at least one user or assistant message besides the system prompt.", "messages");
        var result = new JsonArray();
        foreach (var (role, blocks) in turns) result.Add(new JsonObject { ["role"] = role, ["content"] = blocks });
        return new Converted(system, result);
    }

    private static void Append(List<(string Role, JsonArray Blocks)> turns, string role, List<JsonObject> blocks)
    {
        if (blocks.Count == 0) return;
        if (turns.Count == 0 || turns[^1].Role != role) turns.Add((role, new JsonArray()));
        var target = turns[^1].Blocks;
        foreach (var block in blocks) target.Add(block);
    }

    /// <summary>LiteLLM lets <c>cache_control</c> sit on a whole message: Anthropic takes it on the message's last block.</summary>
    private static List<JsonObject> WithMessageCache(List<JsonObject> blocks, JsonElement message)
    {
        if (blocks.Count > 0 && message.TryGetProperty("cache_control", out var cache) && cache.ValueKind == JsonValueKind.Object)
            blocks[^1]["cache_control"] = Node(cache);
        return blocks;
    }

    private static void AddWithMessageCache(JsonArray target, List<JsonObject> blocks, JsonElement message)
    {
        foreach (var block in WithMessageCache(blocks, message)) target.Add(block);
    }

    private static List<JsonObject> SystemBlocks(JsonElement message, string path)
    {
        var blocks = new List<JsonObject>();
        if (!message.TryGetProperty("content", out var content)) return blocks;
        if (content.ValueKind == JsonValueKind.String)
        {
            if (content.GetString() is { Length: > 0 } text) blocks.Add(Text(text));
            return blocks;
        }
        if (content.ValueKind != JsonValueKind.Array) throw AnthropicRequestException.BadRequest($"{path}.content must be a string or an array of text parts.", path + ".content");
        var j = 0;
        foreach (var part in content.EnumerateArray())
        {
            var partPath = $"{path}.content[{j++}]";
            if (PartType(part) != "text") throw AnthropicRequestException.BadRequest($"{partPath}: a system message can only hold text parts.", partPath);
            if (TextPart(part, partPath) is { } block) blocks.Add(block);
        }
        return blocks;
    }

    private static List<JsonObject> UserBlocks(JsonElement message, string path)
    {
        var blocks = new List<JsonObject>();
        if (!message.TryGetProperty("content", out var content) || content.ValueKind == JsonValueKind.Null)
            throw AnthropicRequestException.BadRequest($"{path}.content is required for a user message.", path + ".content");
        if (content.ValueKind == JsonValueKind.String)
        {
            if (content.GetString() is { Length: > 0 } text) blocks.Add(Text(text));
            return blocks;
        }
        if (content.ValueKind != JsonValueKind.Array) throw AnthropicRequestException.BadRequest($"{path}.content must be a string or an array of parts.", path + ".content");
        var j = 0;
        foreach (var part in content.EnumerateArray())
        {
            if (ContentPart(part, $"{path}.content[{j++}]") is { } block) blocks.Add(block);
        }
        return blocks;
    }

    private static List<JsonObject> AssistantBlocks(JsonElement message, string path)
    {
        var blocks = new List<JsonObject>();
        // Thinking comes first in an assistant turn, exactly as Claude produced it: Anthropic checks the signature and
        // rejects an unsigned block, so reasoning_content alone (without LiteLLM's thinking_blocks) cannot go back.
        if (message.TryGetProperty("thinking_blocks", out var thinking) && thinking.ValueKind == JsonValueKind.Array)
        {
            foreach (var block in thinking.EnumerateArray())
            {
                if (block.ValueKind != JsonValueKind.Object) continue;
                var type = PartType(block);
                if (type == "thinking" && Str(block, "signature") is { Length: > 0 } signature)
                    blocks.Add(new JsonObject { ["type"] = "thinking", ["thinking"] = Str(block, "thinking") ?? "", ["signature"] = signature });
                else if (type == "redacted_thinking" && Str(block, "data") is { Length: > 0 } data)
                    blocks.Add(new JsonObject { ["type"] = "redacted_thinking", ["data"] = data });
            }
        }
        if (message.TryGetProperty("content", out var content))
        {
            if (content.ValueKind == JsonValueKind.String)
            {
                if (content.GetString() is { Length: > 0 } text) blocks.Add(Text(text));
            }
            else if (content.ValueKind == JsonValueKind.Array)
            {
                var j = 0;
                foreach (var part in content.EnumerateArray())
                {
                    var partPath = $"{path}.content[{j++}]";
                    var type = PartType(part);
                    var block = type switch
                    {
                        "text" => TextPart(part, partPath),
                        // OpenAI's refusal part is what the assistant said; Anthropic has only text for it.
                        "refusal" => Str(part, "refusal") is { Length: > 0 } refusal ? Text(refusal) : null,
                        _ => throw AnthropicRequestException.BadRequest($"{partPath}: an assistant message can only hold text and refusal parts.", partPath),
                    };
                    if (block is not null) blocks.Add(block);
                }
            }
        }
        if (message.TryGetProperty("function_call", out var fc) && fc.ValueKind == JsonValueKind.Object)
            throw AnthropicRequestException.BadRequest($"{path}.function_call (deprecated function calling) has no call id; use tool_calls.", path + ".function_call");
        if (message.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array)
        {
            var k = 0;
            foreach (var call in calls.EnumerateArray()) blocks.Add(ToolUse(call, $"{path}.tool_calls[{k++}]"));
        }
        return blocks;
    }

    private static JsonObject ToolUse(JsonElement call, string path)
    {
        var id = Str(call, "id");
        var fn = call.TryGetProperty("function", out var f) && f.ValueKind == JsonValueKind.Object ? f : default;
        var name = fn.ValueKind == JsonValueKind.Object ? Str(fn, "name") : null;
        if (string.IsNullOrEmpty(id) || string.IsNullOrEmpty(name))
            throw AnthropicRequestException.BadRequest($"{path} needs an id and a function name.", path);
        var arguments = Str(fn, "arguments");
        JsonNode input;
        if (string.IsNullOrWhiteSpace(arguments)) input = new JsonObject();
        else
        {
            try { input = JsonNode.Parse(arguments) ?? new JsonObject(); }
            catch (JsonException) { throw AnthropicRequestException.BadRequest($"{path}.function.arguments is not valid JSON; Anthropic takes tool input as a JSON object.", path + ".function.arguments"); }
            if (input is not JsonObject) throw AnthropicRequestException.BadRequest($"{path}.function.arguments must be a JSON object.", path + ".function.arguments");
        }
        return new JsonObject { ["type"] = "tool_use", ["id"] = id, ["name"] = name, ["input"] = input };
    }

    private static JsonObject ToolResult(JsonElement message, string path)
    {
        var id = Str(message, "tool_call_id");
        if (string.IsNullOrEmpty(id)) throw AnthropicRequestException.BadRequest($"{path}.tool_call_id is required for a tool message.", path + ".tool_call_id");
        var block = new JsonObject { ["type"] = "tool_result", ["tool_use_id"] = id };
        if (message.TryGetProperty("content", out var content))
        {
            if (content.ValueKind == JsonValueKind.String)
            {
                if (content.GetString() is { Length: > 0 } text) block["content"] = text;
            }
            else if (content.ValueKind == JsonValueKind.Array)
            {
                var parts = new JsonArray();
                var j = 0;
                foreach (var part in content.EnumerateArray())
                {
                    if (ContentPart(part, $"{path}.content[{j++}]") is { } b) parts.Add(b);
                }
                if (parts.Count > 0) block["content"] = parts;
            }
        }
        return block;
    }

    /// <summary>One user (or tool result) content part: text, image, or file (PDF or plain text) as Anthropic blocks.</summary>
    private static JsonObject? ContentPart(JsonElement part, string path)
    {
        switch (PartType(part))
        {
            case "text":
                return TextPart(part, path);
            case "image_url":
                var image = part.TryGetProperty("image_url", out var iu) ? iu : default;
                var url = image.ValueKind == JsonValueKind.String ? image.GetString() : image.ValueKind == JsonValueKind.Object ? Str(image, "url") : null;
                if (string.IsNullOrEmpty(url)) throw AnthropicRequestException.BadRequest($"{path}.image_url.url is required.", path + ".image_url");
                return Cached(FromUrl(url, null, path + ".image_url.url"), part);
            case "file":
                var file = part.TryGetProperty("file", out var fe) && fe.ValueKind == JsonValueKind.Object ? fe : default;
                if (file.ValueKind == JsonValueKind.Object && Str(file, "file_data") is { Length: > 0 } data)
                    return Cached(FromUrl(data, Str(file, "filename"), path + ".file.file_data"), part);
                throw AnthropicRequestException.BadRequest($"{path}: only inline files (file.file_data as a data URL) can be sent to Anthropic; file_id refers to OpenAI's file store.", path + ".file");
            case "document":
                // An Anthropic document block sent as is (LiteLLM accepts these in OpenAI messages).
                return Node(part) as JsonObject;
            case "input_audio":
                throw AnthropicRequestException.BadRequest($"{path}: Anthropic models do not take audio input.", path);
            default:
                throw AnthropicRequestException.BadRequest($"{path}: content part type '{PartType(part)}' is not supported by Anthropic.", path + ".type");
        }
    }

    /// <summary>A data URL becomes a base64 image or document; an http(s) URL an image fetched by Anthropic.</summary>
    private static JsonObject FromUrl(string url, string? filename, string path)
    {
        if (url.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || url.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            var isPdf = Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.AbsolutePath.EndsWith(".pdf", StringComparison.OrdinalIgnoreCase);
            return new JsonObject { ["type"] = isPdf ? "document" : "image", ["source"] = new JsonObject { ["type"] = "url", ["url"] = url } };
        }
        if (!url.StartsWith("data:", StringComparison.OrdinalIgnoreCase))
            throw AnthropicRequestException.BadRequest($"{path} must be an http(s) URL or a base64 data URL.", path);
        var comma = url.IndexOf(',');
        var header = comma > 0 ? url[5..comma] : "";
        if (comma < 0 || !header.EndsWith(";base64", StringComparison.OrdinalIgnoreCase))
            throw AnthropicRequestException.BadRequest($"{path} must be a base64 data URL (data:<media type>;base64,<data>).", path);
        var mediaType = header[..^";base64".Length].ToLowerInvariant();
        var data = url[(comma + 1)..];
        JsonObject block;
        if (mediaType == "application/pdf")
            block = new JsonObject { ["type"] = "document", ["source"] = new JsonObject { ["type"] = "base64", ["media_type"] = mediaType, ["data"] = data } };
        else if (mediaType == "text/plain")
        {
            string text;
            try { text = Encoding.UTF8.GetString(System.Convert.FromBase64String(data)); }
            catch (FormatException) { throw AnthropicRequestException.BadRequest($"{path} is not valid base64.", path); }
            block = new JsonObject { ["type"] = "document", ["source"] = new JsonObject { ["type"] = "text", ["media_type"] = mediaType, ["data"] = text } };
        }
        else if (mediaType is "image/jpeg" or "image/png" or "image/gif" or "image/webp")
            return new JsonObject { ["type"] = "image", ["source"] = new JsonObject { ["type"] = "base64", ["media_type"] = mediaType, ["data"] = data } };
        else
            throw AnthropicRequestException.BadRequest($"{path}: media type '{mediaType}' is not supported by Anthropic (images: jpeg, png, gif, webp; documents: pdf, plain text).", path);
        if (!string.IsNullOrEmpty(filename)) block["title"] = filename;
        return block;
    }

    private static JsonObject? TextPart(JsonElement part, string path)
    {
        var text = Str(part, "text") ?? throw AnthropicRequestException.BadRequest($"{path}.text is required.", path + ".text");
        // Anthropic rejects empty text blocks; an empty part carries nothing.
        return text.Length == 0 ? null : Cached(Text(text), part);
    }

    private static JsonObject Cached(JsonObject block, JsonElement part)
    {
        if (part.TryGetProperty("cache_control", out var cache) && cache.ValueKind == JsonValueKind.Object) block["cache_control"] = Node(cache);
        return block;
    }

    private static JsonObject Text(string text) => new() { ["type"] = "text", ["text"] = text };

    private static string? PartType(JsonElement part) =>
        part.ValueKind == JsonValueKind.Object && part.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;

    internal static string? Str(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    /// <summary>A detached copy of a client value, for fields passed through unchanged (schemas, cache_control).</summary>
    internal static JsonNode? Node(JsonElement element) => JsonNode.Parse(element.GetRawText());
}
