using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.OpenAi;
using AgenticGateway.Providers.Translation;

namespace AgenticGateway.Responses;

/// <summary>
/// Turns an OpenAI chat completions stream (<c>data: {chunk}</c> ... <c>data: [DONE]</c>) into a Responses stream,
/// incrementally, in the order OpenAI sends its own: <c>response.created</c>, <c>response.in_progress</c>, per output
/// item <c>response.output_item.added</c>, its parts and deltas, <c>response.output_item.done</c>, and at the end
/// <c>response.completed</c> (or <c>response.incomplete</c>), every event numbered from 0.
/// </summary>
/// <remarks>
/// <para>Items open in the order their first delta arrives, one at a time (the open one is done before the next is
/// added), with increasing <c>output_index</c>. Reasoning (<c>reasoning_content</c> or <c>reasoning</c>) is a
/// <c>reasoning</c> item with one summary part (<c>reasoning_summary_part.added</c>,
/// <c>reasoning_summary_text.delta</c>/<c>.done</c>, <c>reasoning_summary_part.done</c>); text is a <c>message</c>
/// item's <c>output_text</c> part (<c>content_part.added</c>, <c>output_text.delta</c> with the chunk's logprobs,
/// <c>output_text.done</c>, <c>content_part.done</c>) and a refusal its <c>refusal</c> part; each chat tool call a
/// <c>function_call</c> item whose argument fragments go out as <c>function_call_arguments.delta</c>s. A fragment for
/// a call already done cannot be sent any more and is an <see cref="InvalidDataException"/>, like any input that is not
/// a chat stream (not JSON, or ended before a finish reason or <c>[DONE]</c>); an error object in the stream is a
/// <see cref="ProviderStreamException"/>. Before the first event is out either lets the gateway try another deployment.</para>
/// <para>The terminal event waits after the finish reason for the usage chunk (asked for with
/// <c>include_usage</c>) or <c>[DONE]</c>; without usage from upstream, the response's usage is estimated (input from
/// the caller's estimate, output from the text). <see cref="FinalResponse"/> is the terminal event's response object,
/// for the service to store.</para>
/// </remarks>
internal sealed class ChatToResponsesStream : IStreamTranslator
{
    private enum ItemKind { None, Reasoning, Message, Function }

    private enum PartKind { None, Text, Refusal }

    private readonly ResponsesCreate _request;
    private readonly string _id;
    private readonly long _createdAt;
    private readonly long _estimatedInputTokens;
    private readonly TimeProvider _time;
    private readonly ResponsesItemIds _ids;
    private readonly ResponsesEvents _events;
    /// <summary>The chat stream's framing, as every stream translator reads it.</summary>
    private readonly SseEventBuffer _sse = new();
    private readonly JsonArray _output = [];
    private readonly StringBuilder _text = new();
    private readonly HashSet<int> _doneCalls = [];
    private readonly Dictionary<int, string> _callIds = [];
    private readonly Dictionary<int, int> _aliases = [];
    private bool _started;
    private bool _ended;

    // The open item.
    private ItemKind _open;
    private string _itemId = "";
    private int _outputIndex;
    private JsonArray _parts = [];
    private PartKind _part;
    private JsonArray _logprobs = [];
    private JsonArray? _thinking;
    private readonly StringBuilder _thinkingText = new();
    private int _callKey = -1;
    private string _callId = "";
    private string _callName = "";

    private string? _finishReason;
    private bool _finished;
    private Usage? _usage;
    private long _cacheWrites;
    private string? _serviceTier;
    private long _outputChars;

    /// <param name="request">The client's request (echoed in the response object).</param>
    /// <param name="id">The response id (<c>resp_...</c>); item ids derive from it.</param>
    /// <param name="createdAt">Unix seconds.</param>
    /// <param name="estimatedInputTokens">Input tokens to report when the upstream reports no usage.</param>
    /// <param name="time">The clock for <c>completed_at</c>.</param>
    /// <param name="events">The event writer (to continue another's numbering); a new one from 0 by default.</param>
    public ChatToResponsesStream(ResponsesCreate request, string id, long createdAt, long estimatedInputTokens, TimeProvider? time = null, ResponsesEvents? events = null)
    {
        _request = request;
        _id = id;
        _createdAt = createdAt;
        _estimatedInputTokens = estimatedInputTokens;
        _time = time ?? TimeProvider.System;
        _ids = new ResponsesItemIds(id);
        _events = events ?? new ResponsesEvents();
    }

    /// <inheritdoc />
    public Usage? Usage => _usage;

    /// <summary>The response object of the terminal event (<c>response.completed</c>, <c>.incomplete</c> or <c>.failed</c>), once written.</summary>
    public byte[]? FinalResponse { get; private set; }

    /// <summary>The output items so far (done ones only).</summary>
    public JsonArray Output => _output;

    /// <inheritdoc />
    public void Feed(ReadOnlySpan<byte> data, IBufferWriter<byte> output)
    {
        if (_ended) return;
        _sse.Append(data);
        while (!_ended && _sse.TryTake(out var evt)) Dispatch(SseEventBuffer.Data(evt), output);
    }

    /// <inheritdoc />
    public void Complete(IBufferWriter<byte> output)
    {
        if (_ended) return;
        var rest = _sse.TakeRest();
        if (!rest.IsEmpty) Dispatch(SseEventBuffer.Data(rest), output);
        if (_ended) return;
        if (!_finished) throw new InvalidDataException("the chat stream ended before a finish reason or [DONE]");
        Finish(output);
    }

    /// <summary>
    /// Ends the stream with <c>response.failed</c> after an error the service met (the upstream broke off, the caller
    /// was revoked): the items so far, <c>error{code, message}</c> (<c>rate_limit_exceeded</c> for a 429, else
    /// <c>server_error</c>), and <see cref="FinalResponse"/> set.
    /// </summary>
    public void WriteFailed(IBufferWriter<byte> output, ApiError error)
    {
        if (_ended) return;
        Start(output);
        CloseItem(output, "incomplete");
        var failure = new JsonObject { ["code"] = error.Status == 429 ? "rate_limit_exceeded" : "server_error", ["message"] = error.Message };
        Terminal(output, "response.failed", "failed", failure, null);
    }

    /// <summary>One SSE line (without its <c>\n</c>): data lines accumulate, a blank line dispatches the event.</summary>
    /// <summary>One event's data: a chunk, or <c>[DONE]</c>; an event without data (a comment, a keep-alive) is nothing.</summary>
    private void Dispatch(ReadOnlySpan<byte> payload, IBufferWriter<byte> output)
    {
        if (payload.IsEmpty) return;
        if (payload.SequenceEqual("[DONE]"u8))
        {
            Finish(output);
            return;
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(payload.ToArray());
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"a chat stream event is not JSON: {ex.Message}", ex);
        }
        using (document) Chunk(document.RootElement, output);
    }

    private void Chunk(JsonElement chunk, IBufferWriter<byte> output)
    {
        if (chunk.ValueKind != JsonValueKind.Object) throw new InvalidDataException("a chat stream event is not a JSON object");
        if (chunk.TryGetProperty("error", out var error) && error.ValueKind is JsonValueKind.Object or JsonValueKind.String) throw new ProviderStreamException(UpstreamError(error));
        Start(output);
        if (ChatToResponses.Str(chunk, "service_tier") is { } tier) _serviceTier = tier;
        if (chunk.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array)
            foreach (var choice in choices.EnumerateArray())
            {
                // A Responses answer has one choice; n > 1 is not a Responses parameter.
                if (choice.ValueKind != JsonValueKind.Object || (choice.TryGetProperty("index", out var index) && index.ValueKind == JsonValueKind.Number && index.GetInt32() != 0)) continue;
                if (choice.TryGetProperty("delta", out var delta) && delta.ValueKind == JsonValueKind.Object) Delta(delta, choice, output);
                if (ChatToResponses.Str(choice, "finish_reason") is { } finish)
                {
                    _finishReason = finish;
                    _finished = true;
                    CloseItem(output, ChatToResponses.IncompleteReason(finish) is null ? "completed" : "incomplete");
                }
            }
        if (chunk.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object) (_usage, _cacheWrites) = ResponsesUsage.FromChat(usage);
        if (_finished && _usage is not null) Finish(output);
    }

    private void Delta(JsonElement delta, JsonElement choice, IBufferWriter<byte> output)
    {
        if (ChatToResponses.ReasoningText(delta) is { Length: > 0 } reasoning)
        {
            OpenReasoning(output);
            _text.Append(reasoning);
            _outputChars += reasoning.Length;
            _events.Write(output, "response.reasoning_summary_text.delta", w =>
            {
                ItemRef(w);
                w.WriteNumber("summary_index", 0);
                w.WriteString("delta", reasoning);
            });
        }
        if (delta.TryGetProperty("thinking_blocks", out var blocks) && blocks.ValueKind == JsonValueKind.Array) ThinkingBlocks(blocks, output);
        if (delta.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String && content.GetString() is { Length: > 0 } text)
        {
            OpenPart(PartKind.Text, output);
            _text.Append(text);
            _outputChars += text.Length;
            var logprobs = choice.TryGetProperty("logprobs", out var lp) ? lp : default;
            if (logprobs.ValueKind == JsonValueKind.Object) foreach (var entry in ChatToResponses.OutputLogprobs(logprobs)) _logprobs.Add(entry!.DeepClone());
            _events.Write(output, "response.output_text.delta", w =>
            {
                ItemRef(w);
                w.WriteNumber("content_index", _parts.Count);
                w.WriteString("delta", text);
                w.WritePropertyName("logprobs");
                (logprobs.ValueKind == JsonValueKind.Object ? ChatToResponses.OutputLogprobs(logprobs, forDelta: true) : []).WriteTo(w);
            });
        }
        if (delta.TryGetProperty("refusal", out var refusal) && refusal.ValueKind == JsonValueKind.String && refusal.GetString() is { Length: > 0 } refused)
        {
            OpenPart(PartKind.Refusal, output);
            _text.Append(refused);
            _outputChars += refused.Length;
            _events.Write(output, "response.refusal.delta", w =>
            {
                ItemRef(w);
                w.WriteNumber("content_index", _parts.Count);
                w.WriteString("delta", refused);
            });
        }
        if (delta.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array)
        {
            var position = 0;
            foreach (var call in calls.EnumerateArray())
            {
                if (call.ValueKind == JsonValueKind.Object) ToolCall(call, position, output);
                position++;
            }
        }
    }

    /// <summary>
    /// LiteLLM's streamed <c>thinking_blocks</c>: the text comes in fragments (also sent as <c>reasoning_content</c>),
    /// then the block's signature with empty text; a block is whole, and kept for <c>encrypted_content</c>, once signed.
    /// Redacted blocks come whole.
    /// </summary>
    private void ThinkingBlocks(JsonElement blocks, IBufferWriter<byte> output)
    {
        foreach (var block in blocks.EnumerateArray())
        {
            var type = ChatToResponses.Str(block, "type");
            if (type == "redacted_thinking")
            {
                OpenReasoning(output);
                (_thinking ??= []).Add(JsonNode.Parse(block.GetRawText()));
                continue;
            }
            if (type != "thinking") continue;
            _thinkingText.Append(ChatToResponses.Str(block, "thinking"));
            if (ChatToResponses.Str(block, "signature") is not { Length: > 0 } signature) continue;
            OpenReasoning(output);
            (_thinking ??= []).Add(new JsonObject { ["type"] = "thinking", ["thinking"] = _thinkingText.ToString(), ["signature"] = signature });
            _thinkingText.Clear();
        }
    }

    private void ToolCall(JsonElement call, int position, IBufferWriter<byte> output)
    {
        call.TryGetProperty("function", out var function);
        var key = ToolKey(call, position);
        if (_open != ItemKind.Function || _callKey != key)
        {
            if (_doneCalls.Contains(key))
            {
                if (!HasArguments(function, out _)) return;
                throw new InvalidDataException("the upstream sent arguments for a tool call after another call began, which a Responses stream cannot carry");
            }
            CloseItem(output, "completed");
            _callId = ChatToResponses.Str(call, "id") is { Length: > 0 } id ? id : ResponsesIds.New("call");
            _callName = function.ValueKind == JsonValueKind.Object ? ChatToResponses.Str(function, "name") ?? "" : "";
            _callKey = key;
            _callIds[key] = _callId;
            Open(ItemKind.Function, output, ChatToResponses.FunctionCallItem(_ids.Next("fc"), _callId, _callName, "", "in_progress"));
        }
        if (!HasArguments(function, out var arguments)) return;
        _text.Append(arguments);
        _outputChars += arguments.Length;
        _events.Write(output, "response.function_call_arguments.delta", w =>
        {
            ItemRef(w);
            w.WriteString("delta", arguments);
        });
    }

    /// <summary>The call's chat <c>index</c>; a server that omits it is keyed by id, and one that numbers every call 0 by id under that index.</summary>
    private int ToolKey(JsonElement call, int position)
    {
        const int noIndexBase = 1 << 20;
        var id = ChatToResponses.Str(call, "id");
        if (call.TryGetProperty("index", out var i) && i.ValueKind == JsonValueKind.Number && i.TryGetInt32(out var index))
        {
            var key = _aliases.GetValueOrDefault(index, index);
            if (id is not null && _callIds.TryGetValue(key, out var known) && known != id)
            {
                key = noIndexBase + _callIds.Count;
                _aliases[index] = key;
            }
            return key;
        }
        if (id is not null)
        {
            foreach (var (key, known) in _callIds)
                if (known == id) return key;
            return noIndexBase + _callIds.Count;
        }
        return _open == ItemKind.Function ? _callKey : position;
    }

    private static bool HasArguments(JsonElement function, out string arguments)
    {
        arguments = function.ValueKind == JsonValueKind.Object ? ChatToResponses.Str(function, "arguments") ?? "" : "";
        return arguments.Length > 0;
    }

    private void OpenReasoning(IBufferWriter<byte> output)
    {
        if (_open == ItemKind.Reasoning) return;
        CloseItem(output, "completed");
        Open(ItemKind.Reasoning, output, ChatToResponses.ReasoningItem(_ids.Next("rs"), null, null));
        _events.Write(output, "response.reasoning_summary_part.added", w =>
        {
            ItemRef(w);
            w.WriteNumber("summary_index", 0);
            WriteSummaryPart(w, "");
        });
    }

    /// <summary>Makes a part of <paramref name="kind"/> the open one in the open message (opening the message when needed).</summary>
    private void OpenPart(PartKind kind, IBufferWriter<byte> output)
    {
        if (_open != ItemKind.Message)
        {
            CloseItem(output, "completed");
            Open(ItemKind.Message, output, ChatToResponses.MessageItem(_ids.Next("msg"), "in_progress", []));
        }
        if (_part == kind) return;
        ClosePart(output);
        _part = kind;
        var part = kind == PartKind.Text ? ChatToResponses.OutputText("", [], []) : new JsonObject { ["type"] = "refusal", ["refusal"] = "" };
        _events.Write(output, "response.content_part.added", w =>
        {
            ItemRef(w);
            w.WriteNumber("content_index", _parts.Count);
            w.WritePropertyName("part");
            part.WriteTo(w);
        });
    }

    private void ClosePart(IBufferWriter<byte> output)
    {
        if (_part == PartKind.None) return;
        var text = _text.ToString();
        var index = _parts.Count;
        JsonObject part;
        if (_part == PartKind.Text)
        {
            var logprobs = _logprobs;
            part = ChatToResponses.OutputText(text, [], logprobs);
            _events.Write(output, "response.output_text.done", w =>
            {
                ItemRef(w);
                w.WriteNumber("content_index", index);
                w.WriteString("text", text);
                w.WritePropertyName("logprobs");
                logprobs.WriteTo(w);
            });
        }
        else
        {
            part = new JsonObject { ["type"] = "refusal", ["refusal"] = text };
            _events.Write(output, "response.refusal.done", w =>
            {
                ItemRef(w);
                w.WriteNumber("content_index", index);
                w.WriteString("refusal", text);
            });
        }
        _events.Write(output, "response.content_part.done", w =>
        {
            ItemRef(w);
            w.WriteNumber("content_index", index);
            w.WritePropertyName("part");
            part.WriteTo(w);
        });
        _parts.Add(part);
        _part = PartKind.None;
        _text.Clear();
        _logprobs = [];
    }

    private void Open(ItemKind kind, IBufferWriter<byte> output, JsonObject item)
    {
        _open = kind;
        _itemId = item["id"]!.GetValue<string>();
        _outputIndex = _output.Count;
        _text.Clear();
        _events.OutputItemAdded(output, _outputIndex, item);
    }

    /// <summary>Finishes the open item (its closing events and <c>output_item.done</c>) with <paramref name="status"/>.</summary>
    private void CloseItem(IBufferWriter<byte> output, string status)
    {
        switch (_open)
        {
            case ItemKind.None:
                return;
            case ItemKind.Reasoning:
                var summary = _text.ToString();
                _events.Write(output, "response.reasoning_summary_text.done", w =>
                {
                    ItemRef(w);
                    w.WriteNumber("summary_index", 0);
                    w.WriteString("text", summary);
                });
                _events.Write(output, "response.reasoning_summary_part.done", w =>
                {
                    ItemRef(w);
                    w.WriteNumber("summary_index", 0);
                    WriteSummaryPart(w, summary);
                });
                Done(output, ChatToResponses.ReasoningItem(_itemId, summary, _thinking?.ToJsonString(ChatToResponses.CompactJson)));
                _thinking = null;
                _thinkingText.Clear();
                break;
            case ItemKind.Message:
                ClosePart(output);
                var parts = _parts;
                _parts = [];
                Done(output, ChatToResponses.MessageItem(_itemId, status, parts));
                break;
            case ItemKind.Function:
                var arguments = _text.ToString();
                var name = _callName;
                _events.Write(output, "response.function_call_arguments.done", w =>
                {
                    ItemRef(w);
                    w.WriteString("arguments", arguments);
                    w.WriteString("name", name);
                });
                Done(output, ChatToResponses.FunctionCallItem(_itemId, _callId, _callName, arguments, status));
                _doneCalls.Add(_callKey);
                _callKey = -1;
                break;
        }
        _open = ItemKind.None;
        _text.Clear();
    }

    private void Done(IBufferWriter<byte> output, JsonObject item)
    {
        _events.OutputItemDone(output, _outputIndex, item);
        _output.Add(item.DeepClone());
    }

    private void ItemRef(Utf8JsonWriter w)
    {
        w.WriteString("item_id", _itemId);
        w.WriteNumber("output_index", _outputIndex);
    }

    private static void WriteSummaryPart(Utf8JsonWriter w, string text)
    {
        w.WriteStartObject("part");
        w.WriteString("type", "summary_text");
        w.WriteString("text", text);
        w.WriteEndObject();
    }

    private void Start(IBufferWriter<byte> output)
    {
        if (_started) return;
        _started = true;
        var response = ChatToResponses.Response(_request, _id, _createdAt, "in_progress", [], null, null, null);
        _events.Response(output, "response.created", response);
        _events.Response(output, "response.in_progress", response);
    }

    /// <summary>Closes the response: <c>response.completed</c>, or <c>response.incomplete</c> at the token limit or a content filter.</summary>
    private void Finish(IBufferWriter<byte> output)
    {
        Start(output);
        var reason = ChatToResponses.IncompleteReason(_finishReason);
        CloseItem(output, reason is null ? "completed" : "incomplete");
        if (reason is null) Terminal(output, "response.completed", "completed", null, null);
        else Terminal(output, "response.incomplete", "incomplete", null, new JsonObject { ["reason"] = reason });
    }

    private void Terminal(IBufferWriter<byte> output, string type, string status, JsonObject? error, JsonObject? incomplete)
    {
        var usage = _usage ?? new Usage(_estimatedInputTokens, (_outputChars + 3) / 4);
        var response = ChatToResponses.Response(_request, _id, _createdAt, status, _output, ResponsesUsage.ToJson(usage, _cacheWrites), error, incomplete,
            _time.GetUtcNow().ToUnixTimeSeconds(), _serviceTier);
        _events.Response(output, type, response);
        FinalResponse = response;
        _ended = true;
    }

    private static ProviderError UpstreamError(JsonElement error)
    {
        if (error.ValueKind == JsonValueKind.String) return new ProviderError(500, error.GetString() is { Length: > 0 } m ? m : "The upstream reported an error.", null);
        var message = ChatToResponses.Str(error, "message") is { Length: > 0 } text ? text : "The upstream reported an error.";
        var code = ChatToResponses.Str(error, "code") ?? ChatToResponses.Str(error, "type");
        var status = 500;
        foreach (var name in (ReadOnlySpan<string>)["status", "code"])
            if (error.TryGetProperty(name, out var s) && s.ValueKind == JsonValueKind.Number && s.TryGetInt32(out var n) && n is >= 400 and < 600) { status = n; break; }
        if (status == 500 && code is not null && code.Contains("rate_limit", StringComparison.OrdinalIgnoreCase)) status = 429;
        return new ProviderError(status, message, code);
    }
}
