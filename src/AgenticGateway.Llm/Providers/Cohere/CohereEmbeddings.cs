using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.OpenAi;
using AgenticGateway.Providers.Translation;

namespace AgenticGateway.Providers.Cohere;

/// <summary>
/// OpenAI embeddings over Cohere's v2 embed API (POST /v2/embed, as LiteLLM's CohereEmbeddingConfig calls it):
/// <c>texts</c>, <c>input_type</c> (the client's own <c>input_type</c>, else LiteLLM's default <c>search_document</c>),
/// <c>dimensions</c> as <c>output_dimension</c>, and <c>truncate</c> when given. Float vectors are always asked for
/// (<c>embedding_types: ["float"]</c>) and written as base64 by the gateway when the client wants base64, so the
/// answer is OpenAI's encoding whatever Cohere's own base64 type holds. Usage is <c>meta.billed_units.input_tokens</c>.
/// </summary>
internal static class CohereEmbeddings
{
    public static byte[]? Write(JsonObject body, string model, out ApiError? error)
    {
        error = null;
        var texts = new List<string>();
        switch (body["input"])
        {
            case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                texts.Add(v.GetValue<string>());
                break;
            case JsonArray array when array.Count > 0 && array.All(a => a is JsonValue av && av.GetValueKind() == JsonValueKind.String):
                texts.AddRange(array.Select(a => a!.GetValue<string>()));
                break;
            case JsonArray { Count: > 0 }:
                error = ApiError.BadRequest("Cohere embeddings take text input only (token arrays are not supported).", "input");
                return null;
            default:
                error = ApiError.BadRequest("'input' must be a non-empty string or array of strings.", "input");
                return null;
        }
        var inputType = body["input_type"] is JsonValue it && it.GetValueKind() == JsonValueKind.String ? it.GetValue<string>() : "search_document";
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("model", model);
            w.WriteStartArray("texts");
            foreach (var t in texts) w.WriteStringValue(t);
            w.WriteEndArray();
            w.WriteString("input_type", inputType);
            w.WriteStartArray("embedding_types");
            w.WriteStringValue("float");
            w.WriteEndArray();
            if (body["dimensions"] is JsonValue d && d.TryGetValue<int>(out var dims)) w.WriteNumber("output_dimension", dims);
            if (body["truncate"] is JsonValue tr && tr.GetValueKind() == JsonValueKind.String) w.WriteString("truncate", tr.GetValue<string>());
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    public static byte[] Translate(ReadOnlyMemory<byte> body, string model, bool base64, out Usage? usage)
    {
        using var doc = ProviderJson.Parse(body, "Cohere returned an embeddings body that is not JSON");
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("embeddings", out var embeddings)) throw new InvalidDataException("Cohere's embed answer has no embeddings.");
        // embed v2 answers embeddings by type ({"float":[[...]]}); the legacy embeddings_floats shape is a bare list.
        var floats = embeddings.ValueKind == JsonValueKind.Object && embeddings.TryGetProperty("float", out var f) ? f
            : embeddings.ValueKind == JsonValueKind.Array ? embeddings
            : throw new InvalidDataException("Cohere's embed answer has no float embeddings.");
        if (floats.ValueKind != JsonValueKind.Array) throw new InvalidDataException("Cohere's float embeddings are not a list.");
        var vectors = new List<JsonElement>();
        foreach (var vector in floats.EnumerateArray())
        {
            if (vector.ValueKind != JsonValueKind.Array) throw new InvalidDataException("A Cohere embedding is not a list of numbers.");
            vectors.Add(vector);
        }
        long tokens = 0;
        if (root.TryGetProperty("meta", out var meta) && meta.ValueKind == JsonValueKind.Object
            && meta.TryGetProperty("billed_units", out var billed) && billed.ValueKind == JsonValueKind.Object
            && billed.TryGetProperty("input_tokens", out var input) && input.ValueKind == JsonValueKind.Number)
            tokens = (long)input.GetDouble();
        usage = new Usage(tokens, 0);
        return EmbeddingVectors.WriteList(vectors, base64, float32: false, model, tokens);
    }
}
