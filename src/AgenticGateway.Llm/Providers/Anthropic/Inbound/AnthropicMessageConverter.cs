using System.Text;
using System.Text.Json;

namespace AgenticGateway.Providers.Anthropic.Inbound;

/// <summary>Writes Anthropic <c>system</c> and <c>messages</c> as OpenAI chat messages.</summary>
/// <remarks>
/// <para>A user turn's <c>tool_result</c> blocks become <c>role:"tool"</c> messages, one per block, written before
/// the rest of that turn: OpenAI requires the tool answers right after the assistant's <c>tool_calls</c>. A tool result
/// is text (its text blocks joined by a newline); <c>is_error</c> has no OpenAI field, so the text is prefixed with
/// <c>"Error: "</c>. Images and PDFs inside a tool result cannot go in a tool message (text only), so they follow in
/// the user message that carries the rest of the turn.</para>
/// <para>An assistant turn becomes one message: text blocks concatenated into <c>content</c> (null when the turn is
/// only tool calls), <c>tool_use</c> blocks into <c>tool_calls</c> (arguments = the JSON text of <c>input</c>), and
/// <c>thinking</c>/<c>redacted_thinking</c> into LiteLLM's <c>reasoning_content</c> plus <c>thinking_blocks</c>, which
/// keeps the signatures a Claude backend needs to continue a thinking conversation.</para>
/// <para>Content that is a single text block is written as a plain string (accepted by every OpenAI-compatible
/// server); anything else as a list of parts.</para>
/// </remarks>
internal static class AnthropicMessageConverter
{
    public static void WriteSystem(Utf8JsonWriter w, JsonElement system)
    {
        switch (system.ValueKind)
        {
            case JsonValueKind.Null:
                return;
            case JsonValueKind.String:
                if (system.GetString() is not { Length: > 0 } text) return;
                w.WriteStartObject();
                w.WriteString("role", "system");
                w.WriteString("content", text);
                w.WriteEndObject();
                return;
            case JsonValueKind.Array:
                var texts = new List<string>();
                var j = 0;
                foreach (var block in system.EnumerateArray())
                {
                    if (BlockType(block, $"system.{j}") != "text") throw new InboundRequestException($"system.{j}.type: Input should be 'text'", $"system.{j}.type");
                    texts.Add(Text(block, $"system.{j}"));
                    j++;
                }
                if (texts.Count == 0) return;
                w.WriteStartObject();
                w.WriteString("role", "system");
                WriteTextContent(w, texts);
                w.WriteEndObject();
                return;
            default:
                throw new InboundRequestException("system: Input should be a valid string or a list of text blocks", "system");
        }
    }

    public static void WriteMessage(Utf8JsonWriter w, JsonElement message, int i)
    {
        var path = $"messages.{i}";
        if (message.ValueKind != JsonValueKind.Object) throw new InboundRequestException($"{path}: Input should be a valid dictionary", path);
        if (!message.TryGetProperty("role", out var role)) throw new InboundRequestException($"{path}.role: Field required", $"{path}.role");
        if (!message.TryGetProperty("content", out var content)) throw new InboundRequestException($"{path}.content: Field required", $"{path}.content");
        if (content.ValueKind is not (JsonValueKind.String or JsonValueKind.Array))
            throw new InboundRequestException($"{path}.content: Input should be a valid string or a list of content blocks", $"{path}.content");
        if (role.ValueKind == JsonValueKind.String && role.ValueEquals("user")) WriteUser(w, content, path);
        else if (role.ValueKind == JsonValueKind.String && role.ValueEquals("assistant")) WriteAssistant(w, content, path);
        else if (role.ValueKind == JsonValueKind.String && role.ValueEquals("system")) WriteSystemMessage(w, content, path);
        else throw new InboundRequestException($"{path}.role: Input should be 'user', 'assistant' or 'system'", $"{path}.role");
    }

    /// <summary>
    /// A mid-conversation system message (Anthropic accepts <c>role:"system"</c> turns in <c>messages</c> since Claude
    /// Opus 4.8): text only, written where it stands; placement rules are the backend's to enforce.
    /// </summary>
    private static void WriteSystemMessage(Utf8JsonWriter w, JsonElement content, string path)
    {
        if (content.ValueKind == JsonValueKind.String)
        {
            WriteSimple(w, "system", content.GetString()!);
            return;
        }
        var texts = new List<string>();
        var j = 0;
        foreach (var block in content.EnumerateArray())
        {
            var blockPath = $"{path}.content.{j++}";
            if (BlockType(block, blockPath) != "text") throw new InboundRequestException($"{blockPath}.type: a system message takes text blocks only", $"{blockPath}.type");
            texts.Add(Text(block, blockPath));
        }
        w.WriteStartObject();
        w.WriteString("role", "system");
        if (texts.Count == 0) w.WriteString("content", "");
        else WriteTextContent(w, texts);
        w.WriteEndObject();
    }

    private static void WriteUser(Utf8JsonWriter w, JsonElement content, string path)
    {
        if (content.ValueKind == JsonValueKind.String)
        {
            WriteSimple(w, "user", content.GetString()!);
            return;
        }
        // First the tool answers, then everything else of the turn in one user message.
        var parts = new List<Action<Utf8JsonWriter>>();
        var texts = new List<string>();
        var onlyText = true;
        var j = 0;
        foreach (var block in content.EnumerateArray())
        {
            var blockPath = $"{path}.content.{j++}";
            switch (BlockType(block, blockPath))
            {
                case "tool_result":
                    WriteToolResult(w, block, blockPath, parts, ref onlyText);
                    break;
                case "text":
                    var text = Text(block, blockPath);
                    texts.Add(text);
                    parts.Add(x => WriteTextPart(x, text));
                    break;
                case "image":
                    onlyText = false;
                    parts.Add(ImagePart(block, blockPath));
                    break;
                case "document":
                    AddDocument(block, blockPath, parts, texts, ref onlyText);
                    break;
                case var other:
                    throw new InboundRequestException($"{blockPath}.type: content block type '{other}' is not supported in a user message on this deployment", $"{blockPath}.type");
            }
        }
        if (parts.Count == 0)
        {
            // A turn of tool results only; a turn of nothing at all still reaches the model as an empty message.
            if (j == 0) WriteSimple(w, "user", "");
            return;
        }
        w.WriteStartObject();
        w.WriteString("role", "user");
        if (onlyText && texts.Count == parts.Count) WriteTextContent(w, texts);
        else
        {
            w.WritePropertyName("content");
            w.WriteStartArray();
            foreach (var part in parts) part(w);
            w.WriteEndArray();
        }
        w.WriteEndObject();
    }

    private static void WriteToolResult(Utf8JsonWriter w, JsonElement block, string path, List<Action<Utf8JsonWriter>> userParts, ref bool onlyText)
    {
        if (!block.TryGetProperty("tool_use_id", out var id) || id.ValueKind != JsonValueKind.String)
            throw new InboundRequestException($"{path}.tool_use_id: Field required", $"{path}.tool_use_id");
        var text = new StringBuilder();
        if (block.TryGetProperty("content", out var content))
        {
            if (content.ValueKind == JsonValueKind.String) text.Append(content.GetString());
            else if (content.ValueKind == JsonValueKind.Array)
            {
                var k = 0;
                foreach (var inner in content.EnumerateArray())
                {
                    var innerPath = $"{path}.content.{k++}";
                    switch (BlockType(inner, innerPath))
                    {
                        case "text":
                            if (text.Length > 0) text.Append('\n');
                            text.Append(Text(inner, innerPath));
                            break;
                        case "image":
                            onlyText = false;
                            userParts.Add(ImagePart(inner, innerPath));
                            break;
                        case "document":
                            var docTexts = new List<string>();
                            AddDocument(inner, innerPath, userParts, docTexts, ref onlyText);
                            break;
                        case var other:
                            throw new InboundRequestException($"{innerPath}.type: content block type '{other}' is not supported in a tool result on this deployment", $"{innerPath}.type");
                    }
                }
            }
            else if (content.ValueKind != JsonValueKind.Null)
                throw new InboundRequestException($"{path}.content: Input should be a valid string or a list of content blocks", $"{path}.content");
        }
        var isError = block.TryGetProperty("is_error", out var error) && error.ValueKind == JsonValueKind.True;
        w.WriteStartObject();
        w.WriteString("role", "tool");
        w.WriteString("tool_call_id", id.GetString());
        w.WriteString("content", isError ? "Error: " + text : text.ToString());
        w.WriteEndObject();
    }

    private static void WriteAssistant(Utf8JsonWriter w, JsonElement content, string path)
    {
        if (content.ValueKind == JsonValueKind.String)
        {
            WriteSimple(w, "assistant", content.GetString()!);
            return;
        }
        var text = new StringBuilder();
        var hasText = false;
        var reasoning = new StringBuilder();
        var toolUses = new List<JsonElement>();
        var thinkingBlocks = new List<JsonElement>();
        var j = 0;
        foreach (var block in content.EnumerateArray())
        {
            var blockPath = $"{path}.content.{j++}";
            switch (BlockType(block, blockPath))
            {
                case "text":
                    text.Append(Text(block, blockPath));
                    hasText = true;
                    break;
                case "tool_use":
                    if (!block.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.String)
                        throw new InboundRequestException($"{blockPath}.id: Field required", $"{blockPath}.id");
                    if (!block.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
                        throw new InboundRequestException($"{blockPath}.name: Field required", $"{blockPath}.name");
                    if (block.TryGetProperty("input", out var input) && input.ValueKind != JsonValueKind.Object)
                        throw new InboundRequestException($"{blockPath}.input: Input should be a valid dictionary", $"{blockPath}.input");
                    toolUses.Add(block);
                    break;
                case "thinking":
                    if (block.TryGetProperty("thinking", out var thought) && thought.ValueKind == JsonValueKind.String) reasoning.Append(thought.GetString());
                    thinkingBlocks.Add(block);
                    break;
                case "redacted_thinking":
                    thinkingBlocks.Add(block);
                    break;
                case var other:
                    throw new InboundRequestException($"{blockPath}.type: content block type '{other}' is not supported in an assistant message on this deployment", $"{blockPath}.type");
            }
        }
        w.WriteStartObject();
        w.WriteString("role", "assistant");
        if (hasText || toolUses.Count == 0) w.WriteString("content", text.ToString());
        else w.WriteNull("content");
        if (toolUses.Count > 0)
        {
            w.WritePropertyName("tool_calls");
            w.WriteStartArray();
            foreach (var use in toolUses)
            {
                w.WriteStartObject();
                w.WriteString("id", use.GetProperty("id").GetString());
                w.WriteString("type", "function");
                w.WriteStartObject("function");
                w.WriteString("name", use.GetProperty("name").GetString());
                w.WriteString("arguments", use.TryGetProperty("input", out var input) ? Compact(input) : "{}");
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        if (thinkingBlocks.Count > 0)
        {
            if (reasoning.Length > 0) w.WriteString("reasoning_content", reasoning.ToString());
            w.WritePropertyName("thinking_blocks");
            w.WriteStartArray();
            foreach (var block in thinkingBlocks) WriteThinkingBlock(w, block);
            w.WriteEndArray();
        }
        w.WriteEndObject();
    }

    /// <summary>A thinking block without <c>cache_control</c>, in LiteLLM's <c>thinking_blocks</c> shape (which is Anthropic's).</summary>
    private static void WriteThinkingBlock(Utf8JsonWriter w, JsonElement block)
    {
        w.WriteStartObject();
        foreach (var property in block.EnumerateObject())
        {
            if (property.NameEquals("cache_control")) continue;
            property.WriteTo(w);
        }
        w.WriteEndObject();
    }

    private static Action<Utf8JsonWriter> ImagePart(JsonElement block, string path)
    {
        var url = SourceUrl(block, path, "image");
        return w =>
        {
            w.WriteStartObject();
            w.WriteString("type", "image_url");
            w.WriteStartObject("image_url");
            w.WriteString("url", url);
            w.WriteEndObject();
            w.WriteEndObject();
        };
    }

    /// <summary>
    /// A document block: a base64 PDF becomes OpenAI's <c>file</c> part (<c>file_data</c> as a data URL, the title or
    /// "document.pdf" as <c>filename</c>, which OpenAI requires); plain text and content sources become text parts.
    /// A URL or Files-API source has no OpenAI equivalent and is refused.
    /// </summary>
    private static void AddDocument(JsonElement block, string path, List<Action<Utf8JsonWriter>> parts, List<string> texts, ref bool onlyText)
    {
        var source = Source(block, path);
        var sourceType = source.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        switch (sourceType)
        {
            case "base64":
                onlyText = false;
                var media = source.TryGetProperty("media_type", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString()! : "application/pdf";
                var data = RequiredSourceString(source, "data", path);
                var filename = block.TryGetProperty("title", out var title) && title.ValueKind == JsonValueKind.String && title.GetString() is { Length: > 0 } name
                    ? name
                    : "document.pdf";
                parts.Add(w =>
                {
                    w.WriteStartObject();
                    w.WriteString("type", "file");
                    w.WriteStartObject("file");
                    w.WriteString("filename", filename);
                    w.WriteString("file_data", $"data:{media};base64,{data}");
                    w.WriteEndObject();
                    w.WriteEndObject();
                });
                return;
            case "text":
                var text = RequiredSourceString(source, "data", path);
                texts.Add(text);
                parts.Add(w => WriteTextPart(w, text));
                return;
            case "content":
                if (!source.TryGetProperty("content", out var inner)) throw new InboundRequestException($"{path}.source.content: Field required", $"{path}.source.content");
                if (inner.ValueKind == JsonValueKind.String)
                {
                    var s = inner.GetString()!;
                    texts.Add(s);
                    parts.Add(w => WriteTextPart(w, s));
                    return;
                }
                if (inner.ValueKind != JsonValueKind.Array)
                    throw new InboundRequestException($"{path}.source.content: Input should be a valid string or a list of content blocks", $"{path}.source.content");
                var k = 0;
                foreach (var item in inner.EnumerateArray())
                {
                    var itemPath = $"{path}.source.content.{k++}";
                    switch (BlockType(item, itemPath))
                    {
                        case "text":
                            var itemText = Text(item, itemPath);
                            texts.Add(itemText);
                            parts.Add(w => WriteTextPart(w, itemText));
                            break;
                        case "image":
                            onlyText = false;
                            parts.Add(ImagePart(item, itemPath));
                            break;
                        case var other:
                            throw new InboundRequestException($"{itemPath}.type: content block type '{other}' is not supported in a document", $"{itemPath}.type");
                    }
                }
                return;
            default:
                throw new InboundRequestException($"{path}.source.type: document source type '{sourceType}' is not supported on this deployment (use base64 or text)", $"{path}.source.type");
        }
    }

    /// <summary>An image source as an OpenAI image URL: base64 becomes a data URL, a URL stays as it is.</summary>
    private static string SourceUrl(JsonElement block, string path, string kind)
    {
        var source = Source(block, path);
        var sourceType = source.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        return sourceType switch
        {
            "base64" => $"data:{RequiredSourceString(source, "media_type", path)};base64,{RequiredSourceString(source, "data", path)}",
            "url" => RequiredSourceString(source, "url", path),
            _ => throw new InboundRequestException($"{path}.source.type: {kind} source type '{sourceType}' is not supported on this deployment (use base64 or url)", $"{path}.source.type"),
        };
    }

    private static JsonElement Source(JsonElement block, string path)
    {
        if (!block.TryGetProperty("source", out var source) || source.ValueKind != JsonValueKind.Object)
            throw new InboundRequestException($"{path}.source: Field required", $"{path}.source");
        return source;
    }

    private static string RequiredSourceString(JsonElement source, string name, string path)
    {
        if (!source.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.String)
            throw new InboundRequestException($"{path}.source.{name}: Field required", $"{path}.source.{name}");
        return value.GetString()!;
    }

    internal static string BlockType(JsonElement block, string path)
    {
        if (block.ValueKind != JsonValueKind.Object) throw new InboundRequestException($"{path}: Input should be a valid content block", path);
        if (!block.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
            throw new InboundRequestException($"{path}.type: Field required", $"{path}.type");
        return type.GetString()!;
    }

    private static string Text(JsonElement block, string path)
    {
        if (!block.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
            throw new InboundRequestException($"{path}.text: Field required", $"{path}.text");
        return text.GetString()!;
    }

    private static void WriteSimple(Utf8JsonWriter w, string role, string content)
    {
        w.WriteStartObject();
        w.WriteString("role", role);
        w.WriteString("content", content);
        w.WriteEndObject();
    }

    private static void WriteTextContent(Utf8JsonWriter w, List<string> texts)
    {
        if (texts.Count == 1)
        {
            w.WriteString("content", texts[0]);
            return;
        }
        w.WritePropertyName("content");
        w.WriteStartArray();
        foreach (var text in texts) WriteTextPart(w, text);
        w.WriteEndArray();
    }

    private static void WriteTextPart(Utf8JsonWriter w, string text)
    {
        w.WriteStartObject();
        w.WriteString("type", "text");
        w.WriteString("text", text);
        w.WriteEndObject();
    }

    /// <summary>The JSON text of a value without insignificant whitespace, as OpenAI's own tool call arguments look.</summary>
    internal static string Compact(JsonElement value)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            value.WriteTo(w);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
