using System.Buffers;
using System.Text.Json;
using AgenticGateway.OpenAi;
using AgenticGateway.Providers.Translation;

namespace AgenticGateway.Providers.OpenAiResponses;

/// <summary>
/// A Responses API stream as chat completion chunks: the role chunk at <c>response.created</c>, text, refusal and
/// reasoning-summary deltas as <c>content</c>, <c>refusal</c> and <c>reasoning_content</c>, each function_call item as
/// a tool call (id and name first, then its argument deltas), and at <c>response.completed</c>/<c>incomplete</c> the
/// finish reason, the usage chunk when the client asked for it, and <c>data: [DONE]</c>. <c>response.failed</c> and
/// <c>error</c> events are raised as the provider's error.
/// </summary>
internal sealed class ResponsesChatStream(ProviderCall call) : IStreamTranslator
{
    private readonly SseEventBuffer _events = new();
    private readonly ArrayBufferWriter<byte> _json = new(512);
    private readonly Dictionary<string, int> _toolIndex = new(StringComparer.Ordinal);
    private string _id = "chatcmpl-" + call.RequestId;
    private long _created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    private string _model = call.UpstreamModel;
    private bool _started;
    private bool _done;

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
        if (!_done) throw new InvalidDataException("The Responses stream ended before its response.completed event.");
    }

    private void Event(ReadOnlySpan<byte> data, IBufferWriter<byte> output)
    {
        if (data.IsEmpty || _done) return;
        using var doc = ProviderJson.Parse(data.ToArray(), "The Responses stream sent an event that is not JSON");
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException("The Responses stream sent an event that is not an object.");
        switch (ProviderJson.Str(root, "type"))
        {
            case "response.created" or "response.in_progress":
                if (root.TryGetProperty("response", out var created) && created.ValueKind == JsonValueKind.Object) Header(created);
                Start(output);
                break;
            case "response.output_text.delta":
                Start(output);
                Chunk(output, w => w.WriteString("content", ProviderJson.Str(root, "delta") ?? ""));
                break;
            case "response.refusal.delta":
                Start(output);
                Chunk(output, w => w.WriteString("refusal", ProviderJson.Str(root, "delta") ?? ""));
                break;
            case "response.reasoning_summary_text.delta" or "response.reasoning_text.delta":
                Start(output);
                Chunk(output, w => w.WriteString("reasoning_content", ProviderJson.Str(root, "delta") ?? ""));
                break;
            case "response.output_item.added" when root.TryGetProperty("item", out var item) && ProviderJson.Str(item, "type") == "function_call":
            {
                Start(output);
                var index = _toolIndex.Count;
                _toolIndex[ProviderJson.Str(item, "id") ?? ProviderJson.Str(item, "call_id") ?? index.ToString(System.Globalization.CultureInfo.InvariantCulture)] = index;
                var callId = ProviderJson.Str(item, "call_id") ?? throw new InvalidDataException("A streamed function_call item has no call_id.");
                var name = ProviderJson.Str(item, "name") ?? throw new InvalidDataException("A streamed function_call item has no name.");
                var arguments = ProviderJson.Str(item, "arguments") ?? "";
                Chunk(output, w => OpenAiChunks.WriteToolCallDelta(w, index, callId, name, arguments));
                break;
            }
            case "response.function_call_arguments.delta":
            {
                var itemId = ProviderJson.Str(root, "item_id") ?? "";
                if (!_toolIndex.TryGetValue(itemId, out var index)) throw new InvalidDataException($"The Responses stream sent arguments for an unknown item {itemId}.");
                var delta = ProviderJson.Str(root, "delta") ?? "";
                Chunk(output, w => OpenAiChunks.WriteToolCallDelta(w, index, null, null, delta));
                break;
            }
            case "response.completed" or "response.incomplete":
            {
                if (!root.TryGetProperty("response", out var response) || response.ValueKind != JsonValueKind.Object)
                    throw new InvalidDataException("The Responses stream's final event has no response object.");
                Header(response);
                Start(output);
                if (ResponsesNativeUsage.TryRead(System.Text.Encoding.UTF8.GetBytes(response.GetRawText()), out var usage)) Usage = usage;
                var finish = ResponsesApiTranslator.FinishReason(response, _toolIndex.Count > 0);
                Chunk(output, null, finish);
                if (call.IncludeUsage && Usage is { } u) UsageChunk(output, u);
                output.Write("data: [DONE]\n\n"u8);
                _done = true;
                break;
            }
            case "response.failed":
            {
                var error = root.TryGetProperty("response", out var failed) && failed.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.Object ? e : default;
                throw new ProviderStreamException(ErrorOf(error, "The Responses API reported the response failed."));
            }
            case "error":
                throw new ProviderStreamException(ErrorOf(root, "The Responses API reported an error in the stream."));
        }
    }

    private static ProviderError ErrorOf(JsonElement error, string fallback)
    {
        var code = error.ValueKind == JsonValueKind.Object ? ProviderJson.Str(error, "code") : null;
        var message = error.ValueKind == JsonValueKind.Object ? ProviderJson.Str(error, "message") : null;
        var status = code switch
        {
            "rate_limit_exceeded" => 429,
            "context_length_exceeded" or "invalid_prompt" => 400,
            _ => 500,
        };
        return new ProviderError(status, message ?? fallback, code);
    }

    private void Header(JsonElement response)
    {
        if (ProviderJson.Str(response, "id") is { Length: > 0 } id) _id = "chatcmpl-" + id;
        if (response.TryGetProperty("created_at", out var c) && c.ValueKind == JsonValueKind.Number) _created = c.GetInt64();
        if (ProviderJson.Str(response, "model") is { } model) _model = model;
    }

    /// <summary>The first chunk, once: the assistant role with empty content, as OpenAI's chat stream opens.</summary>
    private void Start(IBufferWriter<byte> output)
    {
        if (_started) return;
        _started = true;
        Chunk(output, w => { w.WriteString("role", "assistant"); w.WriteString("content", ""); });
    }

    private void Chunk(IBufferWriter<byte> output, Action<Utf8JsonWriter>? delta, string? finish = null)
    {
        _json.ResetWrittenCount();
        using (var w = new Utf8JsonWriter(_json, ProviderJson.OpenAiWriterOptions))
        {
            Head(w);
            w.WriteStartArray("choices");
            w.WriteStartObject();
            w.WriteNumber("index", 0);
            w.WriteStartObject("delta");
            delta?.Invoke(w);
            w.WriteEndObject();
            w.WriteNull("logprobs");
            if (finish is null) w.WriteNull("finish_reason"); else w.WriteString("finish_reason", finish);
            w.WriteEndObject();
            w.WriteEndArray();
            if (call.IncludeUsage) w.WriteNull("usage");
            w.WriteEndObject();
        }
        Frame(output);
    }

    private void UsageChunk(IBufferWriter<byte> output, Usage usage)
    {
        _json.ResetWrittenCount();
        using (var w = new Utf8JsonWriter(_json, ProviderJson.OpenAiWriterOptions))
        {
            Head(w);
            w.WriteStartArray("choices");
            w.WriteEndArray();
            ResponsesApiTranslator.WriteChatUsage(w, usage);
            w.WriteEndObject();
        }
        Frame(output);
    }

    private void Head(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("id", _id);
        w.WriteString("object", "chat.completion.chunk");
        w.WriteNumber("created", _created);
        w.WriteString("model", _model);
    }

    private void Frame(IBufferWriter<byte> output)
    {
        output.Write("data: "u8);
        output.Write(_json.WrittenSpan);
        output.Write("\n\n"u8);
    }
}
