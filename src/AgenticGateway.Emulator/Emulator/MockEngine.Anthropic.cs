using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using AgenticGateway.Configuration;

namespace AgenticGateway.Emulator;

/// <summary>
/// Anthropic's Messages API dialect: <c>POST */v1/messages</c> (and <c>/v1/messages/count_tokens</c>) with the
/// <c>x-api-key</c> header, and Claude on Vertex AI (<c>.../publishers/anthropic/models/{model}:rawPredict</c> or
/// <c>:streamRawPredict</c>, <c>count-tokens:rawPredict</c>) with a bearer token. The request is validated the way
/// Anthropic does (max_tokens required, turns alternate and start with user, every tool_use answered by a
/// tool_result in the next turn, signed thinking blocks), so a translation bug shows up as Anthropic's 400.
/// Faults come from the <c>x-mock-fault</c> header or the script: statuses answer in Anthropic's error shape
/// (529 overloaded_error, 429 rate_limit_error, ...); <c>content_policy</c> answers a <c>refusal</c> stop;
/// <c>cut=N</c> in a stream sends N events and then an <c>overloaded_error</c> event, as Anthropic breaks a stream.
/// </summary>
internal sealed partial class MockEngine
{
    private const string VertexModelsSegment = "/publishers/anthropic/models/";

    private static bool AnthropicRoute(IMockExchange exchange, string path) =>
        exchange.Method == "POST"
        && (path.EndsWith("/v1/messages", StringComparison.Ordinal) || path.EndsWith("/v1/messages/count_tokens", StringComparison.Ordinal)
            || (path.Contains(VertexModelsSegment, StringComparison.Ordinal) && (path.EndsWith(":rawPredict", StringComparison.Ordinal) || path.EndsWith(":streamRawPredict", StringComparison.Ordinal))));

    private async Task<bool> ServeAnthropicAsync(IMockExchange exchange, string path, CancellationToken cancellationToken)
    {
        var vertex = path.Contains(VertexModelsSegment, StringComparison.Ordinal);
        string? pathModel = null;
        var countTokens = path.EndsWith("/count_tokens", StringComparison.Ordinal);
        if (vertex)
        {
            var tail = path[(path.IndexOf(VertexModelsSegment, StringComparison.Ordinal) + VertexModelsSegment.Length)..];
            pathModel = Uri.UnescapeDataString(tail[..tail.LastIndexOf(':')]);
            countTokens = pathModel == "count-tokens";
        }

        if (requiredApiKey is not null && !(vertex ? Authorized(exchange) : exchange.RequestHeader("x-api-key") == requiredApiKey))
        {
            await WriteAnthropicErrorAsync(exchange, 401, "authentication_error", vertex ? "Request had invalid authentication credentials." : "invalid x-api-key", cancellationToken);
            return true;
        }
        if (!vertex && string.IsNullOrEmpty(exchange.RequestHeader("anthropic-version")))
        {
            await WriteAnthropicErrorAsync(exchange, 400, "invalid_request_error", "anthropic-version: header is required", cancellationToken);
            return true;
        }

        JsonDocument document;
        try { document = JsonDocument.Parse(exchange.RequestBody); }
        catch (JsonException ex)
        {
            await WriteAnthropicErrorAsync(exchange, 400, "invalid_request_error", $"There was an error parsing the body: {ex.Message}", cancellationToken);
            return true;
        }
        using (document)
        {
            var body = document.RootElement;
            var model = countTokens || !vertex
                ? (body.ValueKind == JsonValueKind.Object && body.TryGetProperty("model", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null)
                : pathModel;
            if (model is null)
            {
                await WriteAnthropicErrorAsync(exchange, 400, "invalid_request_error", "model: Field required", cancellationToken);
                return true;
            }
            if (AnthropicValidate(body, vertex && !countTokens, requireMaxTokens: !countTokens) is { } invalid)
            {
                await WriteAnthropicErrorAsync(exchange, 400, "invalid_request_error", invalid, cancellationToken);
                return true;
            }
            // Anthropic answers a field of the wrong type with a 400; the emulator reads the body loosely (and before it
            // writes), so what it did not expect is a 400 too.
            Task InvalidAsync(Exception ex) => WriteAnthropicErrorAsync(exchange, 400, "invalid_request_error", $"Invalid request body: {ex.Message}", cancellationToken);
            if (countTokens)
            {
                int tokens;
                try { tokens = AnthropicPromptTokens(body); }
                catch (Exception ex) when (Unreadable(ex)) { await InvalidAsync(ex); return true; }
                await WriteJsonAsync(exchange, 200, w => { w.WriteStartObject(); w.WriteNumber("input_tokens", tokens); w.WriteEndObject(); }, cancellationToken);
                return true;
            }

            var settings = defaults.WithHeaders(exchange);
            if (await BeginAsync(model, settings, f => AnthropicPreResponseFaultAsync(exchange, f, model, cancellationToken), cancellationToken) is not { } fault) return true;

            AnthropicAnswer reply;
            try { reply = AnthropicReply(body, refuse: fault.Kind == MockFaultKind.ContentPolicy); }
            catch (Exception ex) when (Unreadable(ex)) { await InvalidAsync(ex); return true; }
            var stream = vertex ? path.EndsWith(":streamRawPredict", StringComparison.Ordinal) || BoolField(body, "stream") : BoolField(body, "stream");
            if (stream) await AnthropicStreamAsync(exchange, reply, model, settings, fault, cancellationToken);
            else
            {
                if (settings.TimeToFirstToken > TimeSpan.Zero) await Task.Delay(settings.TimeToFirstToken, _time, cancellationToken);
                if (TokenDelay(settings) is var d && d > TimeSpan.Zero) await Task.Delay(d * reply.OutputTokens, _time, cancellationToken);
                var buffer = new ArrayBufferWriter<byte>(1024);
                using (var w = new Utf8JsonWriter(buffer)) WriteAnthropicMessage(w, reply, model);
                await WriteBodyWithFaultAsync(exchange, buffer, fault, cancellationToken);
            }
        }
        return true;
    }

    /// <summary>One generated answer: optional thinking, then text or tool calls, with Anthropic's usage split.</summary>
    private sealed record AnthropicAnswer(
        string Id, List<string>? Thinking, string? Signature, List<string> Text, List<(string Id, string Name, List<string> InputPieces)> Tools,
        string StopReason, int InputTokens, int CacheReadTokens)
    {
        public int OutputTokens => (Thinking?.Count ?? 0) + (Tools.Count > 0 ? Tools.Sum(t => t.InputPieces.Count) : Text.Count);
    }

    /// <summary>Anthropic's own checks, in its words, for the mistakes a translator can make.</summary>
    private static string? AnthropicValidate(JsonElement body, bool vertex, bool requireMaxTokens)
    {
        if (body.ValueKind != JsonValueKind.Object) return "body: Input should be an object";
        if (vertex && !(body.TryGetProperty("anthropic_version", out var av) && av.ValueKind == JsonValueKind.String)) return "anthropic_version: Field required";
        if (requireMaxTokens && !(body.TryGetProperty("max_tokens", out var mt) && mt.ValueKind == JsonValueKind.Number && mt.TryGetInt32(out var max) && max >= 1))
            return "max_tokens: Field required";
        if (!body.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array) return "messages: Field required";
        if (messages.GetArrayLength() == 0) return "messages: at least one message is required";
        if (body.TryGetProperty("thinking", out var thinking) && AnthropicMessagesText(thinking, "type") == "enabled")
        {
            var budget = thinking.TryGetProperty("budget_tokens", out var b) && b.TryGetInt32(out var bt) ? bt : 0;
            if (budget < 1024) return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024";
            if (requireMaxTokens && budget >= IntField(body, "max_tokens")) return "`max_tokens` must be greater than `thinking.budget_tokens`.";
        }
        string? previousRole = null;
        HashSet<string> pendingToolUses = [];
        var i = 0;
        foreach (var message in messages.EnumerateArray())
        {
            var role = AnthropicMessagesText(message, "role");
            if (role is not ("user" or "assistant")) return $"messages.{i}.role: Input should be 'user' or 'assistant'";
            if (i == 0 && role != "user") return "messages: first message must use the \"user\" role";
            if (role == previousRole) return $"messages: roles must alternate between \"user\" and \"assistant\", but found multiple \"{role}\" roles in a row";
            if (!message.TryGetProperty("content", out var content) || content.ValueKind is not (JsonValueKind.String or JsonValueKind.Array))
                return $"messages.{i}.content: Field required";
            var answered = new HashSet<string>();
            var toolUses = new HashSet<string>();
            if (content.ValueKind == JsonValueKind.Array)
            {
                if (content.GetArrayLength() == 0 && !(role == "assistant" && i == messages.GetArrayLength() - 1)) return $"messages.{i}: all messages must have non-empty content except for the optional final assistant message";
                var j = 0;
                foreach (var block in content.EnumerateArray())
                {
                    switch (AnthropicMessagesText(block, "type"))
                    {
                        case "text" when string.IsNullOrEmpty(AnthropicMessagesText(block, "text")):
                            return $"messages.{i}.content.{j}.text: text content blocks must be non-empty";
                        case "tool_result" when role == "user":
                            var id = AnthropicMessagesText(block, "tool_use_id") ?? "";
                            if (!pendingToolUses.Contains(id))
                                return $"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: {id}. Each `tool_result` block must have a corresponding `tool_use` block in the previous message.";
                            answered.Add(id);
                            break;
                        case "tool_use" when role == "assistant":
                            if (!(block.TryGetProperty("input", out var input) && input.ValueKind == JsonValueKind.Object)) return $"messages.{i}.content.{j}.tool_use.input: Input should be an object";
                            toolUses.Add(AnthropicMessagesText(block, "id") ?? "");
                            break;
                        case "thinking" when string.IsNullOrEmpty(AnthropicMessagesText(block, "signature")):
                            return $"messages.{i}.content.{j}.thinking.signature: Field required";
                        case "text" or "image" or "document" or "thinking" or "redacted_thinking":
                            break;
                        case "tool_result" or "tool_use":
                            return $"messages.{i}.content.{j}: {AnthropicMessagesText(block, "type")} blocks are not allowed in {role} messages";
                        default:
                            return $"messages.{i}.content.{j}.type: Input tag '{AnthropicMessagesText(block, "type")}' does not match any of the expected tags";
                    }
                    j++;
                }
            }
            else if (string.IsNullOrEmpty(content.GetString()) && !(role == "assistant" && i == messages.GetArrayLength() - 1))
                return $"messages.{i}: all messages must have non-empty content except for the optional final assistant message";
            if (role == "user" && pendingToolUses.Count > 0 && !pendingToolUses.SetEquals(answered))
                return $"messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: {string.Join(", ", pendingToolUses.Except(answered))}. Each `tool_use` block must have a corresponding `tool_result` block in the next message.";
            pendingToolUses = role == "assistant" ? toolUses : [];
            previousRole = role;
            i++;
        }
        return null;
    }

    private static string? AnthropicMessagesText(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    /// <summary>Prompt tokens: the words of every text in system, messages and tools, plus a fixed cost per image or document.</summary>
    private static int AnthropicPromptTokens(JsonElement body)
    {
        var tokens = 0;
        if (body.TryGetProperty("system", out var system)) tokens += CountContent(system);
        if (body.TryGetProperty("messages", out var messages))
            foreach (var message in messages.EnumerateArray())
                tokens += 3 + (message.TryGetProperty("content", out var content) ? CountContent(content) : 0);
        if (body.TryGetProperty("tools", out var tools)) tokens += MockText.CountTokens(tools.GetRawText());
        return tokens;

        static int CountContent(JsonElement content)
        {
            if (content.ValueKind == JsonValueKind.String) return MockText.CountTokens(content.GetString()!);
            if (content.ValueKind != JsonValueKind.Array) return 0;
            var n = 0;
            foreach (var block in content.EnumerateArray())
            {
                switch (AnthropicMessagesText(block, "type"))
                {
                    case "text": n += MockText.CountTokens(AnthropicMessagesText(block, "text") ?? ""); break;
                    case "thinking": n += MockText.CountTokens(AnthropicMessagesText(block, "thinking") ?? ""); break;
                    case "image": n += 85; break;
                    case "document": n += 250; break;
                    case "tool_use": n += MockText.CountTokens(block.TryGetProperty("input", out var input) ? input.GetRawText() : ""); break;
                    case "tool_result": n += block.TryGetProperty("content", out var inner) ? CountContent(inner) : 0; break;
                }
            }
            return n;
        }
    }

    private static AnthropicAnswer AnthropicReply(JsonElement body, bool refuse)
    {
        var messages = body.GetProperty("messages");
        var seed = Hash(Encoding.UTF8.GetBytes(messages.GetRawText()));
        var id = NewId("msg_mock");
        var maxTokens = IntField(body, "max_tokens") ?? int.MaxValue;
        var promptTokens = AnthropicPromptTokens(body);
        // A request that marks anything for caching is answered as a cache hit on half its prompt, so callers see
        // cache_read_input_tokens without the emulator keeping a cache.
        var cacheRead = body.GetRawText().Contains("\"cache_control\"", StringComparison.Ordinal) ? promptTokens / 2 : 0;

        List<string>? thinking = null;
        string? signature = null;
        if (body.TryGetProperty("thinking", out var th) && AnthropicMessagesText(th, "type") == "enabled")
        {
            thinking = MockText.Sentence(seed ^ 0x5eed, 6);
            signature = Convert.ToBase64String(BitConverter.GetBytes(MockText.Hash(Encoding.UTF8.GetBytes(string.Concat(thinking)))));
            maxTokens -= thinking.Count;
        }

        if (refuse)
            return new AnthropicAnswer(id, thinking, signature, MockText.Tokenize("I can't help with that request."), [], "refusal", promptTokens - cacheRead, cacheRead);

        var last = messages[messages.GetArrayLength() - 1];
        var answersTools = last.TryGetProperty("content", out var lastContent) && lastContent.ValueKind == JsonValueKind.Array
            && lastContent.EnumerateArray().Any(b => AnthropicMessagesText(b, "type") == "tool_result");
        if (body.TryGetProperty("tools", out var tools) && tools.ValueKind == JsonValueKind.Array && tools.GetArrayLength() > 0 && !answersTools)
        {
            var choice = body.TryGetProperty("tool_choice", out var tc) ? tc : default;
            var choiceType = AnthropicMessagesText(choice, "type") ?? "auto";
            if (choiceType != "none")
            {
                var forced = choiceType == "tool" ? AnthropicMessagesText(choice, "name") : null;
                if (MockDirectives.TryToolCall(AnthropicLastUserText(messages), out var directed, out var directedArgs) && (forced is null || forced == directed)
                    && tools.EnumerateArray().Any(t => AnthropicMessagesText(t, "name") == directed))
                    return new AnthropicAnswer(id, thinking, signature, [], [($"toolu_mock{seed:x12}", directed, MockText.Chunk(directedArgs))], "tool_use", promptTokens - cacheRead, cacheRead);
                var parallel = !(choice.ValueKind == JsonValueKind.Object && choice.TryGetProperty("disable_parallel_tool_use", out var dp) && dp.ValueKind == JsonValueKind.True);
                IEnumerable<JsonElement> selected = choiceType switch
                {
                    "tool" => tools.EnumerateArray().Where(t => AnthropicMessagesText(t, "name") == AnthropicMessagesText(choice, "name")).Take(1),
                    "any" when parallel => tools.EnumerateArray().Take(2),
                    _ => tools.EnumerateArray().Take(1),
                };
                var calls = selected.Select((tool, k) => (
                    $"toolu_mock{seed + (ulong)k:x12}",
                    AnthropicMessagesText(tool, "name") ?? "tool",
                    MockText.Chunk(MockText.SampleFromSchema(tool.TryGetProperty("input_schema", out var schema) ? schema : null)))).ToList();
                if (calls.Count > 0) return new AnthropicAnswer(id, thinking, signature, [], calls, "tool_use", promptTokens - cacheRead, cacheRead);
            }
        }

        List<string> text;
        if (answersTools)
            text = MockText.Tokenize(MockDirectives.ToolResultAnswer(lastContent.EnumerateArray()
                .Where(b => AnthropicMessagesText(b, "type") == "tool_result")
                .Select(b => b.TryGetProperty("content", out var c) ? MockDirectives.TextOf(c) : "")));
        else if (body.TryGetProperty("output_config", out var oc) && oc.TryGetProperty("format", out var format) && format.TryGetProperty("schema", out var outputSchema))
            text = MockText.Chunk(MockText.SampleFromSchema(outputSchema));
        else
            text = MockText.Sentence(seed, 8 + (int)(seed % 17));
        var stop = "end_turn";
        if (text.Count > Math.Max(0, maxTokens)) { text = text.GetRange(0, Math.Max(0, maxTokens)); stop = "max_tokens"; }
        return new AnthropicAnswer(id, thinking, signature, text, [], stop, promptTokens - cacheRead, cacheRead);
    }

    /// <summary>The text of the last user message's text (string content or text blocks; tool results aside).</summary>
    private static string? AnthropicLastUserText(JsonElement messages)
    {
        for (var i = messages.GetArrayLength() - 1; i >= 0; i--)
        {
            var m = messages[i];
            if (AnthropicMessagesText(m, "role") != "user" || !m.TryGetProperty("content", out var content)) continue;
            if (content.ValueKind == JsonValueKind.String) return content.GetString();
            if (content.ValueKind == JsonValueKind.Array)
                return string.Join("\n", content.EnumerateArray().Where(b => AnthropicMessagesText(b, "type") == "text").Select(b => AnthropicMessagesText(b, "text")));
        }
        return null;
    }

    private static void WriteAnthropicMessage(Utf8JsonWriter w, AnthropicAnswer a, string model)
    {
        w.WriteStartObject();
        w.WriteString("id", a.Id);
        w.WriteString("type", "message");
        w.WriteString("role", "assistant");
        w.WriteString("model", model);
        w.WriteStartArray("content");
        if (a.Thinking is not null)
        {
            w.WriteStartObject();
            w.WriteString("type", "thinking");
            w.WriteString("thinking", string.Concat(a.Thinking));
            w.WriteString("signature", a.Signature);
            w.WriteEndObject();
        }
        if (a.Tools.Count == 0)
        {
            w.WriteStartObject();
            w.WriteString("type", "text");
            w.WriteString("text", string.Concat(a.Text));
            w.WriteEndObject();
        }
        foreach (var (id, name, pieces) in a.Tools)
        {
            w.WriteStartObject();
            w.WriteString("type", "tool_use");
            w.WriteString("id", id);
            w.WriteString("name", name);
            w.WritePropertyName("input");
            using (var input = JsonDocument.Parse(string.Concat(pieces))) input.RootElement.WriteTo(w);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteString("stop_reason", a.StopReason);
        w.WriteNull("stop_sequence");
        WriteAnthropicUsage(w, a, a.OutputTokens);
        w.WriteEndObject();
    }

    private static void WriteAnthropicUsage(Utf8JsonWriter w, AnthropicAnswer a, int outputTokens)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("input_tokens", a.InputTokens);
        w.WriteNumber("cache_creation_input_tokens", 0);
        w.WriteNumber("cache_read_input_tokens", a.CacheReadTokens);
        w.WriteNumber("output_tokens", outputTokens);
        w.WriteEndObject();
    }

    /// <summary>The documented event order: message_start, then per block start/deltas/stop (a ping after the first start), message_delta, message_stop.</summary>
    private async Task AnthropicStreamAsync(IMockExchange exchange, AnthropicAnswer a, string model, MockSettings settings, MockFault fault, CancellationToken cancellationToken)
    {
        await StartStreamAsync(exchange, settings, cancellationToken);
        var tokenDelay = TokenDelay(settings);
        var json = new ArrayBufferWriter<byte>(512);
        var sent = 0;

        async ValueTask<bool> EmitAsync(string type, Action<Utf8JsonWriter> write, bool token = false)
        {
            if (fault.Kind == MockFaultKind.Cut && sent >= fault.CutAfterChunks)
            {
                await WriteNamedEventAsync(exchange, json, "error", w => WriteAnthropicErrorBody(w, "overloaded_error", fault.Message ?? "Overloaded", withRequestId: false), cancellationToken);
                return false;
            }
            if (token && tokenDelay > TimeSpan.Zero) await Task.Delay(tokenDelay, _time, cancellationToken);
            await WriteNamedEventAsync(exchange, json, type, w =>
            {
                w.WriteStartObject();
                w.WriteString("type", type);
                write(w);
                w.WriteEndObject();
            }, cancellationToken);
            sent++;
            return true;
        }

        if (!await EmitAsync("message_start", w =>
        {
            w.WriteStartObject("message");
            w.WriteString("id", a.Id);
            w.WriteString("type", "message");
            w.WriteString("role", "assistant");
            w.WriteString("model", model);
            w.WriteStartArray("content");
            w.WriteEndArray();
            w.WriteNull("stop_reason");
            w.WriteNull("stop_sequence");
            WriteAnthropicUsage(w, a, 1);
            w.WriteEndObject();
        })) return;

        var index = 0;
        var pinged = false;
        async ValueTask<bool> BlockAsync(Action<Utf8JsonWriter> start, IEnumerable<Action<Utf8JsonWriter>> deltas)
        {
            var i = index++;
            if (!await EmitAsync("content_block_start", w => { w.WriteNumber("index", i); w.WritePropertyName("content_block"); start(w); })) return false;
            if (!pinged)
            {
                pinged = true;
                if (!await EmitAsync("ping", _ => { })) return false;
            }
            foreach (var delta in deltas)
                if (!await EmitAsync("content_block_delta", w => { w.WriteNumber("index", i); w.WritePropertyName("delta"); delta(w); }, token: true)) return false;
            return await EmitAsync("content_block_stop", w => w.WriteNumber("index", i));
        }

        if (a.Thinking is not null)
        {
            var deltas = a.Thinking.Select(piece => (Action<Utf8JsonWriter>)(w => { w.WriteStartObject(); w.WriteString("type", "thinking_delta"); w.WriteString("thinking", piece); w.WriteEndObject(); }))
                .Append(w => { w.WriteStartObject(); w.WriteString("type", "signature_delta"); w.WriteString("signature", a.Signature); w.WriteEndObject(); });
            if (!await BlockAsync(w => { w.WriteStartObject(); w.WriteString("type", "thinking"); w.WriteString("thinking", ""); w.WriteEndObject(); }, deltas)) return;
        }
        if (a.Tools.Count == 0)
        {
            var deltas = a.Text.Select(piece => (Action<Utf8JsonWriter>)(w => { w.WriteStartObject(); w.WriteString("type", "text_delta"); w.WriteString("text", piece); w.WriteEndObject(); }));
            if (!await BlockAsync(w => { w.WriteStartObject(); w.WriteString("type", "text"); w.WriteString("text", ""); w.WriteEndObject(); }, deltas)) return;
        }
        foreach (var (id, name, pieces) in a.Tools)
        {
            var deltas = pieces.Prepend("").Select(piece => (Action<Utf8JsonWriter>)(w => { w.WriteStartObject(); w.WriteString("type", "input_json_delta"); w.WriteString("partial_json", piece); w.WriteEndObject(); }));
            if (!await BlockAsync(w =>
            {
                w.WriteStartObject();
                w.WriteString("type", "tool_use");
                w.WriteString("id", id);
                w.WriteString("name", name);
                w.WriteStartObject("input");
                w.WriteEndObject();
                w.WriteEndObject();
            }, deltas)) return;
        }

        if (!await EmitAsync("message_delta", w =>
        {
            w.WriteStartObject("delta");
            w.WriteString("stop_reason", a.StopReason);
            w.WriteNull("stop_sequence");
            w.WriteEndObject();
            w.WriteStartObject("usage");
            w.WriteNumber("output_tokens", a.OutputTokens);
            w.WriteEndObject();
        })) return;
        await EmitAsync("message_stop", _ => { });
    }

    /// <summary>One SSE event, <c>event: {type}</c> and <c>data: {json}</c>, written and flushed (Anthropic's and Cohere's streams).</summary>
    private static async ValueTask WriteNamedEventAsync(IMockExchange exchange, ArrayBufferWriter<byte> json, string type, Action<Utf8JsonWriter> write, CancellationToken cancellationToken)
    {
        json.ResetWrittenCount();
        json.Write(Encoding.UTF8.GetBytes("event: " + type + "\ndata: "));
        using (var w = new Utf8JsonWriter(json)) write(w);
        json.Write(EventEnd);
        await exchange.WriteAsync(json.WrittenMemory.ToArray(), cancellationToken);
        await exchange.FlushAsync(cancellationToken);
    }

    private async Task<bool> AnthropicPreResponseFaultAsync(IMockExchange exchange, MockFault fault, string model, CancellationToken cancellationToken)
    {
        switch (fault.Kind)
        {
            case MockFaultKind.Reset or MockFaultKind.Timeout or MockFaultKind.Malformed:
                return await ApplyPreResponseFaultAsync(exchange, fault, model, cancellationToken);
            case MockFaultKind.Status:
                if (fault.RetryAfterSeconds is { } ra) exchange.SetHeader("retry-after", ra.ToString(CultureInfo.InvariantCulture));
                var (type, message) = fault.Status switch
                {
                    400 => ("invalid_request_error", "Invalid request."),
                    401 => ("authentication_error", "invalid x-api-key"),
                    403 => ("permission_error", "Your API key does not have permission to use the specified resource."),
                    404 => ("not_found_error", $"model: {model}"),
                    413 => ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
                    429 => ("rate_limit_error", "This request would exceed the rate limit for your organization of 50 requests per minute."),
                    503 or 529 => ("overloaded_error", "Overloaded"),
                    504 => ("timeout_error", "Request timed out."),
                    _ => ("api_error", "Internal server error"),
                };
                await WriteAnthropicErrorAsync(exchange, fault.Status, type, fault.Message ?? message, cancellationToken);
                return true;
            case MockFaultKind.ContextWindow:
                await WriteAnthropicErrorAsync(exchange, 400, "invalid_request_error", fault.Message ?? "prompt is too long: 210000 tokens > 200000 maximum", cancellationToken);
                return true;
            default:
                return false;
        }
    }

    private static Task WriteAnthropicErrorAsync(IMockExchange exchange, int status, string type, string message, CancellationToken cancellationToken) =>
        WriteJsonAsync(exchange, status, w => WriteAnthropicErrorBody(w, type, message, withRequestId: true), cancellationToken);

    private static void WriteAnthropicErrorBody(Utf8JsonWriter w, string type, string message, bool withRequestId)
    {
        w.WriteStartObject();
        w.WriteString("type", "error");
        w.WriteStartObject("error");
        w.WriteString("type", type);
        w.WriteString("message", message);
        w.WriteEndObject();
        if (withRequestId) w.WriteString("request_id", "req_mock" + MockText.Hash(Encoding.UTF8.GetBytes(message)).ToString("x16", CultureInfo.InvariantCulture));
        w.WriteEndObject();
    }
}
