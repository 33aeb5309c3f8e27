using System.Buffers;
using System.Text.Json;
using AgenticGateway.OpenAi;
using AgenticGateway.Providers.Translation;

namespace AgenticGateway.Providers.Google;

/// <summary>
/// Translates Gemini's <c>streamGenerateContent?alt=sse</c> stream (each event <c>data: {GenerateContentResponse}</c>,
/// lines ending in CRLF or LF) into OpenAI chunks as each event completes. Text and thought parts become content and
/// reasoning_content deltas; a functionCall part arrives whole, so its id, name and full arguments go in one delta.
/// The last Gemini chunk carries finishReason and usageMetadata.
/// </summary>
internal sealed class GeminiStreamTranslator(ProviderCall call, long created) : IStreamTranslator
{
    private readonly ArrayBufferWriter<byte> _line = new(256);
    private readonly ArrayBufferWriter<byte> _data = new(1024);
    private readonly Dictionary<int, ChoiceState> _choices = [];
    private readonly ArrayBufferWriter<byte> _json = new(512);
    private string? _id;
    private string? _model;
    private bool _finished;

    private sealed class ChoiceState
    {
        public int ToolCalls;
        public bool Finished;
    }

    public Usage? Usage { get; private set; }

    public void Feed(ReadOnlySpan<byte> data, IBufferWriter<byte> output)
    {
        while (data.Length > 0)
        {
            var newline = data.IndexOf((byte)'\n');
            if (newline < 0)
            {
                _line.Write(data);
                return;
            }
            _line.Write(data[..newline]);
            data = data[(newline + 1)..];
            var line = _line.WrittenSpan;
            if (line.Length > 0 && line[^1] == (byte)'\r') line = line[..^1];
            Line(line, output);
            _line.ResetWrittenCount();
        }
    }

    public void Complete(IBufferWriter<byte> output)
    {
        if (_line.WrittenCount > 0)
        {
            var line = _line.WrittenSpan;
            if (line[^1] == (byte)'\r') line = line[..^1];
            Line(line, output);
            _line.ResetWrittenCount();
        }
        if (_data.WrittenCount > 0) Dispatch(output);
        if (!_finished || _choices.Values.Any(c => !c.Finished))
            throw new InvalidDataException("The Gemini stream ended before its last chunk (no finishReason).");
        if (call.IncludeUsage)
        {
            Chunk(output, w =>
            {
                w.WriteStartArray("choices");
                w.WriteEndArray();
                GeminiCandidate.WriteUsage(w, Usage ?? default);
            });
        }
        output.Write("data: [DONE]\n\n"u8);
    }

    private void Line(ReadOnlySpan<byte> line, IBufferWriter<byte> output)
    {
        if (line.IsEmpty)
        {
            if (_data.WrittenCount > 0) Dispatch(output);
            return;
        }
        if (!line.StartsWith("data:"u8)) return; // comments, event:, id:, retry: carry nothing for us
        var value = line[5..];
        if (value.Length > 0 && value[0] == (byte)' ') value = value[1..];
        if (_data.WrittenCount > 0) _data.Write("\n"u8);
        _data.Write(value);
    }

    private void Dispatch(IBufferWriter<byte> output)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(_data.WrittenMemory); }
        catch (JsonException ex) { throw new InvalidDataException("Gemini sent a stream event that is not JSON: " + ex.Message, ex); }
        using (doc)
        {
            _data.ResetWrittenCount();
            var root = doc.RootElement;
            if (GoogleErrors.TryRead(root, 500, out var error)) throw new ProviderStreamException(error);
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException("Gemini sent a stream event that is not an object.");
            _id ??= "chatcmpl-" + (GeminiCandidate.Str(root, "responseId") ?? call.RequestId);
            _model ??= GeminiCandidate.Str(root, "modelVersion") ?? call.UpstreamModel;
            if (root.TryGetProperty("usageMetadata", out var meta) && meta.ValueKind == JsonValueKind.Object) Usage = GeminiCandidate.ReadUsage(meta);

            if (root.TryGetProperty("candidates", out var candidates) && candidates.ValueKind == JsonValueKind.Array && candidates.GetArrayLength() > 0)
            {
                var position = 0;
                foreach (var candidate in candidates.EnumerateArray()) Candidate(candidate, position++, output);
            }
            else if (GeminiCandidate.BlockedPrompt(root) is { } blocked)
            {
                var state = Start(0, output);
                if (!state.Finished)
                {
                    Delta(output, 0, w => w.WriteString("refusal", blocked), null);
                    Delta(output, 0, null, "content_filter");
                    state.Finished = true;
                }
                _finished = true;
            }
        }
    }

    private void Candidate(JsonElement candidate, int position, IBufferWriter<byte> output)
    {
        var index = candidate.TryGetProperty("index", out var i) && i.ValueKind == JsonValueKind.Number ? i.GetInt32() : position;
        var state = Start(index, output);
        foreach (var part in GeminiCandidate.Parts(candidate))
        {
            if (part.TryGetProperty("functionCall", out var fc) && fc.ValueKind == JsonValueKind.Object)
            {
                var toolIndex = state.ToolCalls++;
                var callInfo = GeminiCandidate.ReadCall(part, fc, toolIndex);
                // Gemini sends each call whole: id, name and all its arguments go in one delta.
                Delta(output, index, w => OpenAiChunks.WriteToolCallDelta(w, toolIndex, callInfo.Id, callInfo.Name, callInfo.Arguments), null);
            }
            else if (GeminiCandidate.Str(part, "text") is { Length: > 0 } text)
            {
                var field = GeminiCandidate.IsThought(part) ? "reasoning_content" : "content";
                Delta(output, index, w => w.WriteString(field, text), null);
            }
        }
        if (GeminiCandidate.Str(candidate, "finishReason") is { } reason && !state.Finished)
        {
            var finish = GeminiCandidate.MapFinish(reason, state.ToolCalls > 0)
                ?? throw new ProviderStreamException(GeminiCandidate.Malformed(reason, GeminiCandidate.Str(candidate, "finishMessage")));
            Delta(output, index, null, finish);
            state.Finished = true;
            _finished = true;
        }
    }

    /// <summary>The choice's state; its first chunk (role and empty content) goes out the first time it is seen.</summary>
    private ChoiceState Start(int index, IBufferWriter<byte> output)
    {
        if (_choices.TryGetValue(index, out var state)) return state;
        state = new ChoiceState();
        _choices[index] = state;
        Delta(output, index, w =>
        {
            w.WriteString("role", "assistant");
            w.WriteString("content", "");
        }, null);
        return state;
    }

    private void Delta(IBufferWriter<byte> output, int index, Action<Utf8JsonWriter>? delta, string? finish)
    {
        Chunk(output, w =>
        {
            w.WriteStartArray("choices");
            w.WriteStartObject();
            w.WriteNumber("index", index);
            w.WriteStartObject("delta");
            delta?.Invoke(w);
            w.WriteEndObject();
            if (finish is null) w.WriteNull("finish_reason");
            else w.WriteString("finish_reason", finish);
            w.WriteEndObject();
            w.WriteEndArray();
        });
    }

    private void Chunk(IBufferWriter<byte> output, Action<Utf8JsonWriter> body)
    {
        _json.ResetWrittenCount();
        using (var w = new Utf8JsonWriter(_json, GeminiJson.WriterOptions))
        {
            w.WriteStartObject();
            w.WriteString("id", _id ?? "chatcmpl-" + call.RequestId);
            w.WriteString("object", "chat.completion.chunk");
            w.WriteNumber("created", created);
            w.WriteString("model", _model ?? call.UpstreamModel);
            body(w);
            w.WriteEndObject();
        }
        output.Write("data: "u8);
        output.Write(_json.WrittenSpan);
        output.Write("\n\n"u8);
    }
}
