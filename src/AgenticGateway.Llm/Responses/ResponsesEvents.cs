using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace AgenticGateway.Responses;

/// <summary>
/// Writes Responses stream events as OpenAI frames them: <c>event: {type}\ndata: {"type":...,"sequence_number":n,...}\n\n</c>,
/// numbering them from the first (0 unless told otherwise, e.g. when a stream is resumed).
/// </summary>
/// <remarks>
/// One instance per stream: <see cref="ChatToResponsesStream"/> writes through one, and the service's hosted-tool loop
/// writes its own items (<c>code_interpreter_call</c>, <c>mcp_call</c>, <c>mcp_list_tools</c>, ...) with
/// <see cref="Write"/>, <see cref="OutputItemAdded"/> and <see cref="OutputItemDone"/> so the numbering runs on.
/// </remarks>
internal sealed class ResponsesEvents(int firstSequenceNumber = 0)
{
    private Utf8JsonWriter? _writer;

    /// <summary>The number the next event gets.</summary>
    public int SequenceNumber { get; private set; } = firstSequenceNumber;

    /// <summary>Writes one event: <paramref name="body"/> writes the members after <c>type</c> and <c>sequence_number</c>.</summary>
    public void Write(IBufferWriter<byte> output, string type, Action<Utf8JsonWriter>? body)
    {
        output.Write("event: "u8);
        System.Text.EncodingExtensions.GetBytes(System.Text.Encoding.UTF8, type.AsSpan(), output);
        output.Write("\ndata: "u8);
        if (_writer is null) _writer = new Utf8JsonWriter(output, ChatToResponses.WriterOptions);
        else _writer.Reset(output);
        _writer.WriteStartObject();
        _writer.WriteString("type", type);
        _writer.WriteNumber("sequence_number", SequenceNumber++);
        body?.Invoke(_writer);
        _writer.WriteEndObject();
        _writer.Flush();
        output.Write("\n\n"u8);
    }

    /// <summary><c>response.created</c>, <c>response.in_progress</c>, <c>response.completed</c>, ...: the response object as written by <see cref="ChatToResponses.Response"/>.</summary>
    public void Response(IBufferWriter<byte> output, string type, byte[] response) =>
        Write(output, type, w =>
        {
            w.WritePropertyName("response");
            w.WriteRawValue(response, skipInputValidation: true);
        });

    public void OutputItemAdded(IBufferWriter<byte> output, int outputIndex, JsonNode item) => Item(output, "response.output_item.added", outputIndex, item);

    public void OutputItemDone(IBufferWriter<byte> output, int outputIndex, JsonNode item) => Item(output, "response.output_item.done", outputIndex, item);

    /// <summary>The <c>error</c> event (openai-node <c>ResponseErrorEvent</c>): a failure that is not a response's own.</summary>
    public void Error(IBufferWriter<byte> output, string? code, string message, string? param) =>
        Write(output, "error", w =>
        {
            if (code is null) w.WriteNull("code");
            else w.WriteString("code", code);
            w.WriteString("message", message);
            if (param is null) w.WriteNull("param");
            else w.WriteString("param", param);
        });

    private void Item(IBufferWriter<byte> output, string type, int outputIndex, JsonNode item) =>
        Write(output, type, w =>
        {
            w.WriteNumber("output_index", outputIndex);
            w.WritePropertyName("item");
            item.WriteTo(w);
        });
}
