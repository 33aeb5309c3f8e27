using System.Buffers;
using System.Text.Json;
using AgenticGateway.OpenAi;
using AgenticGateway.Providers.Translation;

namespace AgenticGateway.Providers.OpenAiText;

/// <summary>
/// OpenAI's legacy completions stream (<c>data: {"object":"text_completion","choices":[{"text","index","finish_reason"}]}</c>
/// ... <c>data: [DONE]</c>) as chat chunks: each choice's text becomes its <c>delta.content</c> (a choice's first chunk
/// also carries the assistant role), finish reasons are kept, and the usage chunk (asked for upstream in every
/// stream) reaches the client only when it asked for usage.
/// </summary>
internal sealed class TextCompletionStreamTranslator(ProviderCall call) : IStreamTranslator
{
    private readonly SseEventBuffer _events = new();
    private readonly ArrayBufferWriter<byte> _json = new(512);
    private readonly HashSet<long> _started = [];
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
        if (!_done) throw new InvalidDataException("The completions stream ended before data: [DONE].");
    }

    private void Event(ReadOnlySpan<byte> data, IBufferWriter<byte> output)
    {
        if (data.IsEmpty || _done) return;
        if (data.SequenceEqual("[DONE]"u8))
        {
            _done = true;
            output.Write("data: [DONE]\n\n"u8);
            return;
        }
        using (var doc = ProviderJson.Parse(data.ToArray(), "The completions stream sent an event that is not JSON"))
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException("The completions stream sent an event that is not an object.");
            if (root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
                throw new ProviderStreamException(new ProviderError(500, ProviderJson.Str(error, "message") ?? "The provider reported an error in the stream.", ProviderJson.Str(error, "code")));
            if (root.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object && UsageReader.TryRead(data, out var usage)) Usage = usage;
            var choices = root.TryGetProperty("choices", out var c) && c.ValueKind == JsonValueKind.Array ? c : default;
            var hasChoices = choices.ValueKind == JsonValueKind.Array && choices.GetArrayLength() > 0;
            // The usage-only chunk goes to the client only when it asked for usage.
            if (!hasChoices && !call.IncludeUsage) return;
            Chunk(root, choices, hasChoices, output);
        }
    }

    private void Chunk(JsonElement root, JsonElement choices, bool hasChoices, IBufferWriter<byte> output)
    {
        _json.ResetWrittenCount();
        using (var w = new Utf8JsonWriter(_json, ProviderJson.OpenAiWriterOptions))
        {
            w.WriteStartObject();
            w.WriteString("id", ProviderJson.Str(root, "id") ?? "chatcmpl-" + call.RequestId);
            w.WriteString("object", "chat.completion.chunk");
            if (root.TryGetProperty("created", out var created) && created.ValueKind == JsonValueKind.Number) w.WriteNumber("created", created.GetInt64());
            w.WriteString("model", ProviderJson.Str(root, "model") ?? call.UpstreamModel);
            w.WriteStartArray("choices");
            if (hasChoices)
            {
                foreach (var choice in choices.EnumerateArray())
                {
                    var index = choice.TryGetProperty("index", out var i) && i.ValueKind == JsonValueKind.Number ? i.GetInt64() : 0;
                    w.WriteStartObject();
                    w.WriteNumber("index", index);
                    w.WriteStartObject("delta");
                    if (_started.Add(index)) w.WriteString("role", "assistant");
                    w.WriteString("content", ProviderJson.Str(choice, "text") ?? "");
                    w.WriteEndObject();
                    w.WriteNull("logprobs");
                    if (ProviderJson.Str(choice, "finish_reason") is { } finish) w.WriteString("finish_reason", finish);
                    else w.WriteNull("finish_reason");
                    w.WriteEndObject();
                }
            }
            w.WriteEndArray();
            if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object && call.IncludeUsage)
            {
                w.WritePropertyName("usage");
                usage.WriteTo(w);
            }
            else if (call.IncludeUsage) w.WriteNull("usage");
            w.WriteEndObject();
        }
        output.Write("data: "u8);
        output.Write(_json.WrittenSpan);
        output.Write("\n\n"u8);
    }
}
