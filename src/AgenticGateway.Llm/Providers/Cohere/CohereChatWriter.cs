using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.OpenAi;

namespace AgenticGateway.Providers.Cohere;

/// <summary>
/// An OpenAI chat request as Cohere's v2 chat request (cohere-openapi.yaml, POST /v2/chat). Cohere's v2 messages are
/// close to OpenAI's: system (developer), user (text and image_url parts), assistant (content, tool_calls) and tool
/// (tool_call_id, content) messages keep their shape. Parameters are renamed as LiteLLM's CohereV2ChatConfig does:
/// max_tokens/max_completion_tokens to max_tokens, top_p to p, stop to stop_sequences; tool_choice none/required to
/// NONE/REQUIRED (a named tool is sent alone with REQUIRED, Cohere having no named choice); response_format json_object
/// or json_schema to json_object with its schema. n above 1 and logprobs are refused: Cohere's v2 API has no n, and
/// its logprobs have no OpenAI shape here.
/// </summary>
internal static class CohereChatWriter
{
    public static byte[]? Write(JsonObject body, string model, bool stream, out ApiError? error)
    {
        error = null;
        if (body["n"] is JsonValue n && n.TryGetValue<int>(out var choices) && choices > 1) { error = ApiError.BadRequest("Cohere answers one choice per request; 'n' above 1 is not supported.", "n"); return null; }
        if (body["logprobs"] is JsonValue lp && lp.GetValueKind() == JsonValueKind.True) { error = ApiError.BadRequest("'logprobs' is not supported for Cohere models.", "logprobs"); return null; }
        if (body["messages"] is not JsonArray messages || messages.Count == 0) { error = ApiError.BadRequest("Missing required parameter: 'messages'.", "messages"); return null; }

        var tools = body["tools"] as JsonArray;
        string? toolChoice = null;
        string? onlyTool = null;
        var choice = body["tool_choice"];
        if (choice is JsonValue cv && cv.GetValueKind() == JsonValueKind.String)
        {
            toolChoice = cv.GetValue<string>() switch { "none" => "NONE", "required" => "REQUIRED", _ => null };
        }
        else if (choice is JsonObject co && co["function"] is JsonObject cf && cf["name"] is JsonValue cn && cn.GetValueKind() == JsonValueKind.String)
        {
            onlyTool = cn.GetValue<string>();
            toolChoice = "REQUIRED";
        }

        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("model", model);
            w.WriteStartArray("messages");
            for (var i = 0; i < messages.Count; i++)
            {
                if (!Message(w, messages[i] as JsonObject, i, out error)) return null;
            }
            w.WriteEndArray();
            if (tools is { Count: > 0 })
            {
                w.WriteStartArray("tools");
                foreach (var tool in tools)
                {
                    var function = tool?["function"] as JsonObject;
                    var name = function?["name"]?.GetValue<string>();
                    if (name is null) { error = ApiError.BadRequest("Each tool needs function.name.", "tools"); return null; }
                    if (onlyTool is not null && name != onlyTool) continue;
                    w.WriteStartObject();
                    w.WriteString("type", "function");
                    w.WriteStartObject("function");
                    w.WriteString("name", name);
                    if (function!["description"] is JsonValue d) w.WriteString("description", d.GetValue<string>());
                    w.WritePropertyName("parameters");
                    if (function["parameters"] is JsonObject p) p.WriteTo(w);
                    else { w.WriteStartObject(); w.WriteString("type", "object"); w.WriteStartObject("properties"); w.WriteEndObject(); w.WriteEndObject(); }
                    w.WriteEndObject();
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            if (toolChoice is not null && (toolChoice == "NONE" || tools is { Count: > 0 })) w.WriteString("tool_choice", toolChoice);
            if (stream) w.WriteBoolean("stream", true);
            var max = body["max_completion_tokens"] ?? body["max_tokens"];
            if (max is JsonValue) { w.WritePropertyName("max_tokens"); max.WriteTo(w); }
            Copy(w, body, "temperature", "temperature");
            Copy(w, body, "top_p", "p");
            Copy(w, body, "frequency_penalty", "frequency_penalty");
            Copy(w, body, "presence_penalty", "presence_penalty");
            Copy(w, body, "seed", "seed");
            switch (body["stop"])
            {
                case JsonValue s when s.GetValueKind() == JsonValueKind.String:
                    w.WriteStartArray("stop_sequences");
                    w.WriteStringValue(s.GetValue<string>());
                    w.WriteEndArray();
                    break;
                case JsonArray list:
                    w.WritePropertyName("stop_sequences");
                    list.WriteTo(w);
                    break;
            }
            if (body["response_format"] is JsonObject format && format["type"]?.GetValue<string>() is { } type && type != "text")
            {
                w.WriteStartObject("response_format");
                w.WriteString("type", "json_object");
                if (type == "json_schema" && format["json_schema"]?["schema"] is JsonObject schema)
                {
                    w.WritePropertyName("json_schema");
                    schema.WriteTo(w);
                }
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    private static void Copy(Utf8JsonWriter w, JsonObject body, string from, string to)
    {
        if (body[from] is not JsonValue value) return;
        w.WritePropertyName(to);
        value.WriteTo(w);
    }

    private static bool Message(Utf8JsonWriter w, JsonObject? message, int index, out ApiError? error)
    {
        error = null;
        var role = message?["role"]?.GetValue<string>();
        var content = message?["content"];
        switch (role)
        {
            case "system" or "developer":
                w.WriteStartObject();
                w.WriteString("role", "system");
                if (!Content(w, content, index, images: false, out error)) return false;
                w.WriteEndObject();
                return true;
            case "user":
                w.WriteStartObject();
                w.WriteString("role", "user");
                if (!Content(w, content, index, images: true, out error)) return false;
                w.WriteEndObject();
                return true;
            case "assistant":
                w.WriteStartObject();
                w.WriteString("role", "assistant");
                if (content is not null && !(content is JsonValue cv && cv.GetValueKind() == JsonValueKind.Null) && !Content(w, content, index, images: false, out error)) return false;
                if (message!["tool_calls"] is JsonArray { Count: > 0 } calls)
                {
                    w.WriteStartArray("tool_calls");
                    foreach (var call in calls)
                    {
                        w.WriteStartObject();
                        w.WriteString("id", call?["id"]?.GetValue<string>() ?? "");
                        w.WriteString("type", "function");
                        w.WriteStartObject("function");
                        w.WriteString("name", call?["function"]?["name"]?.GetValue<string>() ?? "");
                        w.WriteString("arguments", call?["function"]?["arguments"]?.GetValue<string>() ?? "{}");
                        w.WriteEndObject();
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                }
                w.WriteEndObject();
                return true;
            case "tool":
                w.WriteStartObject();
                w.WriteString("role", "tool");
                w.WriteString("tool_call_id", message!["tool_call_id"]?.GetValue<string>() ?? "");
                if (!Content(w, content, index, images: false, out error)) return false;
                w.WriteEndObject();
                return true;
            default:
                error = ApiError.BadRequest($"Cohere does not take a '{role}' message.", $"messages[{index}].role");
                return false;
        }
    }

    /// <summary>A string stays a string; parts keep Cohere's names (text, and image_url for user messages).</summary>
    private static bool Content(Utf8JsonWriter w, JsonNode? content, int index, bool images, out ApiError? error)
    {
        error = null;
        switch (content)
        {
            case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                w.WriteString("content", v.GetValue<string>());
                return true;
            case JsonArray parts:
                w.WriteStartArray("content");
                foreach (var part in parts)
                {
                    var type = part?["type"]?.GetValue<string>();
                    if (type == "text")
                    {
                        w.WriteStartObject();
                        w.WriteString("type", "text");
                        w.WriteString("text", part!["text"]?.GetValue<string>() ?? "");
                        w.WriteEndObject();
                    }
                    else if (type == "image_url" && images)
                    {
                        var image = part!["image_url"];
                        var url = image is JsonValue s ? s.GetValue<string>() : image?["url"]?.GetValue<string>();
                        w.WriteStartObject();
                        w.WriteString("type", "image_url");
                        w.WriteStartObject("image_url");
                        w.WriteString("url", url ?? "");
                        if (image?["detail"] is JsonValue detail) w.WriteString("detail", detail.GetValue<string>());
                        w.WriteEndObject();
                        w.WriteEndObject();
                    }
                    else
                    {
                        error = ApiError.BadRequest($"Cohere does not take a '{type}' part in messages[{index}].", $"messages[{index}].content");
                        return false;
                    }
                }
                w.WriteEndArray();
                return true;
            case null:
                w.WriteString("content", "");
                return true;
            default:
                error = ApiError.BadRequest($"Invalid type for 'messages[{index}].content': expected a string or an array.", $"messages[{index}].content");
                return false;
        }
    }
}
