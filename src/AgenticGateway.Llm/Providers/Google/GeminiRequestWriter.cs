using System.Buffers;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.OpenAi;

namespace AgenticGateway.Providers.Google;

/// <summary>
/// Writes a Gemini <c>GenerateContentRequest</c> (contents, systemInstruction, tools, toolConfig, generationConfig)
/// from an OpenAI chat completions body. The same body serves AI Studio and Vertex AI: the model travels in the URL.
/// </summary>
internal static class GeminiRequestWriter
{
    /// <summary>Thinking budgets for OpenAI's reasoning_effort (LiteLLM's mapping, so budgets match across gateways).</summary>
    private static int? ThinkingBudget(string effort) => effort switch
    {
        "none" or "disable" => 0,
        "minimal" => 128,
        "low" => 1024,
        "medium" => 2048,
        "high" => 4096,
        _ => null,
    };

    public static byte[]? Write(JsonObject body, out ApiError? error)
    {
        error = Refuse(body);
        if (error is not null) return null;
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            if (!WriteMessages(w, body["messages"] as JsonArray, out error)) return null;
            if (!WriteTools(w, body, out error)) return null;
            if (!WriteGenerationConfig(w, body, out error)) return null;
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Fields whose meaning Gemini (or this translation) cannot honour: refused rather than silently dropped.</summary>
    private static ApiError? Refuse(JsonObject body)
    {
        if (body["messages"] is not JsonArray { Count: > 0 }) return ApiError.BadRequest("'messages' must be a non-empty array.", "messages");
        if (body["logprobs"] is JsonValue lp && lp.TryGetValue<bool>(out var wantLogprobs) && wantLogprobs)
            return ApiError.BadRequest("logprobs is not supported for Gemini models through this gateway.", "logprobs");
        if (body["logit_bias"] is JsonObject { Count: > 0 })
            return ApiError.BadRequest("logit_bias is not supported by Gemini.", "logit_bias");
        if (body["modalities"] is JsonArray modalities && modalities.Any(m => m?.GetValue<string>() != "text"))
            return ApiError.BadRequest("Only text output is supported for Gemini models through this gateway.", "modalities");
        if (body["prediction"] is JsonObject)
            return ApiError.BadRequest("Predicted outputs are not supported by Gemini.", "prediction");
        return null;
    }

    private static bool WriteMessages(Utf8JsonWriter w, JsonArray? messages, out ApiError? error)
    {
        error = null;
        var system = new List<string>();
        // Tool call ids to function names: Gemini's functionResponse names the function, OpenAI's tool message the id.
        var callNames = new Dictionary<string, string>(StringComparer.Ordinal);
        var contents = new List<(string Role, List<Action<Utf8JsonWriter>> Parts)>();

        void Add(string role, List<Action<Utf8JsonWriter>> parts)
        {
            if (parts.Count == 0) return;
            // Gemini wants turns to alternate, and all responses to a parallel call in one turn: merge same-role runs.
            if (contents.Count > 0 && contents[^1].Role == role) contents[^1].Parts.AddRange(parts);
            else contents.Add((role, parts));
        }

        for (var i = 0; i < messages!.Count; i++)
        {
            if (messages[i] is not JsonObject message) { error = ApiError.BadRequest($"messages[{i}] must be an object.", "messages"); return false; }
            var role = Str(message["role"]);
            var content = message["content"];
            switch (role)
            {
                case "system" or "developer":
                    if (!TextOnly(content, i, out var text, out error)) return false;
                    if (text.Length > 0) system.Add(text);
                    break;
                case "user":
                {
                    var parts = new List<Action<Utf8JsonWriter>>();
                    if (!ContentParts(content, i, parts, out error)) return false;
                    Add("user", parts);
                    break;
                }
                case "assistant":
                {
                    var parts = new List<Action<Utf8JsonWriter>>();
                    if (content is not null && !ContentParts(content, i, parts, out error)) return false;
                    if (message["tool_calls"] is JsonArray calls)
                    {
                        foreach (var call in calls)
                        {
                            var fn = F(call, "function");
                            var name = Str(F(fn, "name"));
                            var id = Str(F(call, "id"));
                            if (name is null) { error = ApiError.BadRequest($"messages[{i}].tool_calls: every call needs function.name.", "messages"); return false; }
                            if (id is not null) callNames[id] = name;
                            var argsText = Str(F(fn, "arguments"));
                            JsonNode? args;
                            try { args = string.IsNullOrWhiteSpace(argsText) ? new JsonObject() : JsonNode.Parse(argsText); }
                            catch (JsonException) { error = ApiError.BadRequest($"messages[{i}].tool_calls: arguments of '{name}' are not valid JSON.", "messages"); return false; }
                            if (args is not JsonObject) { error = ApiError.BadRequest($"messages[{i}].tool_calls: arguments of '{name}' must be a JSON object for Gemini.", "messages"); return false; }
                            var signature = GeminiToolCallIds.Signature(id);
                            parts.Add(pw =>
                            {
                                pw.WriteStartObject();
                                pw.WriteStartObject("functionCall");
                                pw.WriteString("name", name);
                                pw.WritePropertyName("args");
                                args.WriteTo(pw);
                                pw.WriteEndObject();
                                if (signature is not null) pw.WriteString("thoughtSignature", signature);
                                pw.WriteEndObject();
                            });
                        }
                    }
                    else if (message["function_call"] is JsonObject legacy && Str(legacy["name"]) is { } legacyName)
                    {
                        var legacyArgs = ParseObject(Str(legacy["arguments"]));
                        if (legacyArgs is null) { error = ApiError.BadRequest($"messages[{i}].function_call.arguments must be a JSON object.", "messages"); return false; }
                        parts.Add(pw => WriteFunctionCall(pw, legacyName, legacyArgs));
                    }
                    Add("model", parts);
                    break;
                }
                case "tool" or "function":
                {
                    var id = Str(message["tool_call_id"]);
                    var name = (id is not null && callNames.TryGetValue(id, out var n) ? n : null) ?? Str(message["name"]);
                    if (name is null)
                    {
                        error = ApiError.BadRequest($"messages[{i}]: tool_call_id '{id}' matches no earlier assistant tool call, and Gemini needs the function's name.", "messages");
                        return false;
                    }
                    if (!TextOnly(content, i, out var result, out error)) return false;
                    var response = ToResponseObject(result);
                    Add("user", [pw =>
                    {
                        pw.WriteStartObject();
                        pw.WriteStartObject("functionResponse");
                        pw.WriteString("name", name);
                        pw.WritePropertyName("response");
                        response.WriteTo(pw);
                        pw.WriteEndObject();
                        pw.WriteEndObject();
                    }]);
                    break;
                }
                default:
                    error = ApiError.BadRequest($"messages[{i}].role '{role}' is not supported.", "messages");
                    return false;
            }
        }

        w.WriteStartArray("contents");
        foreach (var (role, parts) in contents)
        {
            w.WriteStartObject();
            w.WriteString("role", role);
            w.WriteStartArray("parts");
            foreach (var part in parts) part(w);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        if (contents.Count == 0) { error = ApiError.BadRequest("Gemini needs at least one user or assistant message besides system messages.", "messages"); return false; }

        if (system.Count > 0)
        {
            w.WriteStartObject("systemInstruction");
            w.WriteStartArray("parts");
            foreach (var text in system)
            {
                w.WriteStartObject();
                w.WriteString("text", text);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return true;
    }

    private static void WriteFunctionCall(Utf8JsonWriter w, string name, JsonObject args)
    {
        w.WriteStartObject();
        w.WriteStartObject("functionCall");
        w.WriteString("name", name);
        w.WritePropertyName("args");
        args.WriteTo(w);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>
    /// Gemini's functionResponse.response must be an object: a JSON object result is sent as is, anything else
    /// (a string, a number, an array, text that is not JSON) under the documented <c>output</c> key.
    /// </summary>
    private static JsonObject ToResponseObject(string result)
    {
        JsonNode? parsed = null;
        try { parsed = JsonNode.Parse(result); }
        catch (JsonException) { }
        if (parsed is JsonObject obj) return obj;
        return new JsonObject { ["output"] = parsed is null || parsed is JsonValue { } v && v.GetValueKind() == JsonValueKind.String ? JsonValue.Create(result) : parsed };
    }

    private static JsonObject? ParseObject(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return [];
        try { return JsonNode.Parse(text) as JsonObject; }
        catch (JsonException) { return null; }
    }

    /// <summary>Content that must be text (system prompts, tool results): a string or text parts, joined.</summary>
    private static bool TextOnly(JsonNode? content, int index, out string text, out ApiError? error)
    {
        error = null;
        text = "";
        switch (content)
        {
            case null: return true;
            case JsonValue v when v.TryGetValue<string>(out var s): text = s; return true;
            case JsonArray parts:
                var texts = new List<string>();
                foreach (var part in parts)
                {
                    if (Str(F(part, "type")) != "text" || Str(F(part, "text")) is not { } t)
                    {
                        error = ApiError.BadRequest($"messages[{index}]: only text parts are supported in this message for Gemini.", "messages");
                        return false;
                    }
                    texts.Add(t);
                }
                text = string.Join("\n", texts);
                return true;
            default:
                error = ApiError.BadRequest($"messages[{index}].content must be a string or an array of parts.", "messages");
                return false;
        }
    }

    /// <summary>User or assistant content: text, images (data URLs inline, other URLs by reference), audio, files.</summary>
    private static bool ContentParts(JsonNode? content, int index, List<Action<Utf8JsonWriter>> parts, out ApiError? error)
    {
        error = null;
        if (content is JsonValue v && v.TryGetValue<string>(out var s))
        {
            if (s.Length > 0) parts.Add(w => WriteText(w, s));
            return true;
        }
        if (content is null) return true;
        if (content is not JsonArray array)
        {
            error = ApiError.BadRequest($"messages[{index}].content must be a string or an array of parts.", "messages");
            return false;
        }
        foreach (var part in array)
        {
            var type = Str(F(part, "type"));
            switch (type)
            {
                case "text" when Str(F(part, "text")) is { } text:
                    parts.Add(w => WriteText(w, text));
                    break;
                case "image_url":
                {
                    var url = Str(F(F(part, "image_url"), "url")) ?? Str(F(part, "image_url"));
                    if (url is null) { error = ApiError.BadRequest($"messages[{index}]: image_url part without a url.", "messages"); return false; }
                    if (!MediaPart(url, "image/jpeg", index, parts, out error)) return false;
                    break;
                }
                case "input_audio":
                {
                    var data = Str(F(F(part, "input_audio"), "data"));
                    var format = Str(F(F(part, "input_audio"), "format")) ?? "wav";
                    if (data is null) { error = ApiError.BadRequest($"messages[{index}]: input_audio part without data.", "messages"); return false; }
                    var mime = "audio/" + (format == "mp3" ? "mp3" : format);
                    parts.Add(w => WriteInline(w, mime, data));
                    break;
                }
                case "file":
                {
                    var fileData = Str(F(F(part, "file"), "file_data"));
                    if (fileData is null)
                    {
                        error = ApiError.BadRequest($"messages[{index}]: file parts need file_data (a data URL) for Gemini; file_id is not supported.", "messages");
                        return false;
                    }
                    if (!MediaPart(fileData, "application/pdf", index, parts, out error)) return false;
                    break;
                }
                case "refusal" when Str(F(part, "refusal")) is { } refusal:
                    parts.Add(w => WriteText(w, refusal));
                    break;
                default:
                    error = ApiError.BadRequest($"messages[{index}]: content part type '{type}' is not supported for Gemini.", "messages");
                    return false;
            }
        }
        return true;
    }

    /// <summary>
    /// A data URL becomes inlineData (base64 as is); an http(s) or gs:// URL becomes fileData, which both AI Studio
    /// (external URLs, Files API URIs) and Vertex (Cloud Storage, public URLs) read. fileData requires a MIME type:
    /// it is taken from the file extension, else <paramref name="defaultMime"/>.
    /// </summary>
    private static bool MediaPart(string url, string defaultMime, int index, List<Action<Utf8JsonWriter>> parts, out ApiError? error)
    {
        error = null;
        if (url.StartsWith("data:", StringComparison.OrdinalIgnoreCase))
        {
            var comma = url.IndexOf(',');
            var header = comma < 0 ? "" : url[5..comma];
            if (comma < 0 || !header.EndsWith(";base64", StringComparison.OrdinalIgnoreCase))
            {
                error = ApiError.BadRequest($"messages[{index}]: data URLs must be base64 encoded (data:<mime>;base64,<data>).", "messages");
                return false;
            }
            var mime = header[..^";base64".Length];
            if (mime.Length == 0) mime = defaultMime;
            var data = url[(comma + 1)..];
            parts.Add(w => WriteInline(w, mime, data));
            return true;
        }
        if (url.StartsWith("https://", StringComparison.OrdinalIgnoreCase) || url.StartsWith("http://", StringComparison.OrdinalIgnoreCase)
            || url.StartsWith("gs://", StringComparison.OrdinalIgnoreCase))
        {
            var mime = MimeFromExtension(url) ?? defaultMime;
            parts.Add(w =>
            {
                w.WriteStartObject();
                w.WriteStartObject("fileData");
                w.WriteString("mimeType", mime);
                w.WriteString("fileUri", url);
                w.WriteEndObject();
                w.WriteEndObject();
            });
            return true;
        }
        error = ApiError.BadRequest($"messages[{index}]: media URLs must be data:, http(s):// or gs:// URLs.", "messages");
        return false;
    }

    private static string? MimeFromExtension(string url)
    {
        var path = url.Split('?', '#')[0];
        var dot = path.LastIndexOf('.');
        if (dot < 0 || dot < path.LastIndexOf('/')) return null;
        return path[(dot + 1)..].ToLowerInvariant() switch
        {
            "png" => "image/png",
            "jpg" or "jpeg" => "image/jpeg",
            "webp" => "image/webp",
            "gif" => "image/gif",
            "heic" => "image/heic",
            "heif" => "image/heif",
            "pdf" => "application/pdf",
            "mp3" => "audio/mp3",
            "wav" => "audio/wav",
            "mp4" => "video/mp4",
            "txt" => "text/plain",
            _ => null,
        };
    }

    private static void WriteText(Utf8JsonWriter w, string text)
    {
        w.WriteStartObject();
        w.WriteString("text", text);
        w.WriteEndObject();
    }

    private static void WriteInline(Utf8JsonWriter w, string mime, string base64)
    {
        w.WriteStartObject();
        w.WriteStartObject("inlineData");
        w.WriteString("mimeType", mime);
        w.WriteString("data", base64);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static bool WriteTools(Utf8JsonWriter w, JsonObject body, out ApiError? error)
    {
        error = null;
        var tools = body["tools"] as JsonArray;
        if (tools is { Count: > 0 })
        {
            w.WriteStartArray("tools");
            w.WriteStartObject();
            w.WriteStartArray("functionDeclarations");
            foreach (var tool in tools)
            {
                if (Str(F(tool, "type")) is { } type && type != "function")
                {
                    error = ApiError.BadRequest($"Tool type '{type}' is not supported for Gemini; only function tools are.", "tools");
                    return false;
                }
                var fn = F(tool, "function");
                var name = Str(F(fn, "name"));
                if (name is null) { error = ApiError.BadRequest("Every tool needs function.name.", "tools"); return false; }
                w.WriteStartObject();
                w.WriteString("name", name);
                if (Str(F(fn, "description")) is { } description) w.WriteString("description", description);
                var parameters = F(fn, "parameters");
                if (!GeminiSchema.IsEmptyObject(parameters))
                {
                    w.WritePropertyName("parameters");
                    GeminiSchema.Write(w, parameters);
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndArray();
        }

        var choice = body["tool_choice"];
        if (choice is null) return true;
        string mode;
        string? only = null;
        if (choice is JsonValue cv && cv.TryGetValue<string>(out var cs))
        {
            mode = cs switch { "auto" => "AUTO", "none" => "NONE", "required" => "ANY", _ => "" };
            if (mode.Length == 0) { error = ApiError.BadRequest($"tool_choice '{cs}' is not one of none, auto, required.", "tool_choice"); return false; }
        }
        else if (Str(F(F(choice, "function"), "name")) is { } named)
        {
            mode = "ANY";
            only = named;
        }
        else
        {
            error = ApiError.BadRequest("tool_choice must be none, auto, required or {\"type\":\"function\",\"function\":{\"name\":...}}.", "tool_choice");
            return false;
        }
        if (tools is not { Count: > 0 })
        {
            if (mode == "NONE" || mode == "AUTO") return true;
            error = ApiError.BadRequest("tool_choice requires tools.", "tool_choice");
            return false;
        }
        w.WriteStartObject("toolConfig");
        w.WriteStartObject("functionCallingConfig");
        w.WriteString("mode", mode);
        if (only is not null)
        {
            w.WriteStartArray("allowedFunctionNames");
            w.WriteStringValue(only);
            w.WriteEndArray();
        }
        w.WriteEndObject();
        w.WriteEndObject();
        return true;
    }

    private static bool WriteGenerationConfig(Utf8JsonWriter w, JsonObject body, out ApiError? error)
    {
        error = null;
        var started = false;
        void Start()
        {
            if (started) return;
            started = true;
            w.WriteStartObject("generationConfig");
        }

        if (body["stop"] is { } stop)
        {
            var sequences = stop is JsonArray a ? a.Select(Str).OfType<string>().ToList() : Str(stop) is { } one ? [one] : [];
            if (sequences.Count > 0)
            {
                Start();
                w.WriteStartArray("stopSequences");
                foreach (var sequence in sequences) w.WriteStringValue(sequence);
                w.WriteEndArray();
            }
        }
        if (Number(body, "n", out var n) && n != 1) { Start(); w.WriteNumber("candidateCount", (long)n); }
        var max = body["max_completion_tokens"] ?? body["max_tokens"];
        if (max is JsonValue mv && mv.TryGetValue<double>(out var maxTokens)) { Start(); w.WriteNumber("maxOutputTokens", (long)maxTokens); }
        if (Number(body, "temperature", out var temperature)) { Start(); w.WriteNumber("temperature", temperature); }
        if (Number(body, "top_p", out var topP)) { Start(); w.WriteNumber("topP", topP); }
        if (Number(body, "top_k", out var topK)) { Start(); w.WriteNumber("topK", (long)topK); }
        if (Number(body, "presence_penalty", out var presence)) { Start(); w.WriteNumber("presencePenalty", presence); }
        if (Number(body, "frequency_penalty", out var frequency)) { Start(); w.WriteNumber("frequencyPenalty", frequency); }
        if (Number(body, "seed", out var seed)) { Start(); w.WriteNumber("seed", (long)seed); }

        if (body["response_format"] is JsonObject format)
        {
            switch (Str(F(format, "type")))
            {
                case "json_object":
                    Start();
                    w.WriteString("responseMimeType", "application/json");
                    break;
                case "json_schema":
                    Start();
                    w.WriteString("responseMimeType", "application/json");
                    if (F(F(format, "json_schema"), "schema") is JsonObject schema)
                    {
                        w.WritePropertyName("responseSchema");
                        GeminiSchema.Write(w, schema);
                    }
                    break;
                case "text" or null:
                    break;
                default:
                    error = ApiError.BadRequest($"response_format type '{Str(F(format, "type"))}' is not supported for Gemini.", "response_format");
                    return false;
            }
        }

        if (Str(body["reasoning_effort"]) is { } effort)
        {
            if (ThinkingBudget(effort) is not { } budget)
            {
                error = ApiError.BadRequest($"reasoning_effort '{effort}' is not one of none, minimal, low, medium, high.", "reasoning_effort");
                return false;
            }
            Start();
            w.WriteStartObject("thinkingConfig");
            w.WriteNumber("thinkingBudget", budget);
            // Thought summaries are what OpenAI clients see as reasoning_content; none to show when thinking is off.
            if (budget > 0) w.WriteBoolean("includeThoughts", true);
            w.WriteEndObject();
        }
        if (started) w.WriteEndObject();
        return true;
    }

    private static bool Number(JsonObject body, string name, out double value)
    {
        value = 0;
        return body[name] is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out value);
    }

    /// <summary>A member of an object node; null for anything else (clients send odd shapes; they get a 400, not a 500).</summary>
    internal static JsonNode? F(JsonNode? node, string name) => node is JsonObject o ? o[name] : null;

    internal static string? Str(JsonNode? node) =>
        node is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;

    internal static string Invariant(long value) => value.ToString(CultureInfo.InvariantCulture);
}
