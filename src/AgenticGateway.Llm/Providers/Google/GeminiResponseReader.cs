using System.Buffers;
using System.Text;
using System.Text.Json;
using AgenticGateway.OpenAi;
using AgenticGateway.Providers.Translation;

namespace AgenticGateway.Providers.Google;

/// <summary>Converts a whole <c>GenerateContentResponse</c> into an OpenAI <c>chat.completion</c>.</summary>
internal static class GeminiResponseReader
{
    public static byte[] Translate(ReadOnlyMemory<byte> providerBody, ProviderCall call, long created, out Usage? usage)
    {
        using (var doc = ProviderJson.Parse(providerBody, "Gemini returned a body that is not JSON"))
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException("Gemini returned a body that is not a GenerateContentResponse object.");
            usage = root.TryGetProperty("usageMetadata", out var meta) && meta.ValueKind == JsonValueKind.Object ? GeminiCandidate.ReadUsage(meta) : null;
            var hasCandidates = root.TryGetProperty("candidates", out var candidates) && candidates.ValueKind == JsonValueKind.Array && candidates.GetArrayLength() > 0;
            var blocked = GeminiCandidate.BlockedPrompt(root);
            if (!hasCandidates && blocked is null) throw new InvalidDataException("Gemini returned neither candidates nor a promptFeedback block reason.");

            var buffer = new ArrayBufferWriter<byte>(1024);
            using (var w = new Utf8JsonWriter(buffer, GeminiJson.WriterOptions))
            {
                w.WriteStartObject();
                w.WriteString("id", "chatcmpl-" + (GeminiCandidate.Str(root, "responseId") ?? call.RequestId));
                w.WriteString("object", "chat.completion");
                w.WriteNumber("created", created);
                w.WriteString("model", GeminiCandidate.Str(root, "modelVersion") ?? call.UpstreamModel);
                w.WriteStartArray("choices");
                if (hasCandidates)
                {
                    var position = 0;
                    foreach (var candidate in candidates.EnumerateArray()) WriteChoice(w, candidate, position++);
                }
                else
                {
                    // A blocked prompt is an answer, not a server error: OpenAI's shape for it is a content_filter stop.
                    w.WriteStartObject();
                    w.WriteNumber("index", 0);
                    w.WriteStartObject("message");
                    w.WriteString("role", "assistant");
                    w.WriteNull("content");
                    w.WriteString("refusal", blocked);
                    w.WriteEndObject();
                    w.WriteString("finish_reason", "content_filter");
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                GeminiCandidate.WriteUsage(w, usage ?? default);
                w.WriteEndObject();
            }
            return buffer.WrittenSpan.ToArray();
        }
    }

    private static void WriteChoice(Utf8JsonWriter w, JsonElement candidate, int position)
    {
        var text = new StringBuilder();
        var thoughts = new StringBuilder();
        var calls = new List<GeminiCall>();
        foreach (var part in GeminiCandidate.Parts(candidate))
        {
            if (part.TryGetProperty("functionCall", out var fc) && fc.ValueKind == JsonValueKind.Object) calls.Add(GeminiCandidate.ReadCall(part, fc, calls.Count));
            else if (GeminiCandidate.Str(part, "text") is { } t) (GeminiCandidate.IsThought(part) ? thoughts : text).Append(t);
        }
        var reason = GeminiCandidate.Str(candidate, "finishReason") ?? "STOP";
        var finish = GeminiCandidate.MapFinish(reason, calls.Count > 0)
            ?? throw new InvalidDataException(GeminiCandidate.Malformed(reason, GeminiCandidate.Str(candidate, "finishMessage")).Message);

        w.WriteStartObject();
        w.WriteNumber("index", candidate.TryGetProperty("index", out var i) && i.ValueKind == JsonValueKind.Number ? i.GetInt32() : position);
        w.WriteStartObject("message");
        w.WriteString("role", "assistant");
        if (text.Length > 0 || calls.Count == 0 && finish != "content_filter") w.WriteString("content", text.ToString());
        else w.WriteNull("content");
        if (thoughts.Length > 0) w.WriteString("reasoning_content", thoughts.ToString());
        if (calls.Count > 0)
        {
            w.WriteStartArray("tool_calls");
            foreach (var call in calls)
            {
                w.WriteStartObject();
                w.WriteString("id", call.Id);
                w.WriteString("type", "function");
                w.WriteStartObject("function");
                w.WriteString("name", call.Name);
                w.WriteString("arguments", call.Arguments);
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        w.WriteEndObject();
        w.WriteString("finish_reason", finish);
        w.WriteEndObject();
    }
}

/// <summary>JSON writer settings for OpenAI output: non-ASCII text kept readable, as OpenAI sends it.</summary>
internal static class GeminiJson
{
    public static readonly JsonWriterOptions WriterOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
