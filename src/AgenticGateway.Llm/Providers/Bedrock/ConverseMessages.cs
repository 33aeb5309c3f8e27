using System.Text.Json;
using System.Text.Json.Nodes;

namespace AgenticGateway.Providers.Bedrock;

/// <summary>One Converse message: a role and its content blocks.</summary>
internal sealed class ConverseTurn(string role)
{
    public string Role { get; } = role;
    public List<JsonObject> Content { get; } = [];

    public void WriteTo(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("role", Role);
        w.WriteStartArray("content");
        foreach (var block in Content) block.WriteTo(w);
        w.WriteEndArray();
        w.WriteEndObject();
    }
}

/// <summary>
/// OpenAI messages to Converse messages: system and developer messages become the top-level system prompt, tool
/// results become user <c>toolResult</c> blocks, assistant tool calls <c>toolUse</c> blocks, and consecutive messages
/// of one role are merged (Converse requires user and assistant turns to alternate).
/// </summary>
internal static class ConverseMessages
{
    private static readonly Dictionary<string, string> ImageFormats = new(StringComparer.OrdinalIgnoreCase)
    {
        ["image/png"] = "png", ["image/jpeg"] = "jpeg", ["image/jpg"] = "jpeg", ["image/gif"] = "gif", ["image/webp"] = "webp",
    };

    private static readonly Dictionary<string, string> DocumentFormats = new(StringComparer.OrdinalIgnoreCase)
    {
        ["application/pdf"] = "pdf", ["text/csv"] = "csv", ["application/msword"] = "doc",
        ["application/vnd.openxmlformats-officedocument.wordprocessingml.document"] = "docx",
        ["application/vnd.ms-excel"] = "xls", ["application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"] = "xlsx",
        ["text/html"] = "html", ["text/plain"] = "txt", ["text/markdown"] = "md",
    };

    public static List<ConverseTurn> Build(JsonArray messages, out List<string> system, out bool usesTools)
    {
        system = [];
        usesTools = false;
        var turns = new List<ConverseTurn>();
        var documents = 0;
        for (var i = 0; i < messages.Count; i++)
        {
            if (messages[i] is not JsonObject message || message["role"]?.GetValue<string>() is not { } role)
                throw ConverseRequestWriter.Refuse($"messages[{i}] needs a role", "messages");
            var content = message["content"];
            switch (role)
            {
                case "system" or "developer":
                    foreach (var text in TextParts(content, i)) if (text.Length > 0) system.Add(text);
                    break;
                case "user":
                    AddUser(Turn(turns, "user"), content, i, ref documents);
                    break;
                case "assistant":
                    usesTools |= AddAssistant(Turn(turns, "assistant"), message, i);
                    break;
                case "tool":
                    usesTools = true;
                    var callId = message["tool_call_id"]?.GetValue<string>() ?? throw ConverseRequestWriter.Refuse($"messages[{i}] (role tool) needs tool_call_id", "messages");
                    var result = new JsonArray();
                    foreach (var text in TextParts(content, i)) result.Add(new JsonObject { ["text"] = text });
                    if (result.Count == 0) result.Add(new JsonObject { ["text"] = "" });
                    Turn(turns, "user").Content.Add(new JsonObject { ["toolResult"] = new JsonObject { ["toolUseId"] = callId, ["content"] = result } });
                    break;
                default:
                    throw ConverseRequestWriter.Refuse($"messages[{i}]: role '{role}' is not supported by Bedrock Converse", "messages");
            }
        }
        turns.RemoveAll(t => t.Content.Count == 0);
        return turns;
    }

    /// <summary>The turn to append to: the last one when it has the same role, else a new one.</summary>
    private static ConverseTurn Turn(List<ConverseTurn> turns, string role)
    {
        if (turns.Count > 0 && turns[^1].Role == role) return turns[^1];
        var turn = new ConverseTurn(role);
        turns.Add(turn);
        return turn;
    }

    private static IEnumerable<string> TextParts(JsonNode? content, int index)
    {
        switch (content)
        {
            case null:
                yield break;
            case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                yield return v.GetValue<string>();
                break;
            case JsonValue v when v.GetValueKind() == JsonValueKind.Null:
                yield break;
            case JsonArray parts:
                foreach (var part in parts)
                {
                    if (part is JsonObject p && p["type"]?.GetValue<string>() is "text" or "refusal" && (p["text"] ?? p["refusal"])?.GetValue<string>() is { } text) yield return text;
                    else throw ConverseRequestWriter.Refuse($"messages[{index}]: only text parts are accepted in this message", "messages");
                }
                break;
            default:
                throw ConverseRequestWriter.Refuse($"messages[{index}].content must be a string or an array of parts", "messages");
        }
    }

    private static void AddUser(ConverseTurn turn, JsonNode? content, int index, ref int documents)
    {
        if (content is not JsonArray parts)
        {
            foreach (var text in TextParts(content, index)) if (text.Length > 0) turn.Content.Add(new JsonObject { ["text"] = text });
            return;
        }
        foreach (var part in parts)
        {
            var type = (part as JsonObject)?["type"]?.GetValue<string>();
            switch (type)
            {
                case "text":
                    if (part!["text"]?.GetValue<string>() is { Length: > 0 } text) turn.Content.Add(new JsonObject { ["text"] = text });
                    break;
                case "image_url":
                    var url = part!["image_url"] is JsonObject io ? io["url"]?.GetValue<string>() : part["image_url"]?.GetValue<string>();
                    var (mime, data) = DataUrl(url, index, "image_url");
                    if (!ImageFormats.TryGetValue(mime, out var format))
                        throw ConverseRequestWriter.Refuse($"messages[{index}]: image type '{mime}' is not supported by Bedrock Converse (png, jpeg, gif, webp)", "messages");
                    turn.Content.Add(new JsonObject { ["image"] = new JsonObject { ["format"] = format, ["source"] = new JsonObject { ["bytes"] = data } } });
                    break;
                case "file":
                    var file = part!["file"] as JsonObject;
                    if (file?["file_id"] is not null && file["file_data"] is null)
                        throw ConverseRequestWriter.Refuse($"messages[{index}]: uploaded file ids cannot be sent to Bedrock; send file_data as a base64 data URL", "messages");
                    var (fileMime, fileData) = DataUrl(file?["file_data"]?.GetValue<string>(), index, "file");
                    documents++;
                    if (ImageFormats.TryGetValue(fileMime, out var imageFormat))
                    {
                        turn.Content.Add(new JsonObject { ["image"] = new JsonObject { ["format"] = imageFormat, ["source"] = new JsonObject { ["bytes"] = fileData } } });
                        break;
                    }
                    if (!DocumentFormats.TryGetValue(fileMime, out var docFormat))
                        throw ConverseRequestWriter.Refuse($"messages[{index}]: file type '{fileMime}' is not supported by Bedrock Converse", "messages");
                    turn.Content.Add(new JsonObject
                    {
                        ["document"] = new JsonObject
                        {
                            ["format"] = docFormat,
                            ["name"] = DocumentName(file?["filename"]?.GetValue<string>(), documents),
                            ["source"] = new JsonObject { ["bytes"] = fileData },
                        },
                    });
                    break;
                default:
                    throw ConverseRequestWriter.Refuse($"messages[{index}]: content part type '{type}' is not supported by Bedrock Converse", "messages");
            }
        }
    }

    /// <summary>Returns true when the message carried tool calls.</summary>
    private static bool AddAssistant(ConverseTurn turn, JsonObject message, int index)
    {
        // Thinking blocks (LiteLLM's thinking_blocks) go back first and signed, as Claude requires for tool use with thinking.
        if (message["thinking_blocks"] is JsonArray thinkingBlocks)
            foreach (var block in thinkingBlocks.OfType<JsonObject>())
            {
                var kind = block["type"]?.GetValue<string>();
                if (kind == "thinking")
                {
                    var reasoningText = new JsonObject { ["text"] = block["thinking"]?.GetValue<string>() ?? "" };
                    if (block["signature"]?.GetValue<string>() is { } signature) reasoningText["signature"] = signature;
                    turn.Content.Add(new JsonObject { ["reasoningContent"] = new JsonObject { ["reasoningText"] = reasoningText } });
                }
                else if (kind == "redacted_thinking" && block["data"]?.GetValue<string>() is { } data)
                    turn.Content.Add(new JsonObject { ["reasoningContent"] = new JsonObject { ["redactedContent"] = data } });
            }
        foreach (var text in TextParts(message["content"], index)) if (text.Length > 0) turn.Content.Add(new JsonObject { ["text"] = text });
        if (message["tool_calls"] is not JsonArray calls) return false;
        foreach (var call in calls)
        {
            if (call is not JsonObject c || c["function"] is not JsonObject fn || fn["name"]?.GetValue<string>() is not { } name || c["id"]?.GetValue<string>() is not { } id)
                throw ConverseRequestWriter.Refuse($"messages[{index}].tool_calls: each call needs id and function.name", "messages");
            var arguments = fn["arguments"]?.GetValue<string>();
            JsonNode input;
            try
            {
                input = string.IsNullOrWhiteSpace(arguments) ? new JsonObject() : JsonNode.Parse(arguments) ?? new JsonObject();
            }
            catch (JsonException)
            {
                throw ConverseRequestWriter.Refuse($"messages[{index}].tool_calls: the arguments of '{name}' are not valid JSON", "messages");
            }
            turn.Content.Add(new JsonObject { ["toolUse"] = new JsonObject { ["toolUseId"] = id, ["name"] = name, ["input"] = input } });
        }
        return calls.Count > 0;
    }

    /// <summary>Splits a base64 data URL. Converse takes inline bytes or S3 only, so web URLs are refused.</summary>
    private static (string Mime, string Base64) DataUrl(string? url, int index, string part)
    {
        if (url is null) throw ConverseRequestWriter.Refuse($"messages[{index}]: the {part} part has no URL or data", "messages");
        if (!url.StartsWith("data:", StringComparison.OrdinalIgnoreCase))
            throw ConverseRequestWriter.Refuse($"messages[{index}]: Bedrock Converse takes images and documents as inline bytes only; send a base64 data URL instead of '{(url.Length > 64 ? url[..64] + "..." : url)}'", "messages");
        var comma = url.IndexOf(',');
        var meta = comma < 0 ? "" : url[5..comma];
        if (comma < 0 || !meta.EndsWith(";base64", StringComparison.OrdinalIgnoreCase))
            throw ConverseRequestWriter.Refuse($"messages[{index}]: the {part} data URL must be base64-encoded", "messages");
        return (meta[..^";base64".Length], url[(comma + 1)..]);
    }

    /// <summary>Converse document names allow letters, digits, single spaces, hyphens, parentheses and brackets.</summary>
    private static string DocumentName(string? filename, int n)
    {
        if (filename is null) return $"document-{n}";
        var stem = Path.GetFileNameWithoutExtension(filename);
        var chars = new System.Text.StringBuilder(stem.Length);
        foreach (var c in stem)
        {
            var keep = char.IsLetterOrDigit(c) || c is '-' or '(' or ')' or '[' or ']';
            if (keep) chars.Append(c);
            else if (chars.Length > 0 && chars[^1] != ' ') chars.Append(' ');
        }
        var name = chars.ToString().Trim();
        return name.Length == 0 ? $"document-{n}" : name;
    }
}
