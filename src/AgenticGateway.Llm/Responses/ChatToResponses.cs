using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace AgenticGateway.Responses;

/// <summary>
/// Turns a chat completion into Responses output items, and writes the Responses object (<c>"object":"response"</c>)
/// around output items, echoing the request's settings the way OpenAI does.
/// </summary>
/// <remarks>
/// <para>Items, in the order a Responses model produces them: the reasoning (<c>reasoning_content</c> or
/// <c>reasoning</c>) as a <c>reasoning</c> item whose one summary part is that text, with LiteLLM's signed
/// <c>thinking_blocks</c> kept in <c>encrypted_content</c> so Claude's thinking can be sent back; the text and
/// refusal as one assistant <c>message</c> (<c>output_text</c> with annotations and logprobs, <c>refusal</c>); each
/// tool call as a <c>function_call</c> whose <c>call_id</c> is the chat call's id.</para>
/// <para>Finish: <c>length</c> makes the response <c>incomplete</c> with reason <c>max_output_tokens</c>, and
/// <c>content_filter</c> incomplete with reason <c>content_filter</c>; the message is then <c>incomplete</c> too.</para>
/// </remarks>
internal static class ChatToResponses
{
    internal static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Compact JSON text with readable non-ASCII, for JSON kept inside a string.</summary>
    internal static readonly JsonSerializerOptions CompactJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// Reads a chat completion body. <paramref name="ids"/> names the items (by default, random ids). Throws
    /// <see cref="InvalidDataException"/> when the body is not a chat completion.
    /// </summary>
    public static ResponsesOutput FromCompletion(ReadOnlySpan<byte> chatCompletion, ResponsesItemIds? ids = null)
    {
        ids ??= new ResponsesItemIds(null);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(chatCompletion.ToArray());
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"The chat completion is not JSON: {ex.Message}", ex);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("choices", out var choices) || choices.ValueKind != JsonValueKind.Array
                || choices.GetArrayLength() == 0 || choices[0] is not { ValueKind: JsonValueKind.Object } choice
                || !choice.TryGetProperty("message", out var message) || message.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException("The chat completion has no choices[0].message.");

            var finish = Str(choice, "finish_reason");
            var incomplete = IncompleteReason(finish);
            var output = new JsonArray();
            if (ReasoningText(message) is { Length: > 0 } reasoning || SignedThinking(message) is not null)
                output.Add(ReasoningItem(ids.Next("rs"), ReasoningText(message) ?? "", SignedThinking(message)));

            var parts = new JsonArray();
            if (ContentText(message) is { Length: > 0 } text)
            {
                var logprobs = choice.TryGetProperty("logprobs", out var lp) ? OutputLogprobs(lp) : [];
                parts.Add(OutputText(text, Annotations(message), logprobs));
            }
            if (Str(message, "refusal") is { Length: > 0 } refusal) parts.Add(new JsonObject { ["type"] = "refusal", ["refusal"] = refusal });
            if (parts.Count > 0) output.Add(MessageItem(ids.Next("msg"), incomplete is null ? "completed" : "incomplete", parts));

            if (message.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array)
                foreach (var call in calls.EnumerateArray())
                {
                    if (!call.TryGetProperty("function", out var function) || function.ValueKind != JsonValueKind.Object) continue;
                    var callId = Str(call, "id") is { Length: > 0 } id ? id : ResponsesIds.New("call");
                    output.Add(FunctionCallItem(ids.Next("fc"), callId, Str(function, "name") ?? "", Str(function, "arguments") ?? "", incomplete is null ? "completed" : "incomplete"));
                }
            else if (message.TryGetProperty("function_call", out var legacy) && legacy.ValueKind == JsonValueKind.Object)
                output.Add(FunctionCallItem(ids.Next("fc"), ResponsesIds.New("call"), Str(legacy, "name") ?? "", Str(legacy, "arguments") ?? "", incomplete is null ? "completed" : "incomplete"));

            JsonObject? usageJson = null;
            OpenAi.Usage? usage = null;
            if (root.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object)
            {
                var (read, writes) = ResponsesUsage.FromChat(u);
                usage = read;
                usageJson = ResponsesUsage.ToJson(read, writes);
            }
            return new ResponsesOutput(output, usageJson, incomplete is null ? "completed" : "incomplete", incomplete is null ? null : new JsonObject { ["reason"] = incomplete })
            {
                GatewayUsage = usage,
                FinishReason = finish,
                ServiceTier = Str(root, "service_tier"),
            };
        }
    }

    /// <summary>
    /// The Responses object. <paramref name="completedAt"/> defaults to now for a completed response;
    /// <paramref name="serviceTier"/> to the request's (<c>auto</c> while in progress, else <c>default</c>).
    /// </summary>
    public static byte[] Response(ResponsesCreate request, string id, long createdAt, string status, JsonArray output, JsonObject? usage, JsonObject? error,
        JsonObject? incompleteDetails, long? completedAt = null, string? serviceTier = null)
    {
        var buffer = new ArrayBufferWriter<byte>(2048);
        using (var w = new Utf8JsonWriter(buffer, WriterOptions))
            WriteResponse(w, request, id, createdAt, status, output, usage, error, incompleteDetails, completedAt, serviceTier);
        return buffer.WrittenSpan.ToArray();
    }

    internal static void WriteResponse(Utf8JsonWriter w, ResponsesCreate request, string id, long createdAt, string status, JsonArray output, JsonObject? usage,
        JsonObject? error, JsonObject? incompleteDetails, long? completedAt, string? serviceTier)
    {
        w.WriteStartObject();
        w.WriteString("id", id);
        w.WriteString("object", "response");
        w.WriteNumber("created_at", createdAt);
        w.WriteString("status", status);
        w.WriteBoolean("background", request.Background);
        if (status == "completed") w.WriteNumber("completed_at", completedAt ?? DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        else w.WriteNull("completed_at");
        Node(w, "error", error);
        Node(w, "incomplete_details", incompleteDetails);
        StringOrNull(w, "instructions", request.Instructions);
        NumberOrNull(w, "max_output_tokens", request.MaxOutputTokens);
        NumberOrNull(w, "max_tool_calls", request.MaxToolCalls);
        w.WriteString("model", request.Model);
        Node(w, "output", output);
        w.WriteBoolean("parallel_tool_calls", request.ParallelToolCalls ?? true);
        StringOrNull(w, "previous_response_id", request.PreviousResponseId);
        StringOrNull(w, "prompt_cache_key", request.PromptCacheKey);
        StringOrNull(w, "prompt_cache_retention", request.PromptCacheRetention);
        w.WriteStartObject("reasoning");
        Node(w, "effort", request.Reasoning?["effort"]);
        Node(w, "summary", request.Reasoning?["summary"]);
        w.WriteEndObject();
        StringOrNull(w, "safety_identifier", request.SafetyIdentifier);
        w.WriteString("service_tier", serviceTier ?? request.ServiceTier ?? (status is "in_progress" or "queued" ? "auto" : "default"));
        w.WriteBoolean("store", request.Store);
        w.WriteNumber("temperature", request.Temperature ?? 1.0);
        w.WriteStartObject("text");
        if (request.Text?["format"] is { } format) Node(w, "format", format);
        else
        {
            w.WriteStartObject("format");
            w.WriteString("type", "text");
            w.WriteEndObject();
        }
        if (request.Text?["verbosity"] is { } verbosity) Node(w, "verbosity", verbosity);
        else w.WriteString("verbosity", "medium");
        w.WriteEndObject();
        if (request.ToolChoice is { } choice) Node(w, "tool_choice", choice);
        else w.WriteString("tool_choice", "auto");
        w.WriteStartArray("tools");
        foreach (var tool in request.Tools) EchoTool(w, (JsonObject)tool!);
        w.WriteEndArray();
        w.WriteNumber("top_logprobs", request.TopLogprobs ?? 0);
        w.WriteNumber("top_p", request.TopP ?? 1.0);
        w.WriteString("truncation", request.Truncation ?? "disabled");
        Node(w, "usage", usage);
        StringOrNull(w, "user", request.User);
        Node(w, "metadata", request.Metadata ?? new JsonObject());
        w.WriteEndObject();
    }

    /// <summary>A function tool as OpenAI echoes it (every field, strict defaulting to true as in the Responses API); other tools as sent.</summary>
    private static void EchoTool(Utf8JsonWriter w, JsonObject tool)
    {
        if (ResponsesCreate.Str(tool, "type") != "function")
        {
            tool.WriteTo(w);
            return;
        }
        w.WriteStartObject();
        w.WriteString("type", "function");
        Node(w, "description", tool["description"]);
        Node(w, "name", tool["name"]);
        Node(w, "parameters", tool["parameters"]);
        if (tool["strict"] is { } strict) Node(w, "strict", strict);
        else w.WriteBoolean("strict", true);
        w.WriteEndObject();
    }

    // Item and part shapes, shared with the stream so both say the same thing.

    internal static JsonObject MessageItem(string id, string status, JsonArray content) => new()
    {
        ["id"] = id,
        ["type"] = "message",
        ["status"] = status,
        ["content"] = content,
        ["role"] = "assistant",
    };

    internal static JsonObject OutputText(string text, JsonArray annotations, JsonArray logprobs) => new()
    {
        ["type"] = "output_text",
        ["annotations"] = annotations,
        ["logprobs"] = logprobs,
        ["text"] = text,
    };

    internal static JsonObject FunctionCallItem(string id, string callId, string name, string arguments, string status) => new()
    {
        ["id"] = id,
        ["type"] = "function_call",
        ["status"] = status,
        ["arguments"] = arguments,
        ["call_id"] = callId,
        ["name"] = name,
    };

    internal static JsonObject ReasoningItem(string id, string? summary, string? encryptedContent)
    {
        var item = new JsonObject { ["id"] = id, ["type"] = "reasoning" };
        if (encryptedContent is not null) item["encrypted_content"] = encryptedContent;
        item["summary"] = summary is { Length: > 0 } ? new JsonArray(SummaryText(summary)) : new JsonArray();
        return item;
    }

    internal static JsonObject SummaryText(string text) => new() { ["type"] = "summary_text", ["text"] = text };

    internal static string? IncompleteReason(string? finishReason) => finishReason switch
    {
        "length" => "max_output_tokens",
        "content_filter" => "content_filter",
        _ => null,
    };

    /// <summary>The reasoning text of a chat message or delta (<c>reasoning_content</c>, or <c>reasoning</c> as OpenRouter and vLLM name it).</summary>
    internal static string? ReasoningText(JsonElement message) => Str(message, "reasoning_content") ?? Str(message, "reasoning");

    /// <summary>The message's text: a string, or (as some servers send it) an array of text parts.</summary>
    private static string? ContentText(JsonElement message)
    {
        if (!message.TryGetProperty("content", out var content)) return null;
        if (content.ValueKind == JsonValueKind.String) return content.GetString();
        if (content.ValueKind != JsonValueKind.Array) return null;
        var text = new System.Text.StringBuilder();
        foreach (var part in content.EnumerateArray())
            if (Str(part, "text") is { } t) text.Append(t);
        return text.ToString();
    }

    /// <summary>LiteLLM's <c>thinking_blocks</c> as text for <c>encrypted_content</c>, when one carries what must go back (a signature or redacted data).</summary>
    internal static string? SignedThinking(JsonElement message)
    {
        if (!message.TryGetProperty("thinking_blocks", out var blocks) || blocks.ValueKind != JsonValueKind.Array) return null;
        var keep = false;
        foreach (var block in blocks.EnumerateArray())
            keep |= Str(block, "signature") is { Length: > 0 } || Str(block, "type") == "redacted_thinking";
        return keep ? JsonNode.Parse(blocks.GetRawText())!.ToJsonString(CompactJson) : null;
    }

    /// <summary>Chat annotations (<c>{type:url_citation, url_citation:{...}}</c>) in Responses' flat form.</summary>
    private static JsonArray Annotations(JsonElement message)
    {
        var annotations = new JsonArray();
        if (!message.TryGetProperty("annotations", out var list) || list.ValueKind != JsonValueKind.Array) return annotations;
        foreach (var a in list.EnumerateArray())
        {
            if (Str(a, "type") != "url_citation" || !a.TryGetProperty("url_citation", out var c) || c.ValueKind != JsonValueKind.Object) continue;
            annotations.Add(new JsonObject
            {
                ["type"] = "url_citation",
                ["start_index"] = c.TryGetProperty("start_index", out var s) && s.TryGetInt32(out var si) ? si : 0,
                ["end_index"] = c.TryGetProperty("end_index", out var e) && e.TryGetInt32(out var ei) ? ei : 0,
                ["title"] = Str(c, "title") ?? "",
                ["url"] = Str(c, "url") ?? "",
            });
        }
        return annotations;
    }

    /// <summary>Chat <c>logprobs.content</c> as Responses output_text logprobs (<c>token, bytes, logprob, top_logprobs</c>).</summary>
    internal static JsonArray OutputLogprobs(JsonElement logprobs, bool forDelta = false)
    {
        var result = new JsonArray();
        if (logprobs.ValueKind != JsonValueKind.Object || !logprobs.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.Array) return result;
        foreach (var entry in content.EnumerateArray())
        {
            if (entry.ValueKind != JsonValueKind.Object) continue;
            var item = Logprob(entry, forDelta);
            var top = new JsonArray();
            if (entry.TryGetProperty("top_logprobs", out var tops) && tops.ValueKind == JsonValueKind.Array)
                foreach (var t in tops.EnumerateArray())
                    if (t.ValueKind == JsonValueKind.Object) top.Add(Logprob(t, forDelta));
            item["top_logprobs"] = top;
            result.Add(item);
        }
        return result;
    }

    /// <summary>One logprob: the delta event's form has no bytes (openai-node <c>ResponseTextDeltaEvent.Logprob</c>).</summary>
    private static JsonObject Logprob(JsonElement entry, bool forDelta)
    {
        var item = new JsonObject { ["token"] = Str(entry, "token") ?? "" };
        if (!forDelta) item["bytes"] = entry.TryGetProperty("bytes", out var b) && b.ValueKind == JsonValueKind.Array ? JsonNode.Parse(b.GetRawText()) : new JsonArray();
        item["logprob"] = entry.TryGetProperty("logprob", out var lp) && lp.ValueKind == JsonValueKind.Number ? lp.GetDouble() : 0;
        return item;
    }

    internal static string? Str(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static void Node(Utf8JsonWriter w, string name, JsonNode? node)
    {
        w.WritePropertyName(name);
        if (node is null) w.WriteNullValue();
        else node.WriteTo(w);
    }

    private static void StringOrNull(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null) w.WriteNull(name);
        else w.WriteString(name, value);
    }

    private static void NumberOrNull(Utf8JsonWriter w, string name, int? value)
    {
        if (value is null) w.WriteNull(name);
        else w.WriteNumber(name, value.Value);
    }
}
