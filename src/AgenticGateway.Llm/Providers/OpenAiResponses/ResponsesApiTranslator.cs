using System.Buffers;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.OpenAi;
using AgenticGateway.Providers.OpenAiText;
using AgenticGateway.Providers.Translation;

namespace AgenticGateway.Providers.OpenAiResponses;

/// <summary>
/// A deployment that serves only OpenAI's Responses API (LiteLLM's <c>openai/responses/...</c>, a model whose cost map
/// mode is <c>responses</c>, such as o3-pro or gpt-5-codex): a chat completions body becomes a Responses create
/// request (system messages the instructions, the rest input items; tools flattened; response_format the
/// <c>text.format</c>; <c>store:false</c>, since the gateway keeps the conversation), and the response object or its
/// SSE events come back as a <c>chat.completion</c> or <c>chat.completion.chunk</c>s.
/// </summary>
internal sealed class ResponsesApiTranslator(Uri responsesUri) : IProviderTranslator
{
    // Chat fields the Responses API has no equivalent for: refused by name rather than silently dropped.
    private static readonly string[] Refused =
        ["functions", "function_call", "audio", "modalities", "prediction", "logit_bias", "frequency_penalty", "presence_penalty", "seed", "web_search_options", "stop"];
    // Fields with the same name and meaning in both APIs.
    private static readonly string[] Copied = ["temperature", "top_p", "user", "metadata", "service_tier", "parallel_tool_calls", "prompt_cache_key", "safety_identifier", "truncation"];

    public Uri ResponsesUri => responsesUri;

    public ValueTask<TranslatedRequest> BuildChatRequestAsync(ReadOnlyMemory<byte> openAiBody, ProviderCall call, CancellationToken cancellationToken)
    {
        if (ToResponsesBody(openAiBody.Span, call.UpstreamModel, call.Stream, out var error) is not { } body) return ValueTask.FromResult(TranslatedRequest.Fail(error!));
        var request = new HttpRequestMessage(HttpMethod.Post, responsesUri)
        {
            Content = new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
        };
        return ValueTask.FromResult(new TranslatedRequest(request, null));
    }

    /// <summary>The Responses create body for a chat completions body, or the 400 that says what cannot be sent.</summary>
    internal static byte[]? ToResponsesBody(ReadOnlySpan<byte> chatBody, string model, bool stream, out ApiError? error)
    {
        error = null;
        JsonObject? body;
        try { body = JsonNode.Parse(chatBody) as JsonObject; }
        catch (JsonException) { body = null; }
        if (body is null) { error = ApiError.BadRequest("The request body must be a JSON object."); return null; }
        foreach (var name in Refused)
        {
            if (body[name] is null) continue;
            error = ApiError.BadRequest($"'{name}' is not supported by the Responses API, which serves model {model}.", name);
            return null;
        }
        if (body["n"] is JsonValue n && n.TryGetValue<int>(out var count) && count != 1)
        {
            error = ApiError.BadRequest($"'n' must be 1: the Responses API, which serves model {model}, answers with one choice.", "n");
            return null;
        }
        if (body["logprobs"] is JsonValue lp && lp.GetValueKind() == JsonValueKind.True)
        {
            error = ApiError.BadRequest($"'logprobs' is not supported by the Responses API, which serves model {model}.", "logprobs");
            return null;
        }
        if (body["messages"] is not JsonArray messages || messages.Count == 0)
        {
            error = ApiError.BadRequest("Missing required parameter: 'messages'.", "messages");
            return null;
        }

        var buffer = new ArrayBufferWriter<byte>(chatBody.Length + 256);
        using (var w = new Utf8JsonWriter(buffer, ProviderJson.OpenAiWriterOptions))
        {
            w.WriteStartObject();
            w.WriteString("model", model);
            // Leading system and developer messages are the instructions; later ones stay in place as input items.
            var first = 0;
            var instructions = new StringBuilder();
            for (; first < messages.Count && Role(messages[first]) is "system" or "developer"; first++)
            {
                if (Text(messages[first]!["content"], first, out error) is not { } text) return null;
                if (instructions.Length > 0) instructions.Append("\n\n");
                instructions.Append(text);
            }
            if (first > 0) w.WriteString("instructions", instructions.ToString());
            w.WriteStartArray("input");
            for (var i = first; i < messages.Count; i++)
                if (!WriteInputItems(w, messages[i], i, out error)) return null;
            w.WriteEndArray();

            if (body["tools"] is JsonArray tools && !WriteTools(w, tools, out error)) return null;
            if (body["tool_choice"] is { } choice && !WriteToolChoice(w, choice, out error)) return null;
            if (body["response_format"] is JsonObject format && !WriteTextFormat(w, format, out error)) return null;
            if (body["reasoning_effort"] is JsonValue effort && effort.GetValueKind() == JsonValueKind.String)
            {
                w.WriteStartObject("reasoning");
                w.WriteString("effort", effort.GetValue<string>());
                w.WriteEndObject();
            }
            var max = body["max_completion_tokens"] ?? body["max_tokens"];
            if (max is JsonValue maxValue && maxValue.GetValueKind() == JsonValueKind.Number)
            {
                w.WritePropertyName("max_output_tokens");
                maxValue.WriteTo(w);
            }
            if (body["top_logprobs"] is JsonValue top && top.GetValueKind() == JsonValueKind.Number)
            {
                error = ApiError.BadRequest($"'top_logprobs' is not supported by the Responses API bridge for model {model}.", "top_logprobs");
                return null;
            }
            foreach (var name in Copied)
            {
                if (body[name] is not { } value) continue;
                w.WritePropertyName(name);
                value.WriteTo(w);
            }
            // The gateway holds the conversation (chat history comes with each request): nothing is left stored upstream.
            w.WriteBoolean("store", false);
            if (stream) w.WriteBoolean("stream", true);
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    private static string? Role(JsonNode? message) =>
        message is JsonObject m && m["role"] is JsonValue r && r.GetValueKind() == JsonValueKind.String ? r.GetValue<string>() : null;

    private static string? Str(JsonNode? node, string name) =>
        node is JsonObject o && o[name] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;

    /// <summary>One chat message as Responses input items: a message, and for an assistant's tool calls one function_call each.</summary>
    private static bool WriteInputItems(Utf8JsonWriter w, JsonNode? node, int index, out ApiError? error)
    {
        error = null;
        if (node is not JsonObject message)
        {
            error = ApiError.BadRequest($"Invalid type for 'messages[{index}]': expected an object.", $"messages[{index}]");
            return false;
        }
        var role = Role(message);
        switch (role)
        {
            case "system" or "developer":
            {
                if (Text(message["content"], index, out error) is not { } text) return false;
                w.WriteStartObject();
                w.WriteString("type", "message");
                w.WriteString("role", role);
                w.WriteString("content", text);
                w.WriteEndObject();
                return true;
            }
            case "user":
                w.WriteStartObject();
                w.WriteString("type", "message");
                w.WriteString("role", "user");
                w.WritePropertyName("content");
                if (!WriteUserContent(w, message["content"], index, out error)) return false;
                w.WriteEndObject();
                return true;
            case "assistant":
            {
                var content = message["content"];
                string? text = content is null ? null : Text(content, index, out error);
                if (error is not null) return false;
                var refusal = Str(message, "refusal");
                if (!string.IsNullOrEmpty(text) || !string.IsNullOrEmpty(refusal))
                {
                    w.WriteStartObject();
                    w.WriteString("type", "message");
                    w.WriteString("role", "assistant");
                    w.WriteStartArray("content");
                    if (!string.IsNullOrEmpty(text))
                    {
                        w.WriteStartObject();
                        w.WriteString("type", "output_text");
                        w.WriteString("text", text);
                        w.WriteStartArray("annotations");
                        w.WriteEndArray();
                        w.WriteEndObject();
                    }
                    if (!string.IsNullOrEmpty(refusal))
                    {
                        w.WriteStartObject();
                        w.WriteString("type", "refusal");
                        w.WriteString("refusal", refusal);
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                    w.WriteEndObject();
                }
                if (message["tool_calls"] is JsonArray calls)
                {
                    for (var j = 0; j < calls.Count; j++)
                    {
                        var call = calls[j];
                        var function = call?["function"];
                        if (Str(call, "id") is not { } id || Str(function, "name") is not { } name)
                        {
                            error = ApiError.BadRequest($"messages[{index}].tool_calls[{j}] needs an id and a function name.", $"messages[{index}].tool_calls[{j}]");
                            return false;
                        }
                        w.WriteStartObject();
                        w.WriteString("type", "function_call");
                        w.WriteString("call_id", id);
                        w.WriteString("name", name);
                        w.WriteString("arguments", Str(function, "arguments") ?? "{}");
                        w.WriteEndObject();
                    }
                }
                return true;
            }
            case "tool":
            {
                if (Str(message, "tool_call_id") is not { } callId)
                {
                    error = ApiError.BadRequest($"Missing required parameter: 'messages[{index}].tool_call_id'.", $"messages[{index}].tool_call_id");
                    return false;
                }
                if (Text(message["content"], index, out error) is not { } output) return false;
                w.WriteStartObject();
                w.WriteString("type", "function_call_output");
                w.WriteString("call_id", callId);
                w.WriteString("output", output);
                w.WriteEndObject();
                return true;
            }
            default:
                error = ApiError.BadRequest($"messages[{index}] has role '{role ?? "(none)"}', which the Responses API does not take (system, developer, user, assistant, tool).", $"messages[{index}].role");
                return false;
        }
    }

    /// <summary>A user message's content: a string as is; parts as input_text, input_image and input_file.</summary>
    private static bool WriteUserContent(Utf8JsonWriter w, JsonNode? content, int index, out ApiError? error)
    {
        error = null;
        if (content is JsonValue v && v.GetValueKind() == JsonValueKind.String)
        {
            w.WriteStringValue(v.GetValue<string>());
            return true;
        }
        if (content is not JsonArray parts)
        {
            error = ApiError.BadRequest($"Invalid type for 'messages[{index}].content': expected a string or an array of content parts.", $"messages[{index}].content");
            return false;
        }
        w.WriteStartArray();
        for (var j = 0; j < parts.Count; j++)
        {
            var part = parts[j];
            var type = Str(part, "type");
            switch (type)
            {
                case "text":
                    w.WriteStartObject();
                    w.WriteString("type", "input_text");
                    w.WriteString("text", Str(part, "text") ?? "");
                    w.WriteEndObject();
                    break;
                case "image_url":
                    var image = part!["image_url"];
                    var url = image is JsonValue ? Str(part, "image_url") : Str(image, "url");
                    if (url is null)
                    {
                        error = ApiError.BadRequest($"messages[{index}].content[{j}].image_url needs a url.", $"messages[{index}].content[{j}].image_url");
                        return false;
                    }
                    w.WriteStartObject();
                    w.WriteString("type", "input_image");
                    w.WriteString("image_url", url);
                    w.WriteString("detail", Str(image, "detail") ?? "auto");
                    w.WriteEndObject();
                    break;
                case "file":
                    var file = part!["file"];
                    w.WriteStartObject();
                    w.WriteString("type", "input_file");
                    if (Str(file, "file_id") is { } fileId) w.WriteString("file_id", fileId);
                    if (Str(file, "file_data") is { } data) w.WriteString("file_data", data);
                    if (Str(file, "filename") is { } filename) w.WriteString("filename", filename);
                    w.WriteEndObject();
                    break;
                default:
                    error = ApiError.BadRequest($"messages[{index}].content[{j}] is a '{type ?? "unknown"}' part, which the Responses API does not take (text, image_url, file).", $"messages[{index}].content[{j}]");
                    return false;
            }
        }
        w.WriteEndArray();
        return true;
    }

    /// <summary>A message's text: a string, or its text parts joined.</summary>
    private static string? Text(JsonNode? content, int index, out ApiError? error)
    {
        error = null;
        switch (content)
        {
            case null:
                return "";
            case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                return v.GetValue<string>();
            case JsonArray parts:
                var text = new StringBuilder();
                for (var j = 0; j < parts.Count; j++)
                {
                    if (Str(parts[j], "type") != "text" || Str(parts[j], "text") is not { } t)
                    {
                        error = ApiError.BadRequest($"messages[{index}].content[{j}] must be a text part here.", $"messages[{index}].content[{j}]");
                        return null;
                    }
                    text.Append(t);
                }
                return text.ToString();
            default:
                error = ApiError.BadRequest($"Invalid type for 'messages[{index}].content': expected a string or an array.", $"messages[{index}].content");
                return null;
        }
    }

    /// <summary>Chat's nested function tools flattened, as the Responses API takes them; <c>strict</c> stays chat's default (false) when unset.</summary>
    private static bool WriteTools(Utf8JsonWriter w, JsonArray tools, out ApiError? error)
    {
        error = null;
        w.WriteStartArray("tools");
        for (var i = 0; i < tools.Count; i++)
        {
            var function = tools[i]?["function"];
            if (Str(tools[i], "type") != "function" || Str(function, "name") is not { } name)
            {
                error = ApiError.BadRequest($"tools[{i}] must be a function tool with a name.", $"tools[{i}]");
                return false;
            }
            w.WriteStartObject();
            w.WriteString("type", "function");
            w.WriteString("name", name);
            if (Str(function, "description") is { } description) w.WriteString("description", description);
            w.WritePropertyName("parameters");
            if (function!["parameters"] is JsonObject parameters) parameters.WriteTo(w);
            else { w.WriteStartObject(); w.WriteString("type", "object"); w.WriteStartObject("properties"); w.WriteEndObject(); w.WriteEndObject(); }
            // The Responses API makes function tools strict unless told otherwise; chat's are not.
            w.WriteBoolean("strict", function["strict"] is JsonValue s && s.GetValueKind() == JsonValueKind.True);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        return true;
    }

    private static bool WriteToolChoice(Utf8JsonWriter w, JsonNode choice, out ApiError? error)
    {
        error = null;
        if (choice is JsonValue v && v.GetValueKind() == JsonValueKind.String && v.GetValue<string>() is "auto" or "none" or "required")
        {
            w.WriteString("tool_choice", v.GetValue<string>());
            return true;
        }
        if (Str(choice, "type") == "function" && Str(choice["function"], "name") is { } name)
        {
            w.WriteStartObject("tool_choice");
            w.WriteString("type", "function");
            w.WriteString("name", name);
            w.WriteEndObject();
            return true;
        }
        error = ApiError.BadRequest("tool_choice must be 'auto', 'none', 'required' or {\"type\":\"function\",\"function\":{\"name\":...}}.", "tool_choice");
        return false;
    }

    private static bool WriteTextFormat(Utf8JsonWriter w, JsonObject format, out ApiError? error)
    {
        error = null;
        var type = Str(format, "type");
        w.WriteStartObject("text");
        w.WriteStartObject("format");
        switch (type)
        {
            case "text" or "json_object":
                w.WriteString("type", type);
                break;
            case "json_schema" when format["json_schema"] is JsonObject schema && Str(schema, "name") is { } name:
                w.WriteString("type", "json_schema");
                w.WriteString("name", name);
                if (Str(schema, "description") is { } description) w.WriteString("description", description);
                w.WritePropertyName("schema");
                if (schema["schema"] is JsonObject s) s.WriteTo(w); else { w.WriteStartObject(); w.WriteEndObject(); }
                if (schema["strict"] is JsonValue strict && strict.GetValueKind() is JsonValueKind.True or JsonValueKind.False) w.WriteBoolean("strict", strict.GetValue<bool>());
                break;
            default:
                error = ApiError.BadRequest("response_format must be text, json_object or json_schema (with a name).", "response_format");
                return false;
        }
        w.WriteEndObject();
        w.WriteEndObject();
        return true;
    }

    public byte[] TranslateChatResponse(ReadOnlyMemory<byte> providerBody, ProviderCall call, out Usage? usage)
    {
        using var doc = ProviderJson.Parse(providerBody, "The Responses API returned a body that is not JSON");
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object || ProviderJson.Str(root, "object") != "response" || !root.TryGetProperty("output", out var output) || output.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException("The Responses API answered with something other than a response object.");
        if (ProviderJson.Str(root, "status") == "failed")
        {
            var error = root.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.Object ? ProviderJson.Str(e, "message") : null;
            throw new InvalidDataException("The Responses API reported the response failed: " + (error ?? "no reason given"));
        }
        usage = ResponsesNativeUsage.TryRead(providerBody.Span, out var u) ? u : null;
        var buffer = new ArrayBufferWriter<byte>(providerBody.Length + 256);
        using (var w = new Utf8JsonWriter(buffer, ProviderJson.OpenAiWriterOptions))
        {
            w.WriteStartObject();
            w.WriteString("id", "chatcmpl-" + (ProviderJson.Str(root, "id") is { Length: > 0 } id ? id : call.RequestId));
            w.WriteString("object", "chat.completion");
            w.WriteNumber("created", root.TryGetProperty("created_at", out var c) && c.ValueKind == JsonValueKind.Number ? c.GetInt64() : DateTimeOffset.UtcNow.ToUnixTimeSeconds());
            w.WriteString("model", ProviderJson.Str(root, "model") ?? call.UpstreamModel);
            w.WriteStartArray("choices");
            w.WriteStartObject();
            w.WriteNumber("index", 0);
            w.WriteStartObject("message");
            w.WriteString("role", "assistant");
            var text = new StringBuilder();
            var reasoning = new StringBuilder();
            string? refusal = null;
            var calls = 0;
            foreach (var item in output.EnumerateArray())
            {
                switch (ProviderJson.Str(item, "type"))
                {
                    case "message" when item.TryGetProperty("content", out var parts) && parts.ValueKind == JsonValueKind.Array:
                        foreach (var part in parts.EnumerateArray())
                        {
                            if (ProviderJson.Str(part, "type") == "output_text") text.Append(ProviderJson.Str(part, "text"));
                            else if (ProviderJson.Str(part, "type") == "refusal") refusal = (refusal ?? "") + ProviderJson.Str(part, "refusal");
                        }
                        break;
                    case "reasoning" when item.TryGetProperty("summary", out var summary) && summary.ValueKind == JsonValueKind.Array:
                        foreach (var part in summary.EnumerateArray()) reasoning.Append(ProviderJson.Str(part, "text"));
                        break;
                    case "function_call":
                        calls++;
                        break;
                }
            }
            if (calls > 0 && text.Length == 0) w.WriteNull("content"); else w.WriteString("content", text.ToString());
            if (refusal is null) w.WriteNull("refusal"); else w.WriteString("refusal", refusal);
            if (reasoning.Length > 0) w.WriteString("reasoning_content", reasoning.ToString());
            if (calls > 0)
            {
                w.WriteStartArray("tool_calls");
                foreach (var item in output.EnumerateArray())
                {
                    if (ProviderJson.Str(item, "type") != "function_call") continue;
                    w.WriteStartObject();
                    w.WriteString("id", ProviderJson.Str(item, "call_id") ?? throw new InvalidDataException("A function_call item has no call_id."));
                    w.WriteString("type", "function");
                    w.WriteStartObject("function");
                    w.WriteString("name", ProviderJson.Str(item, "name") ?? throw new InvalidDataException("A function_call item has no name."));
                    w.WriteString("arguments", ProviderJson.Str(item, "arguments") ?? "");
                    w.WriteEndObject();
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            w.WriteEndObject();
            w.WriteNull("logprobs");
            w.WriteString("finish_reason", FinishReason(root, calls > 0));
            w.WriteEndObject();
            w.WriteEndArray();
            if (usage is { } known) WriteChatUsage(w, known);
            if (ProviderJson.Str(root, "service_tier") is { } tier) w.WriteString("service_tier", tier);
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Chat's finish_reason for a response object: tool_calls, length (max_output_tokens), content_filter, or stop.</summary>
    internal static string FinishReason(JsonElement response, bool toolCalls)
    {
        if (ProviderJson.Str(response, "status") == "incomplete")
        {
            var reason = response.TryGetProperty("incomplete_details", out var d) && d.ValueKind == JsonValueKind.Object ? ProviderJson.Str(d, "reason") : null;
            return reason == "content_filter" ? "content_filter" : "length";
        }
        return toolCalls ? "tool_calls" : "stop";
    }

    /// <summary>Chat's usage object, details included.</summary>
    internal static void WriteChatUsage(Utf8JsonWriter w, Usage usage)
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

    public IStreamTranslator CreateChatStream(ProviderCall call) => new ResponsesChatStream(call);

    public ValueTask<TranslatedRequest> BuildEmbeddingsRequestAsync(ReadOnlyMemory<byte> openAiBody, ProviderCall call, CancellationToken cancellationToken) =>
        ValueTask.FromResult(TranslatedRequest.Fail(ApiError.BadRequest(
            $"This deployment serves {call.UpstreamModel} through the Responses API only, which has no embeddings; configure an embeddings model separately.", "model")));

    public byte[] TranslateEmbeddingsResponse(ReadOnlyMemory<byte> providerBody, ProviderCall call, out Usage? usage) =>
        throw new InvalidOperationException("A Responses-only deployment builds no embeddings request.");

    public ProviderError ReadError(int status, ReadOnlySpan<byte> body) => OpenAiErrors.Read(status, body);
}
