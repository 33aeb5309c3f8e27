using System.Buffers;
using System.Text;
using System.Text.Json;
using AgenticGateway.Configuration;

namespace AgenticGateway.Emulator;

/// <summary>
/// OpenAI's Responses API (<c>POST /v1/responses</c>, and Azure's <c>/openai/v1/responses</c> and
/// <c>/openai/responses?api-version=...</c>): the response object and its SSE events (<c>event:</c> + <c>data:</c>,
/// <c>sequence_number</c> from 0, no <c>[DONE]</c>) as openai-node's <c>resources/responses/responses.ts</c> types them.
/// The emulator keeps no state, so <c>previous_response_id</c> is answered as OpenAI answers an unknown one: a gateway
/// that forwards it instead of expanding the history fails loudly.
/// </summary>
internal sealed partial class MockEngine
{
    private enum ResponsesItemKind { Reasoning, Message, FunctionCall }

    /// <summary>One output item: reasoning (pieces = summary text), a message (pieces = text) or a function call (pieces = arguments).</summary>
    private sealed record ResponsesItem(ResponsesItemKind Kind, string Id, List<string> Pieces, string? CallId = null, string? Name = null, bool Summary = false, string? Encrypted = null);

    private sealed record ResponsesAnswer(string Id, long CreatedAt, List<ResponsesItem> Output, int InputTokens, int ReasoningTokens, int OutputTokens, string? IncompleteReason)
    {
        public string Status => IncompleteReason is null ? "completed" : "incomplete";
    }

    /// <summary>Models that reason before answering (o-series, gpt-5 family), which add a reasoning item when asked to reason.</summary>
    private static bool ReasoningModel(string model)
    {
        var name = model[(model.LastIndexOf('/') + 1)..];
        return name.StartsWith("gpt-5", StringComparison.Ordinal) || name.Length > 1 && name[0] == 'o' && char.IsAsciiDigit(name[1]) || name.Contains("reason", StringComparison.OrdinalIgnoreCase);
    }

    private async Task ResponsesAsync(IMockExchange exchange, JsonElement body, string model, MockSettings settings, MockFault fault, CancellationToken cancellationToken)
    {
        if (ResponsesValidate(body) is { } invalid)
        {
            await WriteErrorAsync(exchange, 400, invalid.Message, "invalid_request_error", invalid.Code, invalid.Param, cancellationToken);
            return;
        }
        var answer = ResponsesReply(body, model);
        if (!BoolField(body, "stream"))
        {
            if (settings.TimeToFirstToken > TimeSpan.Zero) await Task.Delay(settings.TimeToFirstToken, _time, cancellationToken);
            if (TokenDelay(settings) is var d && d > TimeSpan.Zero) await Task.Delay(d * answer.OutputTokens, _time, cancellationToken);
            var buffer = new ArrayBufferWriter<byte>(2048);
            using (var w = new Utf8JsonWriter(buffer)) WriteResponseObject(w, body, model, answer, final: true);
            await WriteBodyWithFaultAsync(exchange, buffer, fault, cancellationToken);
            return;
        }
        await ResponsesStreamAsync(exchange, body, model, answer, settings, fault, cancellationToken);
    }

    /// <summary>What OpenAI rejects before generating, with its messages, params and codes.</summary>
    private static (string Message, string? Param, string? Code)? ResponsesValidate(JsonElement body)
    {
        if (body.TryGetProperty("previous_response_id", out var prev) && prev.ValueKind == JsonValueKind.String)
            return ($"Previous response with id '{prev.GetString()}' not found.", "previous_response_id", "previous_response_not_found");
        if (!body.TryGetProperty("input", out var input) || input.ValueKind == JsonValueKind.Null)
            return ("Missing required parameter: 'input'.", "input", "missing_required_parameter");
        if (input.ValueKind is not (JsonValueKind.String or JsonValueKind.Array))
            return ($"Invalid type for 'input': expected one of a string or an array of input items, but got {KindName(input)} instead.", "input", "invalid_type");
        if (IntField(body, "max_output_tokens") is { } max && max < 16)
            return ($"Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got {max} instead.", "max_output_tokens", "integer_below_min_value");
        if (input.ValueKind == JsonValueKind.Array)
        {
            var calls = new HashSet<string>(StringComparer.Ordinal);
            var i = 0;
            foreach (var item in input.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Object)
                    return ($"Invalid type for 'input[{i}]': expected an input item, but got {KindName(item)} instead.", $"input[{i}]", "invalid_type");
                switch (StringField(item, "type"))
                {
                    case "function_call":
                        if (StringField(item, "call_id") is not { } callId) return ($"Missing required parameter: 'input[{i}].call_id'.", $"input[{i}].call_id", "missing_required_parameter");
                        calls.Add(callId);
                        break;
                    case "function_call_output":
                        if (StringField(item, "call_id") is not { } outputId) return ($"Missing required parameter: 'input[{i}].call_id'.", $"input[{i}].call_id", "missing_required_parameter");
                        if (!calls.Contains(outputId)) return ($"No tool call found for function call output with call_id {outputId}.", "input", null);
                        break;
                    case null or "message":
                        if (StringField(item, "role") is not ("user" or "assistant" or "system" or "developer"))
                            return ($"Invalid value for 'input[{i}].role': expected one of 'user', 'assistant', 'system' or 'developer'.", $"input[{i}].role", "invalid_value");
                        if (!item.TryGetProperty("content", out var content) || content.ValueKind is not (JsonValueKind.String or JsonValueKind.Array))
                            return ($"Missing required parameter: 'input[{i}].content'.", $"input[{i}].content", "missing_required_parameter");
                        break;
                }
                i++;
            }
        }
        if (body.TryGetProperty("tools", out var tools) && tools.ValueKind == JsonValueKind.Array)
        {
            var t = 0;
            foreach (var tool in tools.EnumerateArray())
            {
                if (StringField(tool, "type") is null) return ($"Missing required parameter: 'tools[{t}].type'.", $"tools[{t}].type", "missing_required_parameter");
                if (StringField(tool, "type") == "function" && StringField(tool, "name") is null)
                    return ($"Missing required parameter: 'tools[{t}].name'.", $"tools[{t}].name", "missing_required_parameter");
                t++;
            }
        }
        return null;

        static string KindName(JsonElement e) => e.ValueKind switch
        {
            JsonValueKind.Object => "an object",
            JsonValueKind.Number => "a number",
            JsonValueKind.True or JsonValueKind.False => "a boolean",
            JsonValueKind.Null => "null",
            JsonValueKind.Array => "an array",
            _ => "a string",
        };
    }

    private static string? StringField(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private ResponsesAnswer ResponsesReply(JsonElement body, string model)
    {
        var input = body.GetProperty("input");
        var seed = Hash(Encoding.UTF8.GetBytes(input.GetRawText()));
        var inputTokens = ResponsesInputTokens(body);
        var max = IntField(body, "max_output_tokens") ?? int.MaxValue;
        var output = new List<ResponsesItem>();

        var reasoningTokens = 0;
        var reasoning = body.TryGetProperty("reasoning", out var r) && r.ValueKind == JsonValueKind.Object ? r : default;
        // Reasoning is shown when asked for (a reasoning object) on a model that reasons, so plain tests keep one output item.
        if (ReasoningModel(model) && reasoning.ValueKind == JsonValueKind.Object && StringField(reasoning, "effort") != "none")
        {
            var thought = MockText.Sentence(seed ^ 0x5eed, 6);
            reasoningTokens = Math.Min(thought.Count, max);
            var encrypted = body.TryGetProperty("include", out var include) && include.ValueKind == JsonValueKind.Array
                && include.EnumerateArray().Any(x => x.ValueKind == JsonValueKind.String && x.GetString() == "reasoning.encrypted_content")
                ? Convert.ToBase64String(Encoding.UTF8.GetBytes("mock-reasoning:" + string.Concat(thought)))
                : null;
            var summary = reasoning.ValueKind == JsonValueKind.Object && StringField(reasoning, "summary") is not null;
            output.Add(new ResponsesItem(ResponsesItemKind.Reasoning, NewId("rs_"), thought, Summary: summary, Encrypted: encrypted));
            if (reasoningTokens >= max)
                return new ResponsesAnswer(NewId("resp_"), _time.GetUtcNow().ToUnixTimeSeconds(), output, inputTokens, reasoningTokens, reasoningTokens, "max_output_tokens");
        }
        var remaining = max == int.MaxValue ? max : max - reasoningTokens;

        var items = input.ValueKind == JsonValueKind.Array ? input.EnumerateArray().ToList() : [];
        var toolResults = new List<string>();
        for (var i = items.Count - 1; i >= 0 && StringField(items[i], "type") == "function_call_output"; i--)
            toolResults.Insert(0, items[i].TryGetProperty("output", out var o) ? MockDirectives.TextOf(o) : "");

        if (toolResults.Count == 0 && ResponsesToolCalls(body, items, seed) is { Count: > 0 } calls)
        {
            output.AddRange(calls);
            return new ResponsesAnswer(NewId("resp_"), _time.GetUtcNow().ToUnixTimeSeconds(), output, inputTokens, reasoningTokens,
                reasoningTokens + calls.Sum(c => c.Pieces.Count), null);
        }

        List<string> pieces;
        var format = body.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.Object && text.TryGetProperty("format", out var f) && f.ValueKind == JsonValueKind.Object ? f : default;
        if (body.TryGetProperty("mock_response", out var mock) && mock.ValueKind == JsonValueKind.String)
            pieces = MockText.Tokenize(mock.GetString()!);
        else if (toolResults.Count > 0)
            pieces = MockText.Tokenize(MockDirectives.ToolResultAnswer(toolResults));
        else if (StringField(format, "type") == "json_schema")
            pieces = MockText.Chunk(MockText.SampleFromSchema(format.TryGetProperty("schema", out var schema) ? schema : null));
        else if (StringField(format, "type") == "json_object")
            pieces = MockText.Chunk("{\"answer\":\"" + string.Concat(MockText.Sentence(seed, 6)) + "\"}");
        else
            pieces = MockText.Sentence(seed, 8 + (int)(seed % 17));

        string? incomplete = null;
        if (pieces.Count > remaining) { pieces = pieces.GetRange(0, remaining); incomplete = "max_output_tokens"; }
        output.Add(new ResponsesItem(ResponsesItemKind.Message, NewId("msg_"), pieces));
        return new ResponsesAnswer(NewId("resp_"), _time.GetUtcNow().ToUnixTimeSeconds(), output, inputTokens, reasoningTokens, reasoningTokens + pieces.Count, incomplete);
    }

    /// <summary>
    /// The function calls the model makes, as the chat format's emulator chooses them: the directive's call when its
    /// tool is offered, else the named tool_choice, else up to three tools for "required" (one without parallel calls),
    /// else the first function tool. Hosted tools (code_interpreter, web_search, mcp...) are never called here.
    /// </summary>
    private static List<ResponsesItem>? ResponsesToolCalls(JsonElement body, List<JsonElement> items, ulong seed)
    {
        if (!body.TryGetProperty("tools", out var tools) || tools.ValueKind != JsonValueKind.Array) return null;
        var functions = tools.EnumerateArray().Where(t => StringField(t, "type") == "function").ToList();
        if (functions.Count == 0) return null;
        var choice = body.TryGetProperty("tool_choice", out var tc) ? tc : default;
        if (choice.ValueKind == JsonValueKind.String && choice.GetString() == "none") return null;
        var forced = choice.ValueKind == JsonValueKind.Object && StringField(choice, "type") == "function" ? StringField(choice, "name") : null;
        if (choice.ValueKind == JsonValueKind.Object && forced is null) return null; // a hosted tool is forced: not ours to call

        var userText = items.Count == 0 ? body.GetProperty("input").GetString() : LastUserText(items);
        if (MockDirectives.TryToolCall(userText, out var name, out var arguments) && (forced is null || forced == name) && functions.Any(t => StringField(t, "name") == name))
            return [new ResponsesItem(ResponsesItemKind.FunctionCall, NewId("fc_"), MockText.Chunk(arguments), $"call_mock{seed:x12}", name)];

        IEnumerable<JsonElement> selected = forced is not null ? functions.Where(t => StringField(t, "name") == forced).Take(1)
            : choice.ValueKind == JsonValueKind.String && choice.GetString() == "required" && !(body.TryGetProperty("parallel_tool_calls", out var p) && p.ValueKind == JsonValueKind.False)
                ? functions.Take(3)
                : functions.Take(1);
        return selected.Select((tool, i) => new ResponsesItem(ResponsesItemKind.FunctionCall, NewId("fc_"),
            MockText.Chunk(MockText.SampleFromSchema(tool.TryGetProperty("parameters", out var ps) ? ps : null)),
            $"call_mock{seed + (ulong)i:x12}", StringField(tool, "name"))).ToList();

        static string? LastUserText(List<JsonElement> items)
        {
            for (var i = items.Count - 1; i >= 0; i--)
                if (StringField(items[i], "role") == "user" && items[i].TryGetProperty("content", out var content)) return MockDirectives.TextOf(content);
            return null;
        }
    }

    /// <summary>Input tokens: the words of the instructions, every input item's text, arguments and outputs, and the tools.</summary>
    private static int ResponsesInputTokens(JsonElement body)
    {
        var tokens = 3;
        if (StringField(body, "instructions") is { } instructions) tokens += MockText.CountTokens(instructions);
        var input = body.GetProperty("input");
        if (input.ValueKind == JsonValueKind.String) tokens += 3 + MockText.CountTokens(input.GetString()!);
        else
        {
            foreach (var item in input.EnumerateArray())
            {
                tokens += 3;
                if (item.TryGetProperty("content", out var content))
                {
                    tokens += MockText.CountTokens(MockDirectives.TextOf(content));
                    if (content.ValueKind == JsonValueKind.Array)
                        tokens += 85 * content.EnumerateArray().Count(c => StringField(c, "type") == "input_image"); // OpenAI's low-detail image cost
                }
                if (StringField(item, "arguments") is { } args) tokens += MockText.CountTokens(args);
                if (item.TryGetProperty("output", out var output)) tokens += MockText.CountTokens(MockDirectives.TextOf(output));
            }
        }
        if (body.TryGetProperty("tools", out var tools)) tokens += MockText.CountTokens(tools.GetRawText());
        return tokens;
    }

    private async Task ResponsesStreamAsync(IMockExchange exchange, JsonElement body, string model, ResponsesAnswer a, MockSettings settings, MockFault fault, CancellationToken cancellationToken)
    {
        await StartStreamAsync(exchange, settings, cancellationToken);
        var tokenDelay = TokenDelay(settings);
        var json = new ArrayBufferWriter<byte>(1024);
        var sequence = 0;

        async ValueTask<bool> EmitAsync(string type, Action<Utf8JsonWriter> write, bool token = false)
        {
            if (fault.Kind == MockFaultKind.Cut && sequence >= fault.CutAfterChunks) { await CutAsync(exchange, sequence, cancellationToken); return false; }
            if (token && tokenDelay > TimeSpan.Zero) await Task.Delay(tokenDelay, _time, cancellationToken);
            var number = sequence;
            await WriteNamedEventAsync(exchange, json, type, w =>
            {
                w.WriteStartObject();
                w.WriteString("type", type);
                w.WriteNumber("sequence_number", number);
                write(w);
                w.WriteEndObject();
            }, cancellationToken);
            sequence++;
            return true;
        }

        if (!await EmitAsync("response.created", w => { w.WritePropertyName("response"); WriteResponseObject(w, body, model, a, final: false); })) return;
        if (!await EmitAsync("response.in_progress", w => { w.WritePropertyName("response"); WriteResponseObject(w, body, model, a, final: false); })) return;
        for (var index = 0; index < a.Output.Count; index++)
        {
            var item = a.Output[index];
            var outputIndex = index;
            var itemStatus = a.IncompleteReason is not null && index == a.Output.Count - 1 ? "incomplete" : "completed";
            if (!await EmitAsync("response.output_item.added", w => { w.WriteNumber("output_index", outputIndex); w.WritePropertyName("item"); WriteResponsesItem(w, item, "in_progress", added: true); })) return;
            switch (item.Kind)
            {
                case ResponsesItemKind.Reasoning when item.Summary:
                {
                    void Head(Utf8JsonWriter w) { w.WriteString("item_id", item.Id); w.WriteNumber("output_index", outputIndex); w.WriteNumber("summary_index", 0); }
                    void Part(Utf8JsonWriter w, string text) { w.WriteStartObject("part"); w.WriteString("type", "summary_text"); w.WriteString("text", text); w.WriteEndObject(); }
                    var full = string.Concat(item.Pieces);
                    if (!await EmitAsync("response.reasoning_summary_part.added", w => { Head(w); Part(w, ""); })) return;
                    foreach (var piece in item.Pieces)
                        if (!await EmitAsync("response.reasoning_summary_text.delta", w => { Head(w); w.WriteString("delta", piece); }, token: true)) return;
                    if (!await EmitAsync("response.reasoning_summary_text.done", w => { Head(w); w.WriteString("text", full); })) return;
                    if (!await EmitAsync("response.reasoning_summary_part.done", w => { Head(w); Part(w, full); })) return;
                    break;
                }
                case ResponsesItemKind.Message:
                {
                    void Head(Utf8JsonWriter w) { w.WriteString("item_id", item.Id); w.WriteNumber("output_index", outputIndex); w.WriteNumber("content_index", 0); }
                    var full = string.Concat(item.Pieces);
                    if (!await EmitAsync("response.content_part.added", w => { Head(w); w.WritePropertyName("part"); WriteOutputText(w, ""); })) return;
                    foreach (var piece in item.Pieces)
                        if (!await EmitAsync("response.output_text.delta", w => { Head(w); w.WriteString("delta", piece); w.WriteStartArray("logprobs"); w.WriteEndArray(); }, token: true)) return;
                    if (!await EmitAsync("response.output_text.done", w => { Head(w); w.WriteString("text", full); w.WriteStartArray("logprobs"); w.WriteEndArray(); })) return;
                    if (!await EmitAsync("response.content_part.done", w => { Head(w); w.WritePropertyName("part"); WriteOutputText(w, full); })) return;
                    break;
                }
                case ResponsesItemKind.FunctionCall:
                {
                    foreach (var piece in item.Pieces)
                        if (!await EmitAsync("response.function_call_arguments.delta", w => { w.WriteString("item_id", item.Id); w.WriteNumber("output_index", outputIndex); w.WriteString("delta", piece); }, token: true)) return;
                    if (!await EmitAsync("response.function_call_arguments.done", w =>
                        {
                            w.WriteString("item_id", item.Id);
                            w.WriteString("name", item.Name);
                            w.WriteNumber("output_index", outputIndex);
                            w.WriteString("arguments", string.Concat(item.Pieces));
                        })) return;
                    break;
                }
            }
            if (!await EmitAsync("response.output_item.done", w => { w.WriteNumber("output_index", outputIndex); w.WritePropertyName("item"); WriteResponsesItem(w, item, itemStatus, added: false); })) return;
        }
        if (!await EmitAsync(a.IncompleteReason is null ? "response.completed" : "response.incomplete", w => { w.WritePropertyName("response"); WriteResponseObject(w, body, model, a, final: true); })) return;
        if (fault.Kind == MockFaultKind.Cut) await CutAsync(exchange, sequence, cancellationToken);
    }

    private static void WriteOutputText(Utf8JsonWriter w, string text)
    {
        w.WriteStartObject();
        w.WriteString("type", "output_text");
        w.WriteStartArray("annotations");
        w.WriteEndArray();
        w.WriteStartArray("logprobs");
        w.WriteEndArray();
        w.WriteString("text", text);
        w.WriteEndObject();
    }

    /// <summary>An output item; <paramref name="added"/> writes it as <c>response.output_item.added</c> carries it (nothing generated yet).</summary>
    private static void WriteResponsesItem(Utf8JsonWriter w, ResponsesItem item, string status, bool added)
    {
        w.WriteStartObject();
        w.WriteString("id", item.Id);
        switch (item.Kind)
        {
            case ResponsesItemKind.Reasoning:
                w.WriteString("type", "reasoning");
                w.WriteStartArray("summary");
                if (!added && item.Summary)
                {
                    w.WriteStartObject();
                    w.WriteString("type", "summary_text");
                    w.WriteString("text", string.Concat(item.Pieces));
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                if (!added && item.Encrypted is not null) w.WriteString("encrypted_content", item.Encrypted);
                break;
            case ResponsesItemKind.Message:
                w.WriteString("type", "message");
                w.WriteString("status", status);
                w.WriteStartArray("content");
                if (!added) WriteOutputText(w, string.Concat(item.Pieces));
                w.WriteEndArray();
                w.WriteString("role", "assistant");
                break;
            case ResponsesItemKind.FunctionCall:
                w.WriteString("type", "function_call");
                w.WriteString("status", status);
                w.WriteString("arguments", added ? "" : string.Concat(item.Pieces));
                w.WriteString("call_id", item.CallId);
                w.WriteString("name", item.Name);
                break;
        }
        w.WriteEndObject();
    }

    /// <summary>
    /// The response object, its fields in the order OpenAI writes them, echoing the request's settings (or OpenAI's
    /// defaults). Not <paramref name="final"/>: as <c>response.created</c>/<c>in_progress</c> carry it (no output, no usage).
    /// </summary>
    private static void WriteResponseObject(Utf8JsonWriter w, JsonElement body, string model, ResponsesAnswer a, bool final)
    {
        w.WriteStartObject();
        w.WriteString("id", a.Id);
        w.WriteString("object", "response");
        w.WriteNumber("created_at", a.CreatedAt);
        w.WriteString("status", final ? a.Status : "in_progress");
        w.WriteBoolean("background", false);
        if (final && a.IncompleteReason is null) w.WriteNumber("completed_at", a.CreatedAt); else w.WriteNull("completed_at");
        w.WriteNull("error");
        if (final && a.IncompleteReason is { } reason)
        {
            w.WriteStartObject("incomplete_details");
            w.WriteString("reason", reason);
            w.WriteEndObject();
        }
        else w.WriteNull("incomplete_details");
        Echo(w, body, "instructions");
        Echo(w, body, "max_output_tokens");
        Echo(w, body, "max_tool_calls");
        w.WriteString("model", model);
        w.WriteStartArray("output");
        if (final)
            for (var i = 0; i < a.Output.Count; i++)
                WriteResponsesItem(w, a.Output[i], a.IncompleteReason is not null && i == a.Output.Count - 1 ? "incomplete" : "completed", added: false);
        w.WriteEndArray();
        if (body.TryGetProperty("parallel_tool_calls", out var ptc) && ptc.ValueKind is JsonValueKind.False) w.WriteBoolean("parallel_tool_calls", false);
        else w.WriteBoolean("parallel_tool_calls", true);
        w.WriteNull("previous_response_id");
        Echo(w, body, "prompt_cache_key");
        w.WriteStartObject("reasoning");
        var reasoning = body.TryGetProperty("reasoning", out var r) && r.ValueKind == JsonValueKind.Object ? r : default;
        if (StringField(reasoning, "effort") is { } effort) w.WriteString("effort", effort);
        else if (ReasoningModel(model)) w.WriteString("effort", "medium");
        else w.WriteNull("effort");
        if (StringField(reasoning, "summary") is { } summary) w.WriteString("summary", summary); else w.WriteNull("summary");
        w.WriteEndObject();
        Echo(w, body, "safety_identifier");
        w.WriteString("service_tier", "default");
        w.WriteBoolean("store", !(body.TryGetProperty("store", out var store) && store.ValueKind == JsonValueKind.False));
        EchoOr(w, body, "temperature", 1.0);
        w.WriteStartObject("text");
        var text = body.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.Object ? t : default;
        w.WritePropertyName("format");
        if (text.ValueKind == JsonValueKind.Object && text.TryGetProperty("format", out var format) && format.ValueKind == JsonValueKind.Object) format.WriteTo(w);
        else { w.WriteStartObject(); w.WriteString("type", "text"); w.WriteEndObject(); }
        w.WriteString("verbosity", StringField(text, "verbosity") ?? "medium");
        w.WriteEndObject();
        if (body.TryGetProperty("tool_choice", out var choice) && choice.ValueKind is JsonValueKind.String or JsonValueKind.Object) { w.WritePropertyName("tool_choice"); choice.WriteTo(w); }
        else w.WriteString("tool_choice", "auto");
        w.WriteStartArray("tools");
        if (body.TryGetProperty("tools", out var tools) && tools.ValueKind == JsonValueKind.Array) foreach (var tool in tools.EnumerateArray()) tool.WriteTo(w);
        w.WriteEndArray();
        EchoOr(w, body, "top_logprobs", 0);
        EchoOr(w, body, "top_p", 1.0);
        if (StringField(body, "truncation") is { } truncation) w.WriteString("truncation", truncation); else w.WriteString("truncation", "disabled");
        if (final)
        {
            w.WriteStartObject("usage");
            w.WriteNumber("input_tokens", a.InputTokens);
            w.WriteStartObject("input_tokens_details");
            w.WriteNumber("cache_write_tokens", 0);
            w.WriteNumber("cached_tokens", 0);
            w.WriteEndObject();
            w.WriteNumber("output_tokens", a.OutputTokens);
            w.WriteStartObject("output_tokens_details");
            w.WriteNumber("reasoning_tokens", a.ReasoningTokens);
            w.WriteEndObject();
            w.WriteNumber("total_tokens", a.InputTokens + a.OutputTokens);
            w.WriteEndObject();
        }
        else w.WriteNull("usage");
        Echo(w, body, "user");
        w.WritePropertyName("metadata");
        if (body.TryGetProperty("metadata", out var metadata) && metadata.ValueKind == JsonValueKind.Object) metadata.WriteTo(w);
        else { w.WriteStartObject(); w.WriteEndObject(); }
        w.WriteEndObject();

        static void Echo(Utf8JsonWriter w, JsonElement body, string name)
        {
            w.WritePropertyName(name);
            if (body.TryGetProperty(name, out var v)) v.WriteTo(w); else w.WriteNullValue();
        }

        static void EchoOr(Utf8JsonWriter w, JsonElement body, string name, double fallback)
        {
            if (body.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number) { w.WritePropertyName(name); v.WriteTo(w); }
            else w.WriteNumber(name, fallback);
        }
    }
}
