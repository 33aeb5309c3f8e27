using System.Buffers;
using System.Text.Json;
using AgenticGateway.OpenAi;
using AgenticGateway.Providers.Translation;

namespace AgenticGateway.Providers.Cohere;

/// <summary>
/// Cohere's v2 chat stream (SSE, <c>event: {type}</c> and <c>data: {"type",...}</c>, ending with <c>data: [DONE]</c>;
/// cohere-openapi.yaml's StreamedChatResponseV2) as OpenAI chunks: message-start gives the role chunk; content-delta
/// text (or thinking) a content (or reasoning_content) delta; tool-plan-delta reasoning_content; tool-call-start a tool
/// call's id, name and first arguments, tool-call-delta its further arguments, in order; message-end the finish reason
/// and usage. A message-end with an error (or finish_reason ERROR or TIMEOUT) is the provider's error in the stream.
/// </summary>
internal sealed class CohereStreamTranslator(ProviderCall call, long created) : IStreamTranslator
{
    private readonly SseEventBuffer _events = new();
    private readonly ArrayBufferWriter<byte> _json = new(512);
    private string? _id;
    private bool _started;
    private bool _ended;
    private int _toolCalls;

    public Usage? Usage { get; private set; }

    public void Feed(ReadOnlySpan<byte> data, IBufferWriter<byte> output)
    {
        _events.Append(data);
        while (_events.TryTake(out var evt)) Event(SseEventBuffer.Data(evt), output);
    }

    public void Complete(IBufferWriter<byte> output)
    {
        var rest = _events.TakeRest();
        if (!rest.IsEmpty && SseEventBuffer.Data(rest) is { IsEmpty: false } last) Event(last, output);
        if (!_ended) throw new InvalidDataException("The Cohere stream ended before its message-end event.");
        if (call.IncludeUsage)
        {
            Chunk(output, w =>
            {
                w.WriteStartArray("choices");
                w.WriteEndArray();
                CohereChatReader.WriteUsage(w, Usage ?? default);
            });
        }
        output.Write("data: [DONE]\n\n"u8);
    }

    private void Event(ReadOnlySpan<byte> data, IBufferWriter<byte> output)
    {
        if (data.IsEmpty || data.SequenceEqual("[DONE]"u8)) return;
        using (var doc = ProviderJson.Parse(data.ToArray(), "Cohere sent a stream event that is not JSON"))
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException("Cohere sent a stream event that is not an object.");
            var type = ProviderJson.Str(root, "type");
            var delta = root.TryGetProperty("delta", out var d) && d.ValueKind == JsonValueKind.Object ? d : default;
            var message = delta.ValueKind == JsonValueKind.Object && delta.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.Object ? m : default;
            switch (type)
            {
                case "message-start":
                    _id ??= ProviderJson.Str(root, "id");
                    Start(output);
                    break;
                case "content-delta":
                    Start(output);
                    if (message.ValueKind == JsonValueKind.Object && message.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.Object)
                    {
                        if (ProviderJson.Str(content, "thinking") is { Length: > 0 } thinking) Delta(output, w => w.WriteString("reasoning_content", thinking), null);
                        if (ProviderJson.Str(content, "text") is { Length: > 0 } text) Delta(output, w => w.WriteString("content", text), null);
                    }
                    break;
                case "tool-plan-delta":
                    Start(output);
                    if (ProviderJson.Str(message, "tool_plan") is { Length: > 0 } plan) Delta(output, w => w.WriteString("reasoning_content", plan), null);
                    break;
                case "tool-call-start":
                    {
                        Start(output);
                        var toolCall = message.ValueKind == JsonValueKind.Object && message.TryGetProperty("tool_calls", out var t) && t.ValueKind == JsonValueKind.Object ? t : default;
                        var function = toolCall.ValueKind == JsonValueKind.Object && toolCall.TryGetProperty("function", out var f) ? f : default;
                        var index = _toolCalls++;
                        var id = ProviderJson.Str(toolCall, "id") ?? throw new InvalidDataException("Cohere's tool-call-start has no id.");
                        var name = ProviderJson.Str(function, "name") ?? throw new InvalidDataException("Cohere's tool-call-start has no function name.");
                        var arguments = ProviderJson.Str(function, "arguments") ?? "";
                        Delta(output, w => OpenAiChunks.WriteToolCallDelta(w, index, id, name, arguments), null);
                        break;
                    }
                case "tool-call-delta":
                    {
                        if (_toolCalls == 0) throw new InvalidDataException("Cohere sent tool-call-delta before tool-call-start.");
                        var toolCall = message.ValueKind == JsonValueKind.Object && message.TryGetProperty("tool_calls", out var t) && t.ValueKind == JsonValueKind.Object ? t : default;
                        var function = toolCall.ValueKind == JsonValueKind.Object && toolCall.TryGetProperty("function", out var f) ? f : default;
                        if (ProviderJson.Str(function, "arguments") is { Length: > 0 } arguments)
                        {
                            var index = _toolCalls - 1;
                            Delta(output, w => OpenAiChunks.WriteToolCallDelta(w, index, null, null, arguments), null);
                        }
                        break;
                    }
                case "message-end":
                    {
                        if (delta.ValueKind == JsonValueKind.Object && ProviderJson.Str(delta, "error") is { Length: > 0 } error)
                            throw new ProviderStreamException(new ProviderError(500, error, null));
                        if (delta.ValueKind == JsonValueKind.Object && delta.TryGetProperty("usage", out var usage)) Usage = CohereChatReader.ReadUsage(usage);
                        var reason = ProviderJson.Str(delta, "finish_reason");
                        if (reason is "ERROR" or "TIMEOUT")
                            throw new ProviderStreamException(new ProviderError(reason == "TIMEOUT" ? 504 : 500, $"Cohere ended the generation with finish_reason {reason}.", reason));
                        Start(output);
                        string finish;
                        try { finish = CohereChatReader.MapFinish(reason, _toolCalls > 0); }
                        catch (InvalidDataException) when (reason is null) { finish = _toolCalls > 0 ? "tool_calls" : "stop"; }
                        Delta(output, null, finish);
                        _ended = true;
                        break;
                    }
                // content-start, content-end, tool-call-end, citation-start, citation-end and debug carry nothing a chunk needs.
            }
        }
    }

    /// <summary>The role chunk, once, before anything else.</summary>
    private void Start(IBufferWriter<byte> output)
    {
        if (_started) return;
        _started = true;
        Delta(output, w =>
        {
            w.WriteString("role", "assistant");
            w.WriteString("content", "");
        }, null);
    }

    private void Delta(IBufferWriter<byte> output, Action<Utf8JsonWriter>? delta, string? finish)
    {
        Chunk(output, w =>
        {
            w.WriteStartArray("choices");
            w.WriteStartObject();
            w.WriteNumber("index", 0);
            w.WriteStartObject("delta");
            delta?.Invoke(w);
            w.WriteEndObject();
            if (finish is null) w.WriteNull("finish_reason"); else w.WriteString("finish_reason", finish);
            w.WriteEndObject();
            w.WriteEndArray();
        });
    }

    private void Chunk(IBufferWriter<byte> output, Action<Utf8JsonWriter> body)
    {
        _json.ResetWrittenCount();
        using (var w = new Utf8JsonWriter(_json, ProviderJson.OpenAiWriterOptions))
        {
            w.WriteStartObject();
            w.WriteString("id", "chatcmpl-" + (_id ?? call.RequestId));
            w.WriteString("object", "chat.completion.chunk");
            w.WriteNumber("created", created);
            w.WriteString("model", call.UpstreamModel);
            body(w);
            w.WriteEndObject();
        }
        output.Write("data: "u8);
        output.Write(_json.WrittenSpan);
        output.Write("\n\n"u8);
    }
}
