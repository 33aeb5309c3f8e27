using System.Buffers;
using System.Text.Json;
using AgenticGateway.OpenAi;
using AgenticGateway.Providers.Translation;

namespace AgenticGateway.Providers.OpenAiResponses;

/// <summary>
/// A native Responses stream passed through to the client byte for byte, whole events at a time, while the usage and
/// the final response object are read from its <c>response.completed</c>, <c>response.incomplete</c> or
/// <c>response.failed</c> event (for spend, and for the gateway's store of responses). In-stream failures are part of
/// the Responses protocol the client speaks, so they pass through like any event rather than being raised.
/// </summary>
internal sealed class ResponsesNativeTap : IStreamTranslator
{
    private readonly SseEventBuffer _events = new();
    private bool _ended;

    public Usage? Usage { get; private set; }

    /// <summary>The response object of the terminal event (completed, incomplete or failed); null until it arrived.</summary>
    public byte[]? FinalResponse { get; private set; }

    /// <summary>The terminal event's type (<c>response.completed</c>, ...) or <c>error</c>; null while the stream runs.</summary>
    public string? EndedWith { get; private set; }

    public void Feed(ReadOnlySpan<byte> data, IBufferWriter<byte> output)
    {
        _events.Append(data);
        while (_events.TryTake(out var evt)) Event(evt, output);
    }

    public void Complete(IBufferWriter<byte> output)
    {
        var rest = _events.TakeRest();
        if (!rest.IsEmpty) Event(rest, output);
        if (!_ended) throw new InvalidDataException("The Responses stream ended before its response.completed event.");
    }

    private void Event(ReadOnlySpan<byte> evt, IBufferWriter<byte> output)
    {
        output.Write(evt);
        var data = SseEventBuffer.Data(evt);
        if (data.IsEmpty) return;
        var type = ResponsesEventType.Of(data);
        if (type == "error")
        {
            _ended = true;
            EndedWith ??= type;
            return;
        }
        if (!ResponsesEventType.IsTerminal(type)) return;
        _ended = true;
        EndedWith = type;
        using var doc = ProviderJson.Parse(data.ToArray(), "The Responses stream sent an event that is not JSON");
        if (!doc.RootElement.TryGetProperty("response", out var response) || response.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"The Responses stream's {type} event has no response object.");
        FinalResponse = System.Text.Encoding.UTF8.GetBytes(response.GetRawText());
        if (ResponsesNativeUsage.TryRead(FinalResponse, out var usage)) Usage = usage;
    }
}
