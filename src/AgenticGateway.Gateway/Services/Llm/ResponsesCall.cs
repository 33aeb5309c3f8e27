using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.Responses;

namespace AgenticGateway.Services.Llm;

/// <summary>
/// One Responses API call as the LLM service carries it: the validated request, the id and creation time the answer
/// gets, the earlier turns of its conversation (<c>previous_response_id</c>, oldest first), the function tools the
/// gateway offers for the tools it runs itself, and the response object the client got, kept for the store.
/// </summary>
internal sealed class ResponsesCall(ResponsesCreate request, string id, long createdAt, IReadOnlyList<JsonNode> history)
{
    public ResponsesCreate Request { get; } = request;
    public string Id { get; } = id;
    public long CreatedAt { get; } = createdAt;
    public IReadOnlyList<JsonNode> History { get; } = history;
    /// <summary>Chat function tools standing in for the hosted tools the gateway runs (code_interpreter, mcp).</summary>
    public IReadOnlyList<JsonObject> ExtraTools { get; init; } = [];
    /// <summary>The whole response object (a JSON answer, or the last one of a stream) once known.</summary>
    public byte[]? FinalResponse { get; set; }
    /// <summary>While a stream runs: reads its translator's response object once the stream has completed.</summary>
    public Func<byte[]?>? StreamFinal { get; set; }

    /// <summary>While a stream runs: the sequence number its next event gets (for an error event the gateway adds).</summary>
    public Func<int>? NextSequence { get; set; }

    /// <summary>The response object the client got, when complete.</summary>
    public byte[]? Final => FinalResponse ?? StreamFinal?.Invoke();

    /// <summary>
    /// A native deployment's answer (a response object, or a stream's events) with the client's
    /// <c>previous_response_id</c> put back: the deployment never saw it, since the gateway sent the conversation in
    /// <c>input</c> instead. A byte replacement is exact here: <c>"previous_response_id":null</c> with bare quotes cannot
    /// occur inside a JSON string (its quotes would be escaped there).
    /// </summary>
    public byte[] Restore(ReadOnlySpan<byte> json)
    {
        if (Request.PreviousResponseId is not { } previous) return json.ToArray();
        var value = Routing.Deployment.QuoteJson(previous);
        var output = new System.Buffers.ArrayBufferWriter<byte>(json.Length + 64);
        while (true)
        {
            var (at, length) = NullPrevious(json);
            if (at < 0)
            {
                output.Write(json);
                return output.WrittenSpan.ToArray();
            }
            output.Write(json[..at]);
            output.Write("\"previous_response_id\":"u8);
            output.Write(value);
            json = json[(at + length)..];
        }
    }

    private static (int At, int Length) NullPrevious(ReadOnlySpan<byte> json)
    {
        var compact = json.IndexOf("\"previous_response_id\":null"u8);
        var spaced = json.IndexOf("\"previous_response_id\": null"u8);
        if (compact < 0) return (spaced, 28);
        return spaced < 0 || compact < spaced ? (compact, 27) : (spaced, 28);
    }

    /// <summary>
    /// The body for a deployment that serves the Responses API itself: the client's own body (so fields newer than
    /// this gateway still reach it) with the upstream model, and the conversation the gateway stores written out in
    /// <c>input</c> instead of a <c>previous_response_id</c> the provider never saw.
    /// </summary>
    public byte[] NativeBody(ReadOnlySpan<byte> clientBody, string upstreamModel, bool stream)
    {
        var root = JsonNode.Parse(clientBody)!.AsObject();
        root["model"] = upstreamModel;
        // A background request runs here as one whole answer, whatever the client's stream flag.
        root["stream"] = stream;
        root.Remove("previous_response_id");
        // The gateway runs background requests itself and polls nothing upstream.
        root.Remove("background");
        if (History.Count > 0 || root["input"] is JsonValue)
        {
            var input = new JsonArray();
            foreach (var item in History)
            {
                // A reasoning item without its encrypted content cannot be replayed to a provider that did not store it.
                if (item is JsonObject o && (string?)o["type"] == "reasoning" && o["encrypted_content"] is null) continue;
                input.Add(item.DeepClone());
            }
            foreach (var item in Request.Input) input.Add(item!.DeepClone());
            root["input"] = input;
        }
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(clientBody.Length + 256);
        using (var w = new Utf8JsonWriter(buffer)) root.WriteTo(w);
        return buffer.WrittenSpan.ToArray();
    }
}
