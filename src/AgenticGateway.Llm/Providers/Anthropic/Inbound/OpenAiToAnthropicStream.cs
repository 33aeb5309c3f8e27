using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using AgenticGateway.Providers.Translation;

namespace AgenticGateway.Providers.Anthropic.Inbound;

/// <summary>
/// Turns an OpenAI chat completions stream (<c>data: {chunk}</c> ... <c>data: [DONE]</c>) into Anthropic's Messages
/// stream, incrementally: <c>message_start</c>, then per content block <c>content_block_start</c>,
/// <c>content_block_delta</c>s and <c>content_block_stop</c>, then <c>message_delta</c> and <c>message_stop</c>.
/// </summary>
/// <remarks>
/// <para>Blocks open in the order their first delta arrives and take increasing indices; the open block is closed
/// before another opens, since Anthropic streams one block at a time. Reasoning (<c>reasoning_content</c> or
/// <c>reasoning</c>) is a thinking block (a signature from LiteLLM's <c>thinking_blocks</c> becomes a
/// <c>signature_delta</c>), content and refusal text a text block, and each OpenAI tool call index its own tool_use
/// block whose argument fragments are forwarded as <c>input_json_delta</c>s in arrival order, unmerged and unrepaired.
/// OpenAI servers send each call's fragments contiguously; a fragment for a call whose block was already closed cannot
/// be expressed and ends the stream with an error event rather than being dropped.</para>
/// <para>Usage: Anthropic reports input tokens in <c>message_start</c>, OpenAI only at the end. <c>message_start</c>
/// carries the caller's estimate; the real numbers (input excluding cache reads and writes, the cache fields, output)
/// go in <c>message_delta.usage</c>, which Anthropic documents as cumulative and the SDKs apply over the start's. So
/// <c>message_delta</c> is held after <c>finish_reason</c> until the usage chunk or <c>[DONE]</c>.</para>
/// <para>Failures become Anthropic <c>event: error</c> (the HTTP status is already 200) and end the stream: an OpenAI
/// error object inside the stream (type mapped by <see cref="AnthropicErrors.TypeForOpenAiError"/>), bytes that are not
/// JSON, or input that ends before any <c>finish_reason</c> or <c>[DONE]</c>. Input that ends after a finish reason but
/// without <c>[DONE]</c> is complete enough: the message is closed normally. <see cref="Failed"/> tells the caller.</para>
/// </remarks>
internal sealed class OpenAiToAnthropicStream : IStreamTranslator
{
    private enum BlockKind { None, Text, Thinking, Tool }

    /// <summary>Keys for tool calls streamed without an <c>index</c>, clear of any real index.</summary>
    private const int NoIndexBase = 1 << 20;

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly string _model;
    private readonly string _messageId;
    private readonly long _estimatedInputTokens;
    private readonly ArrayBufferWriter<byte> _line = new(256);
    private readonly ArrayBufferWriter<byte> _data = new(1024);
    private readonly Dictionary<int, int> _toolBlocks = [];
    private readonly Dictionary<int, string> _toolIds = [];
    private readonly Dictionary<int, int> _aliases = [];
    private Utf8JsonWriter? _writer;
    private bool _started;
    private bool _ended;
    private bool _hasData;
    private int _nextIndex;
    private BlockKind _open;
    private int _openTool = -1;
    private string? _finishReason;
    private string? _matchedStop;
    private bool _anyToolCalls;
    private AnthropicUsage? _usage;
    private long _outputChars;

    /// <param name="model">The model name to report (the one the client asked for).</param>
    /// <param name="messageId">The Anthropic message id (<c>msg_...</c>; see <see cref="AnthropicResponseConverter.MessageId"/>).</param>
    /// <param name="estimatedInputTokens">Input tokens for <c>message_start</c> (e.g. <see cref="AnthropicTokenCounter.Estimate"/>).</param>
    public OpenAiToAnthropicStream(string model, string messageId, long estimatedInputTokens)
    {
        _model = model;
        _messageId = messageId;
        _estimatedInputTokens = estimatedInputTokens;
    }

    /// <inheritdoc />
    public OpenAi.Usage? Usage => _usage?.ToGatewayUsage();

    /// <summary>The stream ended with an <c>event: error</c> (upstream error, malformed data, or cut short).</summary>
    public bool Failed { get; private set; }

    /// <inheritdoc />
    public void Feed(ReadOnlySpan<byte> data, IBufferWriter<byte> output)
    {
        while (!data.IsEmpty && !_ended)
        {
            var newline = data.IndexOf((byte)'\n');
            if (newline < 0)
            {
                _line.Write(data);
                return;
            }
            if (_line.WrittenCount > 0)
            {
                _line.Write(data[..newline]);
                var line = _line.WrittenSpan;
                Line(line, output);
                _line.ResetWrittenCount();
            }
            else
            {
                Line(data[..newline], output);
            }
            data = data[(newline + 1)..];
        }
    }

    /// <inheritdoc />
    public void Complete(IBufferWriter<byte> output)
    {
        if (_ended) return;
        if (_line.WrittenCount > 0)
        {
            var line = _line.WrittenSpan.ToArray();
            _line.ResetWrittenCount();
            Line(line, output);
        }
        if (!_ended && _hasData) Dispatch(output);
        if (_ended) return;
        if (_finishReason is not null) Finish(output);
        else Fail(output, "api_error", "The upstream stream ended before the response was complete.");
    }

    /// <summary>One SSE line (without its <c>\n</c>): data lines accumulate, a blank line dispatches the event.</summary>
    private void Line(ReadOnlySpan<byte> line, IBufferWriter<byte> output)
    {
        if (!line.IsEmpty && line[^1] == (byte)'\r') line = line[..^1];
        if (line.IsEmpty)
        {
            if (_hasData) Dispatch(output);
            return;
        }
        if (!line.StartsWith("data:"u8)) return; // comments (": keep-alive"), event:, id:, retry:
        line = line[5..];
        if (!line.IsEmpty && line[0] == (byte)' ') line = line[1..];
        if (_hasData) _data.Write("\n"u8);
        _data.Write(line);
        _hasData = true;
    }

    private void Dispatch(IBufferWriter<byte> output)
    {
        var payload = _data.WrittenSpan;
        _hasData = false;
        try
        {
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
            catch (JsonException)
            {
                Fail(output, "api_error", "The upstream sent stream data that is not JSON.");
                return;
            }
            using (document) Chunk(document.RootElement, output);
        }
        finally
        {
            _data.ResetWrittenCount();
        }
    }

    private void Chunk(JsonElement chunk, IBufferWriter<byte> output)
    {
        if (chunk.ValueKind != JsonValueKind.Object)
        {
            Fail(output, "api_error", "The upstream sent a stream chunk that is not a JSON object.");
            return;
        }
        if (chunk.TryGetProperty("error", out var error) && error.ValueKind is JsonValueKind.Object or JsonValueKind.String)
        {
            UpstreamError(error, output);
            return;
        }
        Start(output);
        if (chunk.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array && choices.GetArrayLength() > 0
            && choices[0] is { ValueKind: JsonValueKind.Object } choice)
        {
            if (choice.TryGetProperty("delta", out var delta) && delta.ValueKind == JsonValueKind.Object && !Delta(delta, output)) return;
            if (choice.TryGetProperty("finish_reason", out var finish) && finish.ValueKind == JsonValueKind.String)
            {
                _finishReason = finish.GetString();
                _matchedStop = AnthropicResponseConverter.MatchedStopSequence(choice);
                CloseBlock(output);
            }
        }
        if (chunk.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object) _usage = AnthropicUsage.FromOpenAi(usage);
        if (_finishReason is not null && _usage is not null) Finish(output);
    }

    /// <summary>Applies one delta; false when it ended the stream with an error.</summary>
    private bool Delta(JsonElement delta, IBufferWriter<byte> output)
    {
        if (AnthropicResponseConverter.ReasoningText(delta) is { Length: > 0 } reasoning)
        {
            Open(BlockKind.Thinking, -1, default, output);
            _outputChars += reasoning.Length;
            BlockDelta(output, _nextIndex - 1, "thinking_delta", "thinking", reasoning);
        }
        if (delta.TryGetProperty("thinking_blocks", out var blocks) && blocks.ValueKind == JsonValueKind.Array) ThinkingBlocks(blocks, output);
        foreach (var name in (ReadOnlySpan<string>)["content", "refusal"])
        {
            if (!delta.TryGetProperty(name, out var content) || content.ValueKind != JsonValueKind.String || content.GetString() is not { Length: > 0 } text) continue;
            Open(BlockKind.Text, -1, default, output);
            _outputChars += text.Length;
            BlockDelta(output, _nextIndex - 1, "text_delta", "text", text);
        }
        if (delta.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array)
        {
            var position = 0;
            foreach (var call in calls.EnumerateArray())
            {
                if (call.ValueKind == JsonValueKind.Object && !ToolCall(call, position, output)) return false;
                position++;
            }
        }
        return true;
    }

    /// <summary>LiteLLM's streamed <c>thinking_blocks</c>: the text also comes as <c>reasoning_content</c>, so only signatures and redacted blocks are new.</summary>
    private void ThinkingBlocks(JsonElement blocks, IBufferWriter<byte> output)
    {
        foreach (var block in blocks.EnumerateArray())
        {
            if (block.ValueKind != JsonValueKind.Object) continue;
            if (block.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.ValueEquals("redacted_thinking"))
            {
                var data = block.TryGetProperty("data", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString()! : "";
                CloseBlock(output);
                var index = _nextIndex++;
                Event(output, "content_block_start", w =>
                {
                    w.WriteNumber("index", index);
                    w.WriteStartObject("content_block");
                    w.WriteString("type", "redacted_thinking");
                    w.WriteString("data", data);
                    w.WriteEndObject();
                });
                Event(output, "content_block_stop", w => w.WriteNumber("index", index));
                continue;
            }
            if (!block.TryGetProperty("signature", out var signature) || signature.ValueKind != JsonValueKind.String || signature.GetString() is not { Length: > 0 } sig) continue;
            Open(BlockKind.Thinking, -1, default, output);
            BlockDelta(output, _nextIndex - 1, "signature_delta", "signature", sig);
        }
    }

    /// <summary><c>content_block_delta</c> of block <paramref name="index"/>: <c>{"type": type, field: value}</c>.</summary>
    private void BlockDelta(IBufferWriter<byte> output, int index, string type, string field, string value) =>
        Event(output, "content_block_delta", w =>
        {
            w.WriteNumber("index", index);
            w.WriteStartObject("delta");
            w.WriteString("type", type);
            w.WriteString(field, value);
            w.WriteEndObject();
        });

    /// <summary>One <c>delta.tool_calls</c> entry; false when it ended the stream with an error.</summary>
    private bool ToolCall(JsonElement call, int position, IBufferWriter<byte> output)
    {
        call.TryGetProperty("function", out var function);
        var key = ToolKey(call, position);
        if (!_toolBlocks.ContainsKey(key))
        {
            var id = call.TryGetProperty("id", out var callId) && callId.ValueKind == JsonValueKind.String ? callId.GetString()! : "toolu_" + Guid.NewGuid().ToString("N");
            var name = function.ValueKind == JsonValueKind.Object && function.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()! : "";
            Open(BlockKind.Tool, key, (id, name), output);
            _toolBlocks[key] = _nextIndex - 1;
            _toolIds[key] = id;
            _anyToolCalls = true;
        }
        else if (_open != BlockKind.Tool || _openTool != key)
        {
            if (!HasArguments(function, out _)) return true;
            Fail(output, "api_error", "The upstream interleaved the arguments of parallel tool calls, which an Anthropic stream cannot carry.");
            return false;
        }
        if (!HasArguments(function, out var arguments)) return true;
        _outputChars += arguments.Length;
        var blockIndex = _toolBlocks[key];
        BlockDelta(output, blockIndex, "input_json_delta", "partial_json", arguments);
        return true;
    }

    /// <summary>
    /// The call's OpenAI <c>index</c>; servers that omit it are keyed by id (a new id is a new call, numbered after the
    /// last) and an entry with neither continues the open call.
    /// </summary>
    private int ToolKey(JsonElement call, int position)
    {
        var hasId = call.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String;
        if (call.TryGetProperty("index", out var i) && i.TryGetInt32(out var index))
        {
            var key = _aliases.GetValueOrDefault(index, index);
            // A server that numbers every call 0 (seen on OpenAI-compatible layers): a new id under a known index is a new call.
            if (hasId && _toolIds.TryGetValue(key, out var knownId) && knownId != id.GetString())
            {
                key = NoIndexBase + _toolIds.Count;
                _aliases[index] = key;
            }
            return key;
        }
        if (hasId)
        {
            var text = id.GetString()!;
            foreach (var (key, known) in _toolIds)
                if (known == text) return key;
            return NoIndexBase + _toolIds.Count;
        }
        return _openTool >= 0 ? _openTool : position;
    }

    private static bool HasArguments(JsonElement function, out string arguments)
    {
        arguments = function.ValueKind == JsonValueKind.Object && function.TryGetProperty("arguments", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString()! : "";
        return arguments.Length > 0;
    }

    /// <summary>Makes a block of <paramref name="kind"/> the open one (a tool block is always new), closing the previous.</summary>
    private void Open(BlockKind kind, int toolKey, (string Id, string Name) tool, IBufferWriter<byte> output)
    {
        if (kind != BlockKind.Tool && _open == kind) return;
        CloseBlock(output);
        var index = _nextIndex++;
        _open = kind;
        _openTool = toolKey;
        Event(output, "content_block_start", w =>
        {
            w.WriteNumber("index", index);
            w.WriteStartObject("content_block");
            switch (kind)
            {
                case BlockKind.Text:
                    w.WriteString("type", "text");
                    w.WriteString("text", "");
                    break;
                case BlockKind.Thinking:
                    w.WriteString("type", "thinking");
                    w.WriteString("thinking", "");
                    w.WriteString("signature", "");
                    break;
                default:
                    w.WriteString("type", "tool_use");
                    w.WriteString("id", tool.Id);
                    w.WriteString("name", tool.Name);
                    AnthropicResponseConverter.WriteDirectCaller(w);
                    w.WriteStartObject("input");
                    w.WriteEndObject();
                    break;
            }
            w.WriteEndObject();
        });
    }

    private void CloseBlock(IBufferWriter<byte> output)
    {
        if (_open == BlockKind.None) return;
        var index = _nextIndex - 1;
        _open = BlockKind.None;
        _openTool = -1;
        Event(output, "content_block_stop", w => w.WriteNumber("index", index));
    }

    private void Start(IBufferWriter<byte> output)
    {
        if (_started) return;
        _started = true;
        Event(output, "message_start", w =>
        {
            w.WriteStartObject("message");
            w.WriteString("id", _messageId);
            w.WriteString("type", "message");
            w.WriteString("role", "assistant");
            w.WriteString("model", _model);
            w.WriteStartArray("content");
            w.WriteEndArray();
            w.WriteNull("stop_reason");
            w.WriteNull("stop_sequence");
            w.WriteStartObject("usage");
            new AnthropicUsage(_estimatedInputTokens, 0, 0, 0).Write(w);
            w.WriteEndObject();
            w.WriteEndObject();
        });
    }

    /// <summary>Closes the message: <c>message_delta</c> (stop reason, usage) and <c>message_stop</c>.</summary>
    private void Finish(IBufferWriter<byte> output)
    {
        Start(output);
        CloseBlock(output);
        var stopReason = AnthropicStopReason.FromOpenAi(_finishReason, _anyToolCalls, _matchedStop);
        var usage = _usage ?? new AnthropicUsage(_estimatedInputTokens, (_outputChars + 3) / 4, 0, 0);
        Event(output, "message_delta", w =>
        {
            w.WriteStartObject("delta");
            w.WriteString("stop_reason", stopReason);
            if (stopReason == "stop_sequence") w.WriteString("stop_sequence", _matchedStop);
            else w.WriteNull("stop_sequence");
            w.WriteEndObject();
            w.WriteStartObject("usage");
            usage.Write(w);
            w.WriteEndObject();
        });
        Event(output, "message_stop", _ => { });
        _ended = true;
    }

    private void UpstreamError(JsonElement error, IBufferWriter<byte> output)
    {
        string? message = null, type = null, code = null;
        int? status = null;
        if (error.ValueKind == JsonValueKind.String) message = error.GetString();
        else
        {
            message = Str(error, "message");
            type = Str(error, "type");
            if (error.TryGetProperty("code", out var c))
            {
                if (c.ValueKind == JsonValueKind.String) code = c.GetString();
                else if (c.TryGetInt32(out var n)) status = n;
            }
            if (error.TryGetProperty("status", out var s) && s.TryGetInt32(out var sn)) status = sn;
        }
        Fail(output, AnthropicErrors.TypeForOpenAiError(type, code, status), message is { Length: > 0 } ? message : "The upstream reported an error.");
    }

    private static string? Str(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private void Fail(IBufferWriter<byte> output, string type, string message)
    {
        AnthropicErrors.WriteSseEvent(output, type, message);
        Failed = true;
        _ended = true;
    }

    /// <summary>Writes <c>event: {name}\ndata: {"type":name, ...}\n\n</c>.</summary>
    private void Event(IBufferWriter<byte> output, string name, Action<Utf8JsonWriter> body)
    {
        output.Write("event: "u8);
        System.Text.EncodingExtensions.GetBytes(System.Text.Encoding.UTF8, name.AsSpan(), output);
        output.Write("\ndata: "u8);
        if (_writer is null) _writer = new Utf8JsonWriter(output, WriterOptions);
        else _writer.Reset(output);
        _writer.WriteStartObject();
        _writer.WriteString("type", name);
        body(_writer);
        _writer.WriteEndObject();
        _writer.Flush();
        output.Write("\n\n"u8);
    }
}
