using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.OpenAi;
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
    /// <summary>Stored items the input's <c>item_reference</c>s name (outside the history), by id; null when none.</summary>
    public IReadOnlyDictionary<string, JsonObject>? ReferencedItems { get; init; }
    /// <summary>Chat function tools standing in for the hosted tools the gateway runs (code_interpreter, mcp).</summary>
    public IReadOnlyList<JsonObject> ExtraTools { get; init; } = [];
    /// <summary>The whole response object (a JSON answer, or the last one of a stream) once known.</summary>
    public byte[]? FinalResponse { get; set; }
    /// <summary>While a stream runs: reads its translator's response object once the stream has completed.</summary>
    public Func<byte[]?>? StreamFinal { get; set; }

    /// <summary>While a translated stream runs: its closing <c>response.failed</c> event for an error the gateway met.</summary>
    public Func<ApiError, byte[]>? StreamFailed { get; set; }

    /// <summary>The response object the client got, when complete.</summary>
    public byte[]? Final => FinalResponse ?? StreamFinal?.Invoke();

    /// <summary>
    /// A native deployment's answer (a response object, or a stream's events) with what the gateway changed in the
    /// request put back: the client's <c>previous_response_id</c> (the deployment got the conversation in <c>input</c>
    /// instead), <c>store: true</c> (the deployment was asked to keep nothing: the gateway keeps the conversation,
    /// so deleting it here or its expiry removes it everywhere) and <c>background: true</c> (the gateway ran it so). A byte replacement is exact: a member such as
    /// <c>"store":false</c> with bare quotes cannot occur inside a JSON string, whose quotes are escaped.
    /// </summary>
    public byte[] Restore(ReadOnlySpan<byte> json)
    {
        var output = new ArrayBufferWriter<byte>(json.Length + 64);
        RestoreTo(json, output);
        return output.WrittenSpan.ToArray();
    }

    /// <summary><see cref="Restore"/> written straight to <paramref name="output"/> (a stream's events: no copy of their own).</summary>
    public void RestoreTo(ReadOnlySpan<byte> json, IBufferWriter<byte> output)
    {
        while (NeedsRestore)
        {
            var (at, length, replacement) = NextChanged(json);
            if (at < 0) break;
            output.Write(json[..at]);
            output.Write(replacement);
            json = json[(at + length)..];
        }
        output.Write(json);
    }

    /// <summary>Whether the gateway changed anything upstream that an answer must get back.</summary>
    public bool NeedsRestore => Request.PreviousResponseId is not null || Request.Store || Request.Background;

    /// <summary>The first member the gateway changed upstream, as (offset, length, the client's member), or offset -1.</summary>
    private (int At, int Length, byte[] Replacement) NextChanged(ReadOnlySpan<byte> json)
    {
        (int, int, byte[]) best = (-1, 0, []);
        if (Request.PreviousResponseId is { } previous)
        {
            var member = _previousMember ??= [.. "\"previous_response_id\":"u8, .. Routing.Deployment.QuoteJson(previous)];
            Find("\"previous_response_id\":null"u8, member, ref best, json);
            Find("\"previous_response_id\": null"u8, member, ref best, json);
        }
        if (Request.Store)
        {
            Find("\"store\":false"u8, StoreTrue, ref best, json);
            Find("\"store\": false"u8, StoreTrue, ref best, json);
        }
        if (Request.Background)
        {
            Find("\"background\":false"u8, BackgroundTrue, ref best, json);
            Find("\"background\": false"u8, BackgroundTrue, ref best, json);
        }
        return best;

        static void Find(ReadOnlySpan<byte> pattern, byte[] replacement, ref (int At, int Length, byte[] Replacement) best, ReadOnlySpan<byte> json)
        {
            var at = json.IndexOf(pattern);
            if (at >= 0 && (best.At < 0 || at < best.At)) best = (at, pattern.Length, replacement);
        }
    }

    private static readonly byte[] StoreTrue = "\"store\":true"u8.ToArray();
    private static readonly byte[] BackgroundTrue = "\"background\":true"u8.ToArray();
    private byte[]? _previousMember;

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
        // The gateway keeps the conversation (and deletes it when asked, or when it expires); the provider keeps none.
        root["store"] = false;
        if (History.Count > 0 || root["input"] is JsonValue || ReferencedItems is { Count: > 0 })
        {
            var input = new JsonArray();
            foreach (var item in History)
            {
                // A reasoning item without its encrypted content cannot be replayed to a provider that did not store it.
                if (item is JsonObject o && (string?)o["type"] == "reasoning" && o["encrypted_content"] is null) continue;
                input.Add(item.DeepClone());
            }
            foreach (var item in Request.Input) input.Add(Resolved(item!).DeepClone());
            root["input"] = input;
        }
        var buffer = new ArrayBufferWriter<byte>(clientBody.Length + 256);
        using (var w = new Utf8JsonWriter(buffer)) root.WriteTo(w);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>An item_reference the gateway stored the item for, as that item (one it does not know goes as it came).</summary>
    private JsonNode Resolved(JsonNode item) =>
        item is JsonObject o && (string?)o["type"] == "item_reference" && (string?)o["id"] is { } id && ReferencedItems?.GetValueOrDefault(id) is { } stored ? stored : item;
}
