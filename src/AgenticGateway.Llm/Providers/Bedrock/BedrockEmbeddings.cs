using AgenticGateway.Providers.Translation;
using System.Buffers;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.OpenAi;

namespace AgenticGateway.Providers.Bedrock;

/// <summary>
/// OpenAI embeddings over Bedrock InvokeModel, for the two embedding families with a fixed body shape: Amazon Titan
/// text embeddings (<c>{"inputText","dimensions","normalize"}</c> → <c>{"embedding","inputTextTokenCount"}</c>, one
/// text per call) and Cohere Embed (<c>{"texts","input_type"}</c> → <c>{"embeddings","id","texts"}</c>).
/// </summary>
internal static class BedrockEmbeddings
{
    public static bool IsTitan(string model) => model.Contains("amazon.titan-embed", StringComparison.Ordinal);
    public static bool IsCohere(string model) => model.Contains("cohere.embed", StringComparison.Ordinal);

    public static (byte[]? Body, ApiError? Error) Write(ReadOnlySpan<byte> openAiBody, string model)
    {
        JsonObject request;
        try { request = JsonNode.Parse(openAiBody) as JsonObject ?? throw new JsonException("the body is not a JSON object"); }
        catch (JsonException ex) { return (null, ApiError.BadRequest($"We could not parse the JSON body of your request. ({ex.Message})")); }

        var titan = IsTitan(model);
        if (!titan && !IsCohere(model))
            return (null, ApiError.BadRequest($"'{model}' is not a Bedrock embedding model this gateway translates (amazon.titan-embed-*, cohere.embed-*)", "model"));

        List<string> texts;
        switch (request["input"])
        {
            case JsonValue s when s.GetValueKind() == JsonValueKind.String:
                texts = [s.GetValue<string>()];
                break;
            case JsonArray a when a.Count > 0 && a.All(x => x?.GetValueKind() == JsonValueKind.String):
                texts = a.Select(x => x!.GetValue<string>()).ToList();
                break;
            default:
                return (null, ApiError.BadRequest("Bedrock embeddings take text: 'input' must be a string or a non-empty array of strings (token arrays are not accepted)", "input"));
        }
        var format = request["encoding_format"]?.GetValue<string>() ?? "float";
        if (format is not ("float" or "base64")) return (null, ApiError.BadRequest($"unknown encoding_format '{format}'", "encoding_format"));
        var dimensions = request["dimensions"];

        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            if (titan)
            {
                if (texts.Count != 1)
                    return (null, ApiError.BadRequest("Amazon Titan embeddings take one text per request: send one input at a time", "input"));
                w.WriteString("inputText", texts[0]);
                var v2 = model.Contains("titan-embed-text-v2", StringComparison.Ordinal);
                var image = model.Contains("titan-embed-image", StringComparison.Ordinal);
                if (dimensions is not null)
                {
                    if (!v2 && !image)
                        return (null, ApiError.BadRequest($"{model} has a fixed size: 'dimensions' is not supported", "dimensions"));
                    // Text v2 takes "dimensions"; the multimodal model takes embeddingConfig.outputEmbeddingLength.
                    if (image) w.WriteStartObject("embeddingConfig");
                    w.WritePropertyName(image ? "outputEmbeddingLength" : "dimensions");
                    dimensions.WriteTo(w);
                    if (image) w.WriteEndObject();
                }
                // Text v2 normalises by default; OpenAI's embeddings are normalised too, so this is said once, explicitly.
                if (v2) w.WriteBoolean("normalize", true);
            }
            else
            {
                if (dimensions is not null)
                    return (null, ApiError.BadRequest("Cohere Embed v3 on Bedrock has a fixed size: 'dimensions' is not supported", "dimensions"));
                w.WriteStartArray("texts");
                foreach (var text in texts) w.WriteStringValue(text);
                w.WriteEndArray();
                // Cohere requires input_type; OpenAI has none, so documents are assumed unless the client says otherwise.
                w.WriteString("input_type", request["input_type"]?.GetValue<string>() ?? "search_document");
                if (request["truncate"]?.GetValue<string>() is { } truncate) w.WriteString("truncate", truncate);
            }
            w.WriteEndObject();
        }
        return (buffer.WrittenSpan.ToArray(), null);
    }

    public static byte[] Translate(ReadOnlyMemory<byte> body, string model, bool base64, out Usage? usage)
    {
        using (var document = ProviderJson.Parse(body, "InvokeModel embeddings response is not JSON"))
        {
            var root = document.RootElement;
            var vectors = new List<JsonElement>();
            usage = null;
            if (root.TryGetProperty("embedding", out var single) && single.ValueKind == JsonValueKind.Array)
            {
                vectors.Add(single);
                if (root.TryGetProperty("inputTextTokenCount", out var count) && count.ValueKind == JsonValueKind.Number) usage = new Usage(count.GetInt64(), 0);
            }
            else if (root.TryGetProperty("embeddings", out var many) && many.ValueKind == JsonValueKind.Array)
            {
                // Cohere's body carries no token count (Bedrock reports it in the X-Amzn-Bedrock-Input-Token-Count header).
                vectors.AddRange(many.EnumerateArray());
            }
            else throw new InvalidDataException("InvokeModel embeddings response has neither 'embedding' nor 'embeddings'");

            return EmbeddingVectors.WriteList(vectors, base64, float32: false, model, usage?.PromptTokens ?? 0);
        }
    }

}
