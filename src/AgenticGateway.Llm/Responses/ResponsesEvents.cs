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

    /// <summary>
    /// Streams an item that is already whole (from a non-stream chat turn of the hosted-tool loop) the way a model's
    /// item streams: <c>output_item.added</c> with the item in progress, its parts each added, sent as one delta and
    /// done (message text and refusals, reasoning summaries, function arguments), and <c>output_item.done</c>. Other
    /// item kinds are added and done.
    /// </summary>
    public void CompletedItem(IBufferWriter<byte> output, int outputIndex, JsonObject item)
    {
        var id = item["id"]?.GetValue<string>() ?? "";
        var type = item["type"]?.GetValue<string>();
        var added = (JsonObject)item.DeepClone();
        if (added.ContainsKey("status")) added["status"] = "in_progress";
        switch (type)
        {
            case "message":
                added["content"] = new JsonArray();
                OutputItemAdded(output, outputIndex, added);
                if (item["content"] is JsonArray parts)
                    for (var i = 0; i < parts.Count; i++)
                        if (parts[i] is JsonObject part) MessagePart(output, id, outputIndex, i, part);
                break;
            case "reasoning":
                added["summary"] = new JsonArray();
                added.Remove("encrypted_content");
                OutputItemAdded(output, outputIndex, added);
                if (item["summary"] is JsonArray summary)
                    for (var i = 0; i < summary.Count; i++)
                        if (summary[i]?["text"] is JsonValue text) SummaryPart(output, id, outputIndex, i, text.GetValue<string>());
                break;
            case "function_call":
                added["arguments"] = "";
                OutputItemAdded(output, outputIndex, added);
                var arguments = item["arguments"]?.GetValue<string>() ?? "";
                if (arguments.Length > 0) Write(output, "response.function_call_arguments.delta", w => { ItemRef(w, id, outputIndex); w.WriteString("delta", arguments); });
                Write(output, "response.function_call_arguments.done", w =>
                {
                    ItemRef(w, id, outputIndex);
                    w.WriteString("arguments", arguments);
                    w.WriteString("name", item["name"]?.GetValue<string>() ?? "");
                });
                break;
            default:
                OutputItemAdded(output, outputIndex, added);
                break;
        }
        OutputItemDone(output, outputIndex, item);
    }

    private void MessagePart(IBufferWriter<byte> output, string id, int outputIndex, int index, JsonObject part)
    {
        var refusal = part["type"]?.GetValue<string>() == "refusal";
        var text = (refusal ? part["refusal"] : part["text"])?.GetValue<string>() ?? "";
        var empty = (JsonObject)part.DeepClone();
        empty[refusal ? "refusal" : "text"] = "";
        if (!refusal) empty["logprobs"] = new JsonArray();
        Write(output, "response.content_part.added", w => { ItemRef(w, id, outputIndex); w.WriteNumber("content_index", index); w.WritePropertyName("part"); empty.WriteTo(w); });
        if (refusal)
        {
            Write(output, "response.refusal.delta", w => { ItemRef(w, id, outputIndex); w.WriteNumber("content_index", index); w.WriteString("delta", text); });
            Write(output, "response.refusal.done", w => { ItemRef(w, id, outputIndex); w.WriteNumber("content_index", index); w.WriteString("refusal", text); });
        }
        else
        {
            var logprobs = part["logprobs"] as JsonArray ?? [];
            Write(output, "response.output_text.delta", w =>
            {
                ItemRef(w, id, outputIndex);
                w.WriteNumber("content_index", index);
                w.WriteString("delta", text);
                w.WriteStartArray("logprobs");
                w.WriteEndArray();
            });
            Write(output, "response.output_text.done", w =>
            {
                ItemRef(w, id, outputIndex);
                w.WriteNumber("content_index", index);
                w.WriteString("text", text);
                w.WritePropertyName("logprobs");
                logprobs.WriteTo(w);
            });
        }
        Write(output, "response.content_part.done", w => { ItemRef(w, id, outputIndex); w.WriteNumber("content_index", index); w.WritePropertyName("part"); part.WriteTo(w); });
    }

    private void SummaryPart(IBufferWriter<byte> output, string id, int outputIndex, int index, string text)
    {
        void Part(Utf8JsonWriter w, string value)
        {
            w.WriteStartObject("part");
            w.WriteString("type", "summary_text");
            w.WriteString("text", value);
            w.WriteEndObject();
        }
        Write(output, "response.reasoning_summary_part.added", w => { ItemRef(w, id, outputIndex); w.WriteNumber("summary_index", index); Part(w, ""); });
        Write(output, "response.reasoning_summary_text.delta", w => { ItemRef(w, id, outputIndex); w.WriteNumber("summary_index", index); w.WriteString("delta", text); });
        Write(output, "response.reasoning_summary_text.done", w => { ItemRef(w, id, outputIndex); w.WriteNumber("summary_index", index); w.WriteString("text", text); });
        Write(output, "response.reasoning_summary_part.done", w => { ItemRef(w, id, outputIndex); w.WriteNumber("summary_index", index); Part(w, text); });
    }

    private static void ItemRef(Utf8JsonWriter w, string id, int outputIndex)
    {
        w.WriteString("item_id", id);
        w.WriteNumber("output_index", outputIndex);
    }

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
