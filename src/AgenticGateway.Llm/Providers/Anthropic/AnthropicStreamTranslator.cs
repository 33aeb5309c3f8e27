using System.Buffers;
using System.Text.Json;
using AgenticGateway.OpenAi;
using AgenticGateway.Providers.Translation;

namespace AgenticGateway.Providers.Anthropic;

/// <summary>
/// Turns a Messages API event stream (message_start, content_block_start/delta/stop, message_delta, message_stop,
/// ping, error) into OpenAI chunks as each event completes. Tool calls are numbered by their order among the
/// tool_use blocks, not by Anthropic's block index (which also counts text and thinking blocks); their argument
/// fragments are passed on in order, one chunk per fragment.
/// </summary>
internal sealed class AnthropicStreamTranslator(ProviderCall call, long created) : IStreamTranslator
{
    private enum BlockKind { Text, Tool, Thinking, Other }

    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

    private readonly SseLineReader _sse = new();
    private readonly Dictionary<int, (BlockKind Kind, int ToolIndex)> _blocks = [];
    private readonly Utf8JsonWriter _json = new(new ArrayBufferWriter<byte>(1), AnthropicJson.WriterOptions);
    private IBufferWriter<byte> _output = null!;
    private string _id = "chatcmpl-" + call.RequestId;
    private string _model = call.UpstreamModel;
    private AnthropicUsage _usage;
    private bool _sawStart;
    private bool _started;
    private bool _finished;
    private bool _stopped;
    private int _toolCount;

    public Usage? Usage => _sawStart ? _usage.ToUsage() : null;

    public void Feed(ReadOnlySpan<byte> data, IBufferWriter<byte> output)
    {
        _output = output;
        if (_stopped) return; // nothing is documented after message_stop
        _sse.Feed(data, OnEvent);
    }

    public void Complete(IBufferWriter<byte> output)
    {
        _output = output;
        if (!_stopped) _sse.Flush(OnEvent);
        if (!_stopped) throw new InvalidDataException("The Anthropic stream ended before message_stop.");
        if (call.IncludeUsage)
        {
            Chunk(w =>
            {
                w.WriteStartArray("choices");
                w.WriteEndArray();
                _usage.WriteOpenAi(w);
            });
        }
        output.Write(Done);
    }

    private void OnEvent(ReadOnlyMemory<byte> data)
    {
        if (_stopped) return;
        JsonDocument document;
        try { document = JsonDocument.Parse(data); }
        catch (JsonException ex) { throw new InvalidDataException("Anthropic sent a stream event that is not JSON: " + ex.Message, ex); }
        using (document)
        {
            var root = document.RootElement;
            switch (AnthropicMessages.Str(root, "type"))
            {
                case "message_start":
                    OnMessageStart(root);
                    break;
                case "content_block_start":
                    OnBlockStart(root);
                    break;
                case "content_block_delta":
                    OnBlockDelta(root);
                    break;
                case "message_delta":
                    if (root.TryGetProperty("usage", out var usage)) _usage = AnthropicUsage.Read(usage, _usage);
                    var stopReason = root.TryGetProperty("delta", out var delta) ? AnthropicMessages.Str(delta, "stop_reason") : null;
                    Finish(AnthropicStopReason.ToFinishReason(stopReason));
                    break;
                case "message_stop":
                    Finish("stop");
                    _stopped = true;
                    break;
                case "error":
                    throw new ProviderStreamException(AnthropicErrors.FromStreamEvent(root));
                default:
                    // ping, content_block_stop, and event types added after this was written carry nothing to translate.
                    break;
            }
        }
    }

    private void OnMessageStart(JsonElement root)
    {
        if (root.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.Object)
        {
            if (AnthropicMessages.Str(message, "id") is { Length: > 0 } id) _id = "chatcmpl-" + id;
            if (AnthropicMessages.Str(message, "model") is { Length: > 0 } model) _model = model;
            if (message.TryGetProperty("usage", out var usage)) _usage = AnthropicUsage.Read(usage, _usage);
        }
        _sawStart = true;
        EnsureStarted();
    }

    private void OnBlockStart(JsonElement root)
    {
        EnsureStarted();
        var index = root.TryGetProperty("index", out var i) && i.TryGetInt32(out var n) ? n : -1;
        var block = root.TryGetProperty("content_block", out var b) ? b : default;
        switch (AnthropicMessages.Str(block, "type"))
        {
            case "text":
                _blocks[index] = (BlockKind.Text, -1);
                if (AnthropicMessages.Str(block, "text") is { Length: > 0 } text) Delta(w => w.WriteString("content", text));
                break;
            case "tool_use":
                var toolIndex = _toolCount++;
                _blocks[index] = (BlockKind.Tool, toolIndex);
                var callId = AnthropicMessages.Str(block, "id");
                var name = AnthropicMessages.Str(block, "name");
                Delta(w => WriteToolCall(w, toolIndex, callId, name, ""));
                break;
            case "thinking":
                _blocks[index] = (BlockKind.Thinking, -1);
                if (AnthropicMessages.Str(block, "thinking") is { Length: > 0 } thinking) Delta(w => WriteThinking(w, thinking));
                break;
            case "redacted_thinking":
                _blocks[index] = (BlockKind.Other, -1);
                var data = AnthropicMessages.Str(block, "data") ?? "";
                Delta(w =>
                {
                    w.WriteStartArray("thinking_blocks");
                    w.WriteStartObject();
                    w.WriteString("type", "redacted_thinking");
                    w.WriteString("data", data);
                    w.WriteEndObject();
                    w.WriteEndArray();
                });
                break;
            default:
                _blocks[index] = (BlockKind.Other, -1);
                break;
        }
    }

    private void OnBlockDelta(JsonElement root)
    {
        var index = root.TryGetProperty("index", out var i) && i.TryGetInt32(out var n) ? n : -1;
        if (!_blocks.TryGetValue(index, out var block)) throw new InvalidDataException($"Anthropic sent a delta for content block {index}, which never started.");
        var delta = root.TryGetProperty("delta", out var d) ? d : default;
        switch (AnthropicMessages.Str(delta, "type"))
        {
            case "text_delta" when block.Kind == BlockKind.Text:
                if (AnthropicMessages.Str(delta, "text") is { Length: > 0 } text) Delta(w => w.WriteString("content", text));
                break;
            case "input_json_delta" when block.Kind == BlockKind.Tool:
                if (AnthropicMessages.Str(delta, "partial_json") is { Length: > 0 } json) Delta(w => WriteToolCall(w, block.ToolIndex, null, null, json));
                break;
            case "thinking_delta" when block.Kind == BlockKind.Thinking:
                if (AnthropicMessages.Str(delta, "thinking") is { Length: > 0 } thinking) Delta(w => WriteThinking(w, thinking));
                break;
            case "signature_delta" when block.Kind == BlockKind.Thinking:
                var signature = AnthropicMessages.Str(delta, "signature") ?? "";
                Delta(w =>
                {
                    w.WriteStartArray("thinking_blocks");
                    w.WriteStartObject();
                    w.WriteString("type", "thinking");
                    w.WriteString("thinking", "");
                    w.WriteString("signature", signature);
                    w.WriteEndObject();
                    w.WriteEndArray();
                });
                break;
            case "text_delta" or "input_json_delta" or "thinking_delta" or "signature_delta":
                throw new InvalidDataException($"Anthropic sent a {AnthropicMessages.Str(delta, "type")} for content block {index} of another type.");
            default:
                break; // citations and future delta types
        }
    }

    /// <summary>Reasoning text, as LiteLLM streams it: <c>reasoning_content</c> plus a thinking block fragment.</summary>
    private static void WriteThinking(Utf8JsonWriter w, string thinking)
    {
        w.WriteString("reasoning_content", thinking);
        w.WriteStartArray("thinking_blocks");
        w.WriteStartObject();
        w.WriteString("type", "thinking");
        w.WriteString("thinking", thinking);
        w.WriteEndObject();
        w.WriteEndArray();
    }

    private static void WriteToolCall(Utf8JsonWriter w, int index, string? id, string? name, string arguments) =>
        OpenAiChunks.WriteToolCallDelta(w, index, id, name, arguments);

    private void EnsureStarted()
    {
        if (_started) return;
        _started = true;
        Delta(w =>
        {
            w.WriteString("role", "assistant");
            w.WriteString("content", "");
        });
    }

    private void Finish(string finishReason)
    {
        if (_finished) return;
        EnsureStarted();
        _finished = true;
        Choice(static _ => { }, finishReason);
    }

    private void Delta(Action<Utf8JsonWriter> writeDelta) => Choice(writeDelta, null);

    private void Choice(Action<Utf8JsonWriter> writeDelta, string? finishReason)
    {
        Chunk(w =>
        {
            w.WriteStartArray("choices");
            w.WriteStartObject();
            w.WriteNumber("index", 0);
            w.WriteStartObject("delta");
            writeDelta(w);
            w.WriteEndObject();
            if (finishReason is null) w.WriteNull("finish_reason");
            else w.WriteString("finish_reason", finishReason);
            w.WriteEndObject();
            w.WriteEndArray();
        });
    }

    private void Chunk(Action<Utf8JsonWriter> writeBody)
    {
        _output.Write(DataPrefix);
        _json.Reset(_output);
        _json.WriteStartObject();
        _json.WriteString("id", _id);
        _json.WriteString("object", "chat.completion.chunk");
        _json.WriteNumber("created", created);
        _json.WriteString("model", _model);
        writeBody(_json);
        _json.WriteEndObject();
        _json.Flush();
        _output.Write(EventEnd);
    }
}
