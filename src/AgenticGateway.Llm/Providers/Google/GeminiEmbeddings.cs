using AgenticGateway.Providers.Translation;
using System.Buffers;
using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.OpenAi;

namespace AgenticGateway.Providers.Google;

/// <summary>
/// OpenAI embeddings over Google's APIs. AI Studio: <c>embedContent</c> for one input, <c>batchEmbedContents</c> for a
/// list; Vertex AI: the publisher model's <c>predict</c> with one instance per input. <c>dimensions</c> becomes
/// <c>outputDimensionality</c>. Only Vertex reports token counts (predictions[].embeddings.statistics.token_count).
/// </summary>
internal static class GeminiEmbeddings
{
    /// <summary>What a request asked for, as the request builder read it.</summary>
    public readonly record struct Parsed(List<string> Inputs, bool Single, int? Dimensions, bool Base64);

    public static Parsed? Parse(JsonObject body, out ApiError? error)
    {
        error = null;
        var inputs = new List<string>();
        var single = false;
        switch (body["input"])
        {
            case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                inputs.Add(v.GetValue<string>());
                single = true;
                break;
            case JsonArray array when array.Count > 0 && array.All(a => a is JsonValue av && av.GetValueKind() == JsonValueKind.String):
                inputs.AddRange(array.Select(a => a!.GetValue<string>()));
                break;
            case JsonArray array when array.Count > 0:
                error = ApiError.BadRequest("Gemini embeddings take text input only (token arrays are not supported).", "input");
                return null;
            default:
                error = ApiError.BadRequest("'input' must be a non-empty string or array of strings.", "input");
                return null;
        }
        int? dimensions = body["dimensions"] is JsonValue d && d.TryGetValue<int>(out var dims) ? dims : null;
        var format = GeminiRequestWriter.Str(body["encoding_format"]) ?? "float";
        if (format is not ("float" or "base64"))
        {
            error = ApiError.BadRequest($"encoding_format '{format}' is not one of float, base64.", "encoding_format");
            return null;
        }
        return new Parsed(inputs, single, dimensions, format == "base64");
    }

    /// <summary>The AI Studio body: an EmbedContentRequest, or a BatchEmbedContentsRequest for a list.</summary>
    public static byte[] WriteStudio(Parsed request, string model)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            if (request.Single) WriteStudioRequest(w, request.Inputs[0], model, request.Dimensions);
            else
            {
                w.WriteStartArray("requests");
                foreach (var input in request.Inputs)
                {
                    w.WriteStartObject();
                    WriteStudioRequest(w, input, model, request.Dimensions);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteStudioRequest(Utf8JsonWriter w, string input, string model, int? dimensions)
    {
        w.WriteString("model", "models/" + model);
        w.WriteStartObject("content");
        w.WriteStartArray("parts");
        w.WriteStartObject();
        w.WriteString("text", input);
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteEndObject();
        if (dimensions is { } d) w.WriteNumber("outputDimensionality", d);
    }

    /// <summary>The Vertex AI predict body: <c>{"instances":[{"content":...}],"parameters":{"outputDimensionality":N}}</c>.</summary>
    public static byte[] WriteVertex(Parsed request)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteStartArray("instances");
            foreach (var input in request.Inputs)
            {
                w.WriteStartObject();
                w.WriteString("content", input);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            if (request.Dimensions is { } d)
            {
                w.WriteStartObject("parameters");
                w.WriteNumber("outputDimensionality", d);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Reads any of the three response shapes into an OpenAI embeddings list.</summary>
    public static byte[] Translate(ReadOnlyMemory<byte> body, string model, bool base64, out Usage? usage)
    {
        using (var doc = ProviderJson.Parse(body, "Google returned an embeddings body that is not JSON"))
        {
            var root = doc.RootElement;
            var vectors = new List<JsonElement>();
            long tokens = 0;
            var counted = false;
            if (root.TryGetProperty("embedding", out var one)) vectors.Add(Values(one));
            else if (root.TryGetProperty("embeddings", out var many) && many.ValueKind == JsonValueKind.Array)
                foreach (var e in many.EnumerateArray()) vectors.Add(Values(e));
            else if (root.TryGetProperty("predictions", out var predictions) && predictions.ValueKind == JsonValueKind.Array)
            {
                foreach (var p in predictions.EnumerateArray())
                {
                    var e = p.TryGetProperty("embeddings", out var pe) ? pe : throw new InvalidDataException("Vertex prediction without embeddings.");
                    vectors.Add(Values(e));
                    if (e.TryGetProperty("statistics", out var stats) && stats.TryGetProperty("token_count", out var tc) && tc.ValueKind == JsonValueKind.Number)
                    {
                        tokens += (long)tc.GetDouble();
                        counted = true;
                    }
                }
            }
            else throw new InvalidDataException("Google returned an embeddings body with neither embedding, embeddings nor predictions.");

            usage = counted ? new Usage(tokens, 0) : null;
            return EmbeddingVectors.WriteList(vectors, base64, float32: true, model, tokens);
        }
    }

    private static JsonElement Values(JsonElement embedding) =>
        embedding.ValueKind == JsonValueKind.Object && embedding.TryGetProperty("values", out var values) && values.ValueKind == JsonValueKind.Array
            ? values : throw new InvalidDataException("Google embedding without values.");

    /// <summary>OpenAI's base64 encoding: the vector's float32 values, little-endian, base64 encoded.</summary>
}
