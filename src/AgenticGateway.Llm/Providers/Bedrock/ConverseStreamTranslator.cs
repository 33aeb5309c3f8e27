using System.Buffers;
using System.Text.Json;
using AgenticGateway.OpenAi;
using AgenticGateway.Providers.Translation;

namespace AgenticGateway.Providers.Bedrock;

/// <summary>
/// A ConverseStream response (AWS event-stream frames carrying JSON events) to OpenAI <c>chat.completion.chunk</c>
/// SSE events, one OpenAI chunk per Bedrock delta, emitted as soon as its frame is complete.
/// </summary>
internal sealed class ConverseStreamTranslator(ProviderCall call, long created) : IStreamTranslator
{
    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

    private readonly EventStreamDecoder _decoder = new();
    private readonly ArrayBufferWriter<byte> _json = new(512);
    private readonly string _id = "chatcmpl-" + call.RequestId;
    /// <summary>Converse content block index to OpenAI tool call index.</summary>
    private readonly Dictionary<int, int> _toolIndexes = [];
    private bool _started;
    private bool _stopped;
    private bool _usageSent;

    public Usage? Usage { get; private set; }

    public void Feed(ReadOnlySpan<byte> data, IBufferWriter<byte> output)
    {
        foreach (var message in _decoder.Feed(data)) Handle(message, output);
    }

    public void Complete(IBufferWriter<byte> output)
    {
        if (_decoder.Pending > 0) throw new InvalidDataException("ConverseStream ended inside an event-stream frame");
        if (!_stopped) throw new InvalidDataException("ConverseStream ended before messageStop");
        output.Write(Done);
    }

    private void Handle(EventStreamMessage message, IBufferWriter<byte> output)
    {
        switch (message.Header(":message-type"))
        {
            case "event":
                break;
            case "exception":
                throw new ProviderStreamException(StreamError(message.Header(":exception-type"), message.Payload));
            case "error":
                throw new ProviderStreamException(new ProviderError(500, message.Header(":error-message") ?? "ConverseStream error", message.Header(":error-code")));
            default:
                throw new InvalidDataException($"unknown event-stream message type '{message.Header(":message-type")}'");
        }

        using var document = ParsePayload(message.Payload);
        var e = document.RootElement;
        switch (message.Header(":event-type"))
        {
            case "messageStart":
                EnsureStarted(output);
                break;
            case "contentBlockStart":
                EnsureStarted(output);
                if (e.TryGetProperty("start", out var start) && start.TryGetProperty("toolUse", out var toolUse))
                {
                    var toolIndex = _toolIndexes.Count;
                    _toolIndexes[BlockIndex(e)] = toolIndex;
                    Emit(output, w => WriteToolDelta(w, toolIndex, toolUse.GetProperty("toolUseId").GetString(), toolUse.GetProperty("name").GetString(), ""));
                }
                break;
            case "contentBlockDelta":
                EnsureStarted(output);
                HandleDelta(e, output);
                break;
            case "contentBlockStop":
                break;
            case "messageStop":
                var finish = ConverseOutput.FinishReason(e.TryGetProperty("stopReason", out var sr) ? sr.GetString() : null);
                EnsureStarted(output);
                _stopped = true;
                Emit(output, w => WriteChoice(w, delta: null, finish));
                break;
            case "metadata":
                if (e.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object)
                {
                    var (usage, cacheWrite) = ConverseOutput.ReadUsage(u);
                    Usage = usage;
                    if (call.IncludeUsage && !_usageSent)
                    {
                        _usageSent = true;
                        Emit(output, w =>
                        {
                            WriteHeader(w);
                            w.WriteStartArray("choices");
                            w.WriteEndArray();
                            ConverseOutput.WriteUsage(w, usage, cacheWrite);
                            w.WriteEndObject();
                        });
                    }
                }
                break;
            default:
                // Events added to ConverseStream later (e.g. trace-only ones) carry nothing OpenAI has a place for.
                break;
        }
    }

    private void HandleDelta(JsonElement e, IBufferWriter<byte> output)
    {
        if (!e.TryGetProperty("delta", out var delta)) return;
        if (delta.TryGetProperty("text", out var text))
        {
            var piece = text.GetString() ?? "";
            Emit(output, w => WriteChoice(w, d => d.WriteString("content", piece), null));
        }
        else if (delta.TryGetProperty("toolUse", out var toolUse))
        {
            if (!_toolIndexes.TryGetValue(BlockIndex(e), out var toolIndex)) throw new InvalidDataException("toolUse delta for a content block that did not start a tool use");
            var arguments = toolUse.TryGetProperty("input", out var input) ? input.GetString() ?? "" : "";
            Emit(output, w => WriteToolDelta(w, toolIndex, null, null, arguments));
        }
        else if (delta.TryGetProperty("reasoningContent", out var reasoning))
        {
            if (reasoning.TryGetProperty("text", out var rt))
            {
                var piece = rt.GetString() ?? "";
                Emit(output, w => WriteChoice(w, d => d.WriteString("reasoning_content", piece), null));
            }
            else if (reasoning.TryGetProperty("signature", out var sig))
            {
                var signature = sig.GetString() ?? "";
                Emit(output, w => WriteChoice(w, d => WriteThinkingBlock(d, "thinking", "signature", signature), null));
            }
            else if (reasoning.TryGetProperty("redactedContent", out var redacted))
            {
                var data = redacted.GetString() ?? "";
                Emit(output, w => WriteChoice(w, d => WriteThinkingBlock(d, "redacted_thinking", "data", data), null));
            }
        }
    }

    private static void WriteThinkingBlock(Utf8JsonWriter d, string type, string field, string value)
    {
        d.WriteStartArray("thinking_blocks");
        d.WriteStartObject();
        d.WriteString("type", type);
        if (type == "thinking") d.WriteString("thinking", "");
        d.WriteString(field, value);
        d.WriteEndObject();
        d.WriteEndArray();
    }

    private static int BlockIndex(JsonElement e) =>
        e.TryGetProperty("contentBlockIndex", out var i) && i.ValueKind == JsonValueKind.Number ? i.GetInt32() : throw new InvalidDataException("ConverseStream event without contentBlockIndex");

    private static JsonDocument ParsePayload(byte[] payload)
    {
        try { return JsonDocument.Parse(payload); }
        catch (JsonException ex) { throw new InvalidDataException("ConverseStream event payload is not JSON: " + ex.Message, ex); }
    }

    /// <summary>An exception frame's type (lower camel case in streams) and message, with the status to classify by.</summary>
    private static ProviderError StreamError(string? type, byte[] payload)
    {
        var message = BedrockErrors.ReadMessage(payload) ?? type ?? "ConverseStream exception";
        var status = type switch
        {
            "throttlingException" => 429,
            "serviceUnavailableException" => 503,
            "validationException" => 400,
            "modelStreamErrorException" or "internalServerException" => 500,
            _ => BedrockErrors.StatusFor(type) ?? 500,
        };
        return new ProviderError(status, message, type);
    }

    private void EnsureStarted(IBufferWriter<byte> output)
    {
        if (_started) return;
        _started = true;
        Emit(output, w => WriteChoice(w, d => { d.WriteString("role", "assistant"); d.WriteString("content", ""); }, null));
    }

    private void WriteHeader(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("id", _id);
        w.WriteString("object", "chat.completion.chunk");
        w.WriteNumber("created", created);
        w.WriteString("model", call.UpstreamModel);
    }

    private void WriteChoice(Utf8JsonWriter w, Action<Utf8JsonWriter>? delta, string? finish)
    {
        WriteHeader(w);
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", 0);
        w.WriteStartObject("delta");
        delta?.Invoke(w);
        w.WriteEndObject();
        if (finish is null) w.WriteNull("finish_reason"); else w.WriteString("finish_reason", finish);
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private void WriteToolDelta(Utf8JsonWriter w, int index, string? id, string? name, string arguments) =>
        WriteChoice(w, d => OpenAiChunks.WriteToolCallDelta(d, index, id, name, arguments), null);

    private void Emit(IBufferWriter<byte> output, Action<Utf8JsonWriter> write)
    {
        _json.ResetWrittenCount();
        using (var w = new Utf8JsonWriter(_json)) write(w);
        output.Write(DataPrefix);
        output.Write(_json.WrittenSpan);
        output.Write(EventEnd);
    }
}
