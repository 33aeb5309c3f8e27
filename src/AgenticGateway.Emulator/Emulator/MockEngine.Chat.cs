using System.Buffers;
using System.Text;
using System.Text.Json;
using AgenticGateway.Configuration;

namespace AgenticGateway.Emulator;

internal sealed partial class MockEngine
{
    /// <summary>One generated choice: either text pieces or tool calls whose arguments stream in pieces.</summary>
    private sealed record Choice(List<string> Pieces, List<(string Id, string Name, List<string> ArgPieces)> ToolCalls, string FinishReason)
    {
        public int CompletionTokens => ToolCalls.Count > 0 ? ToolCalls.Sum(t => t.ArgPieces.Count) : Pieces.Count;
    }

    private async Task ChatAsync(IMockExchange exchange, JsonElement body, string model, MockSettings settings, MockFault fault, CancellationToken cancellationToken)
    {
        if (!body.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array || messages.GetArrayLength() == 0)
        {
            await WriteErrorAsync(exchange, 400, "[] is too short - 'messages'", "invalid_request_error", null, "messages", cancellationToken);
            return;
        }
        var seed = Hash(Encoding.UTF8.GetBytes(messages.GetRawText()));
        var promptTokens = CountPromptTokens(messages);
        if (body.TryGetProperty("tools", out var toolsForCount)) promptTokens += MockText.CountTokens(toolsForCount.GetRawText());
        var n = Math.Clamp(IntField(body, "n") ?? 1, 1, 16);
        var maxTokens = IntField(body, "max_completion_tokens") ?? IntField(body, "max_tokens");
        var choices = new List<Choice>(n);
        for (var i = 0; i < n; i++) choices.Add(MakeChoice(body, messages, seed + (ulong)i * 7919, maxTokens));
        var completionTokens = choices.Sum(c => c.CompletionTokens);
        var logprobs = BoolField(body, "logprobs");
        var topLogprobs = Math.Clamp(IntField(body, "top_logprobs") ?? 0, 0, 20);
        var id = NewId("chatcmpl-mock");
        var created = _time.GetUtcNow().ToUnixTimeSeconds();

        if (!BoolField(body, "stream"))
        {
            if (settings.TimeToFirstToken > TimeSpan.Zero) await Task.Delay(settings.TimeToFirstToken, _time, cancellationToken);
            if (TokenDelay(settings) is var d && d > TimeSpan.Zero) await Task.Delay(d * completionTokens, _time, cancellationToken);
            var buffer = new ArrayBufferWriter<byte>(1024);
            using (var w = new Utf8JsonWriter(buffer)) WriteChatCompletion(w, id, created, model, choices, logprobs, topLogprobs, promptTokens, completionTokens);
            await WriteBodyWithFaultAsync(exchange, buffer, fault, cancellationToken);
            return;
        }

        var includeUsage = body.TryGetProperty("stream_options", out var so) && so.ValueKind == JsonValueKind.Object && BoolField(so, "include_usage");
        await StartStreamAsync(exchange, settings, cancellationToken);
        var tokenDelay = TokenDelay(settings);
        var json = new ArrayBufferWriter<byte>(512);
        var sent = 0;

        async ValueTask<bool> EmitAsync(Action<Utf8JsonWriter> write)
        {
            if (fault.Kind == MockFaultKind.Cut && sent >= fault.CutAfterChunks)
            {
                // A clean cut ends the response normally: a stream that stops early with no [DONE], no reset.
                if (!fault.Clean) await CutAsync(exchange, sent, cancellationToken);
                return false;
            }
            json.ResetWrittenCount();
            using (var w = new Utf8JsonWriter(json)) write(w);
            await WriteEventAsync(exchange, json, cancellationToken);
            sent++;
            return true;
        }

        for (var index = 0; index < choices.Count; index++)
        {
            var choice = choices[index];
            var first = true;
            if (choice.ToolCalls.Count == 0)
            {
                if (!await EmitAsync(w => WriteChunk(w, id, created, model, index, includeUsage, role: true, content: "", null, null))) return;
                foreach (var piece in choice.Pieces)
                {
                    if (!first && tokenDelay > TimeSpan.Zero) await Task.Delay(tokenDelay, _time, cancellationToken);
                    first = false;
                    if (!await EmitAsync(w => WriteChunk(w, id, created, model, index, includeUsage, role: false, content: piece, null, logprobs ? (piece, topLogprobs) : null))) return;
                }
            }
            else
            {
                for (var t = 0; t < choice.ToolCalls.Count; t++)
                {
                    var call = choice.ToolCalls[t];
                    var toolIndex = t;
                    if (!await EmitAsync(w => WriteToolChunk(w, id, created, model, index, includeUsage, role: toolIndex == 0, toolIndex, call.Id, call.Name, ""))) return;
                    foreach (var piece in call.ArgPieces)
                    {
                        if (tokenDelay > TimeSpan.Zero) await Task.Delay(tokenDelay, _time, cancellationToken);
                        if (!await EmitAsync(w => WriteToolChunk(w, id, created, model, index, includeUsage, role: false, toolIndex, null, null, piece))) return;
                    }
                }
            }
            if (!await EmitAsync(w => WriteChunk(w, id, created, model, index, includeUsage, role: false, content: null, choice.FinishReason, null))) return;
        }
        if (includeUsage && !await EmitAsync(w => WriteUsageChunk(w, id, created, model, "chat.completion.chunk", promptTokens, completionTokens))) return;
        if (fault.Kind == MockFaultKind.Cut)
        {
            if (!fault.Clean) await CutAsync(exchange, sent, cancellationToken);
            return;
        }
        await exchange.WriteAsync(Done, cancellationToken);
        await exchange.FlushAsync(cancellationToken);
    }

    /// <summary>Writes a complete JSON body, or with a cut fault half of it before dropping the connection.</summary>
    private async Task WriteBodyWithFaultAsync(IMockExchange exchange, ArrayBufferWriter<byte> buffer, MockFault fault, CancellationToken cancellationToken)
    {
        exchange.SetStatus(200);
        exchange.SetHeader("content-type", "application/json");
        if (fault.Kind == MockFaultKind.Cut)
        {
            await exchange.WriteAsync(buffer.WrittenMemory[..(buffer.WrittenCount / 2)], cancellationToken);
            await exchange.FlushAsync(cancellationToken);
            await CutAsync(exchange, sent: 1, cancellationToken);
            return;
        }
        exchange.SetHeader("content-length", buffer.WrittenCount.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await exchange.WriteAsync(buffer.WrittenMemory, cancellationToken);
        await exchange.FlushAsync(cancellationToken);
    }

    private static ulong Hash(ReadOnlySpan<byte> data) => MockText.Hash(data);

    /// <summary>
    /// Drops the connection mid-response. After chunks were sent it waits a moment first: a reset discards data the
    /// peer has not read yet, and a cut "mid-way" means the reader already has the first chunks.
    /// </summary>
    private async Task CutAsync(IMockExchange exchange, int sent, CancellationToken cancellationToken)
    {
        if (sent > 0) await Task.Delay(TimeSpan.FromMilliseconds(100), _time, cancellationToken);
        exchange.Abort();
    }

    private static int CountPromptTokens(JsonElement messages)
    {
        var tokens = 3;
        foreach (var message in messages.EnumerateArray())
        {
            tokens += 3;
            if (message.ValueKind != JsonValueKind.Object) continue;
            if (message.TryGetProperty("content", out var content))
            {
                if (content.ValueKind == JsonValueKind.String) tokens += MockText.CountTokens(content.GetString()!);
                else if (content.ValueKind == JsonValueKind.Array)
                {
                    foreach (var part in content.EnumerateArray())
                    {
                        if (part.ValueKind != JsonValueKind.Object) continue;
                        if (part.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String) tokens += MockText.CountTokens(text.GetString()!);
                        else if (part.TryGetProperty("image_url", out _)) tokens += 85; // OpenAI's low-detail image cost
                    }
                }
            }
            if (message.TryGetProperty("tool_calls", out var calls)) tokens += MockText.CountTokens(calls.GetRawText());
        }
        return tokens;
    }

    private static Choice MakeChoice(JsonElement body, JsonElement messages, ulong seed, int? maxTokens)
    {
        var lastRole = messages[messages.GetArrayLength() - 1] is { ValueKind: JsonValueKind.Object } last && last.TryGetProperty("role", out var r) ? r.GetString() : null;
        if (body.TryGetProperty("tools", out var tools) && tools.ValueKind == JsonValueKind.Array && tools.GetArrayLength() > 0 && lastRole != "tool")
        {
            var choice = body.TryGetProperty("tool_choice", out var tc) ? tc : default;
            if (!(choice.ValueKind == JsonValueKind.String && choice.GetString() == "none"))
            {
                var forced = choice.ValueKind == JsonValueKind.Object && choice.TryGetProperty("function", out var fn0) && fn0.TryGetProperty("name", out var fn0Name) ? fn0Name.GetString() : null;
                if (MockDirectives.TryToolCall(LastChatUserText(messages), out var directed, out var directedArgs) && (forced is null || forced == directed)
                    && tools.EnumerateArray().Any(t => ToolName(t) == directed))
                    return new Choice([], [($"call_mock{seed:x12}", directed, MockText.Chunk(directedArgs))], "tool_calls");
                var selected = new List<JsonElement>();
                if (choice.ValueKind == JsonValueKind.Object && choice.TryGetProperty("function", out var named) && named.TryGetProperty("name", out var namedName))
                    selected.AddRange(tools.EnumerateArray().Where(t => ToolName(t) == namedName.GetString()).Take(1));
                else if (choice.ValueKind == JsonValueKind.String && choice.GetString() == "required" && !(body.TryGetProperty("parallel_tool_calls", out var p) && p.ValueKind == JsonValueKind.False))
                    selected.AddRange(tools.EnumerateArray().Take(3));
                else
                    selected.Add(tools[0]);
                var calls = new List<(string, string, List<string>)>();
                for (var i = 0; i < selected.Count; i++)
                {
                    var fn = selected[i].TryGetProperty("function", out var f) ? f : selected[i];
                    var parameters = fn.TryGetProperty("parameters", out var ps) ? ps : (JsonElement?)null;
                    var args = MockText.SampleFromSchema(parameters);
                    calls.Add(($"call_mock{(seed + (ulong)i):x12}", ToolName(selected[i]) ?? "tool", MockText.Chunk(args)));
                }
                if (calls.Count > 0) return new Choice([], calls, "tool_calls");
            }
        }

        List<string> pieces;
        if (body.TryGetProperty("mock_response", out var mock) && mock.ValueKind == JsonValueKind.String)
            pieces = MockText.Tokenize(mock.GetString()!);
        else if (lastRole == "tool")
            pieces = MockText.Tokenize(MockDirectives.ToolResultAnswer(TrailingChatToolResults(messages)));
        else if (MockDirectives.TryResponse(LastChatUserText(messages), out var scripted))
            pieces = MockText.Tokenize(scripted);
        else if (body.TryGetProperty("response_format", out var rf) && rf.ValueKind == JsonValueKind.Object && rf.TryGetProperty("type", out var rft) && rft.GetString() is "json_object" or "json_schema")
        {
            var schema = rft.GetString() == "json_schema" && rf.TryGetProperty("json_schema", out var js) && js.TryGetProperty("schema", out var s) ? s : (JsonElement?)null;
            var text = schema is null ? "{\"answer\":\"" + string.Concat(MockText.Sentence(seed, 6)) + "\"}" : MockText.SampleFromSchema(schema);
            pieces = MockText.Chunk(text);
        }
        else
            pieces = MockText.Sentence(seed, 8 + (int)(seed % 17));

        if (maxTokens is { } max && max >= 0 && pieces.Count > max) return new Choice(pieces.GetRange(0, max), [], "length");
        return new Choice(pieces, [], "stop");
    }

    /// <summary>The text of the last user message (where a test writes its directives).</summary>
    private static string? LastChatUserText(JsonElement messages)
    {
        for (var i = messages.GetArrayLength() - 1; i >= 0; i--)
            if (messages[i] is { ValueKind: JsonValueKind.Object } m && m.TryGetProperty("role", out var role) && role.ValueKind == JsonValueKind.String && role.GetString() == "user")
                return m.TryGetProperty("content", out var content) ? MockDirectives.TextOf(content) : null;
        return null;
    }

    /// <summary>The results of the tool messages that end the conversation, in order.</summary>
    private static List<string> TrailingChatToolResults(JsonElement messages)
    {
        var results = new List<string>();
        for (var i = messages.GetArrayLength() - 1; i >= 0; i--)
        {
            if (!(messages[i] is { ValueKind: JsonValueKind.Object } m && m.TryGetProperty("role", out var role) && role.ValueKind == JsonValueKind.String && role.GetString() == "tool")) break;
            results.Insert(0, m.TryGetProperty("content", out var content) ? MockDirectives.TextOf(content) : "");
        }
        return results;
    }

    private static string? ToolName(JsonElement tool) =>
        tool.TryGetProperty("function", out var f) && f.TryGetProperty("name", out var n) ? n.GetString()
        : tool.TryGetProperty("name", out var direct) ? direct.GetString() : null;

    private static void WriteChatCompletion(Utf8JsonWriter w, string id, long created, string model, List<Choice> choices, bool logprobs, int top, int promptTokens, int completionTokens)
    {
        w.WriteStartObject();
        w.WriteString("id", id);
        w.WriteString("object", "chat.completion");
        w.WriteNumber("created", created);
        w.WriteString("model", model);
        w.WriteStartArray("choices");
        for (var i = 0; i < choices.Count; i++)
        {
            var c = choices[i];
            w.WriteStartObject();
            w.WriteNumber("index", i);
            w.WriteStartObject("message");
            w.WriteString("role", "assistant");
            if (c.ToolCalls.Count > 0)
            {
                w.WriteNull("content");
                WriteToolCalls(w, c.ToolCalls);
            }
            else w.WriteString("content", string.Concat(c.Pieces));
            w.WriteNull("refusal");
            w.WriteStartArray("annotations");
            w.WriteEndArray();
            w.WriteEndObject();
            if (logprobs && c.ToolCalls.Count == 0)
            {
                w.WriteStartObject("logprobs");
                w.WriteStartArray("content");
                foreach (var piece in c.Pieces) WriteTokenLogprob(w, piece, top);
                w.WriteEndArray();
                w.WriteNull("refusal");
                w.WriteEndObject();
            }
            else w.WriteNull("logprobs");
            w.WriteString("finish_reason", c.FinishReason);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        WriteUsage(w, promptTokens, completionTokens);
        w.WriteString("service_tier", "default");
        w.WriteString("system_fingerprint", "fp_mock");
        w.WriteEndObject();
    }

    /// <summary><c>"tool_calls":[{id, type:"function", function:{name, arguments}}]</c>, as OpenAI's and Cohere's messages carry them.</summary>
    private static void WriteToolCalls(Utf8JsonWriter w, List<(string Id, string Name, List<string> ArgPieces)> calls)
    {
        w.WriteStartArray("tool_calls");
        foreach (var (callId, name, args) in calls)
        {
            w.WriteStartObject();
            w.WriteString("id", callId);
            w.WriteString("type", "function");
            w.WriteStartObject("function");
            w.WriteString("name", name);
            w.WriteString("arguments", string.Concat(args));
            w.WriteEndObject();
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private static void WriteTokenLogprob(Utf8JsonWriter w, string token, int top)
    {
        w.WriteStartObject();
        w.WriteString("token", token);
        w.WriteNumber("logprob", -0.0123);
        WriteBytes(w, token);
        w.WriteStartArray("top_logprobs");
        for (var k = 0; k < top; k++)
        {
            w.WriteStartObject();
            var alt = k == 0 ? token : token + k;
            w.WriteString("token", alt);
            w.WriteNumber("logprob", k == 0 ? -0.0123 : -1.5 * k);
            WriteBytes(w, alt);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();

        static void WriteBytes(Utf8JsonWriter w, string s)
        {
            w.WriteStartArray("bytes");
            foreach (var b in Encoding.UTF8.GetBytes(s)) w.WriteNumberValue(b);
            w.WriteEndArray();
        }
    }

    private static void WriteUsage(Utf8JsonWriter w, int promptTokens, int completionTokens)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", promptTokens);
        w.WriteNumber("completion_tokens", completionTokens);
        w.WriteNumber("total_tokens", promptTokens + completionTokens);
        w.WriteStartObject("prompt_tokens_details");
        w.WriteNumber("cached_tokens", 0);
        w.WriteNumber("audio_tokens", 0);
        w.WriteEndObject();
        w.WriteStartObject("completion_tokens_details");
        w.WriteNumber("reasoning_tokens", 0);
        w.WriteNumber("audio_tokens", 0);
        w.WriteNumber("accepted_prediction_tokens", 0);
        w.WriteNumber("rejected_prediction_tokens", 0);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteChunkHeader(Utf8JsonWriter w, string id, long created, string model, string obj)
    {
        w.WriteStartObject();
        w.WriteString("id", id);
        w.WriteString("object", obj);
        w.WriteNumber("created", created);
        w.WriteString("model", model);
        w.WriteString("service_tier", "default");
        w.WriteString("system_fingerprint", "fp_mock");
    }

    private static void WriteChunk(Utf8JsonWriter w, string id, long created, string model, int index, bool includeUsage, bool role, string? content, string? finish, (string Token, int Top)? logprob)
    {
        WriteChunkHeader(w, id, created, model, "chat.completion.chunk");
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", index);
        w.WriteStartObject("delta");
        if (role) w.WriteString("role", "assistant");
        if (content is not null) w.WriteString("content", content);
        if (role) w.WriteNull("refusal");
        w.WriteEndObject();
        if (logprob is { } lp)
        {
            w.WriteStartObject("logprobs");
            w.WriteStartArray("content");
            WriteTokenLogprob(w, lp.Token, lp.Top);
            w.WriteEndArray();
            w.WriteNull("refusal");
            w.WriteEndObject();
        }
        else w.WriteNull("logprobs");
        if (finish is null) w.WriteNull("finish_reason"); else w.WriteString("finish_reason", finish);
        w.WriteEndObject();
        w.WriteEndArray();
        if (includeUsage) w.WriteNull("usage");
        w.WriteEndObject();
    }

    private static void WriteToolChunk(Utf8JsonWriter w, string id, long created, string model, int index, bool includeUsage, bool role, int toolIndex, string? callId, string? name, string arguments)
    {
        WriteChunkHeader(w, id, created, model, "chat.completion.chunk");
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", index);
        w.WriteStartObject("delta");
        if (role) { w.WriteString("role", "assistant"); w.WriteNull("content"); }
        Providers.Translation.OpenAiChunks.WriteToolCallDelta(w, toolIndex, callId, name, arguments);
        w.WriteEndObject();
        w.WriteNull("logprobs");
        w.WriteNull("finish_reason");
        w.WriteEndObject();
        w.WriteEndArray();
        if (includeUsage) w.WriteNull("usage");
        w.WriteEndObject();
    }

    private static void WriteUsageChunk(Utf8JsonWriter w, string id, long created, string model, string obj, int promptTokens, int completionTokens)
    {
        WriteChunkHeader(w, id, created, model, obj);
        w.WriteStartArray("choices");
        w.WriteEndArray();
        WriteUsage(w, promptTokens, completionTokens);
        w.WriteEndObject();
    }
}
