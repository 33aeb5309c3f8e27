using System.Buffers;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.Configuration;
using AgenticGateway.OpenAi;
using AgenticGateway.Providers.Cohere;
using AgenticGateway.Providers.Translation;

namespace AgenticGateway.Providers.Rerank;

/// <summary>The rerank APIs LiteLLM's <c>/rerank</c> reaches (its CohereRerankConfig, JinaAIRerankConfig, HostedVLLMRerankConfig).</summary>
internal enum RerankDialect
{
    /// <summary>Cohere: <c>{root}/v2/rerank</c>; <c>/v1/rerank</c> when the request needs v1 (object documents, rank_fields, max_chunks_per_doc) or the api_base says so.</summary>
    Cohere,
    /// <summary>Jina AI: <c>{scheme://host}/v1/rerank</c> (LiteLLM replaces the api_base's path), <c>usage.total_tokens</c>.</summary>
    Jina,
    /// <summary>vLLM's server: <c>{api_base}/rerank</c> (an api_base ending in /v1/rerank becomes .../rerank), <c>usage.total_tokens</c>.</summary>
    Vllm,
}

/// <summary>
/// LiteLLM's rerank API over one provider. The client's Cohere-shaped request (<c>query</c>, <c>documents</c> as strings
/// or objects, <c>top_n</c>, <c>return_documents</c>, <c>rank_fields</c>, <c>max_chunks_per_doc</c>,
/// <c>max_tokens_per_doc</c>) goes out in the provider's shape; the answer comes back in LiteLLM's RerankResponse
/// shape: <c>id</c>, <c>results</c> (<c>index</c>, <c>relevance_score</c>, and <c>document</c> only when
/// <c>return_documents</c> is true, filled from the request when the provider leaves it out) and <c>meta</c>
/// (Cohere's own; for token-billed providers <c>billed_units.total_tokens</c> and <c>tokens.input_tokens</c>).
/// Cost: Cohere's search units at <c>input_cost_per_query</c>, other providers' tokens at <c>input_cost_per_token</c>.
/// </summary>
internal sealed class RerankTranslator(RerankDialect dialect) : IRerankTranslator
{
    public RerankDialect Dialect => dialect;

    public ValueTask<TranslatedRequest> BuildRerankRequestAsync(ReadOnlyMemory<byte> clientBody, ProviderCall call, CancellationToken cancellationToken)
    {
        if (Parse(clientBody) is not { } body) return Fail(ApiError.BadRequest("The request body must be a JSON object."));
        var documents = body["documents"] as JsonArray ?? [];
        var objects = documents.Any(d => d is JsonObject);
        var model = dialect == RerankDialect.Cohere ? CohereUrls.Model(call.UpstreamModel) : call.UpstreamModel;
        string url;
        var buffer = new ArrayBufferWriter<byte>(clientBody.Length + 64);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("model", model);
            w.WritePropertyName("query");
            body["query"]!.WriteTo(w);
            switch (dialect)
            {
                case RerankDialect.Cohere when UsesCohereV1(call.Deployment, body, objects):
                    url = CohereUrls.Root(call.Deployment) + "/v1/rerank";
                    w.WritePropertyName("documents");
                    documents.WriteTo(w);
                    CopyAll(w, body, "top_n", "rank_fields", "return_documents", "max_chunks_per_doc");
                    break;
                case RerankDialect.Cohere:
                    // Cohere's v2 rerank takes documents as strings and returns none (the gateway adds them back).
                    url = CohereUrls.Root(call.Deployment) + "/v2/rerank";
                    w.WritePropertyName("documents");
                    documents.WriteTo(w);
                    CopyAll(w, body, "top_n", "max_tokens_per_doc");
                    break;
                case RerankDialect.Jina:
                    var jina = call.Deployment.ApiBase;
                    url = jina.GetLeftPart(UriPartial.Authority) + "/v1/rerank";
                    w.WritePropertyName("documents");
                    documents.WriteTo(w);
                    CopyAll(w, body, "top_n");
                    // Jina returns documents unless told not to; ask for what the client asked for.
                    w.WriteBoolean("return_documents", ReturnDocuments(body));
                    break;
                default:
                    if (Set(body, "max_chunks_per_doc"))
                        return Fail(ApiError.BadRequest("vLLM's rerank does not support 'max_chunks_per_doc'.", "max_chunks_per_doc"));
                    url = VllmUrl(call.Deployment);
                    w.WritePropertyName("documents");
                    documents.WriteTo(w);
                    CopyAll(w, body, "top_n", "return_documents", "max_tokens_per_doc", "instruction", "truncate_prompt_tokens", "truncation_side", "max_tokens_per_query");
                    break;
            }
            w.WriteEndObject();
        }
        var request = new HttpRequestMessage(HttpMethod.Post, url)
        {
            Content = new ByteArrayContent(buffer.WrittenSpan.ToArray()) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
        };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        // Jina's and vLLM's deployments are OpenAI-compatible: their Bearer header comes with the deployment's headers.
        if (dialect == RerankDialect.Cohere && call.Deployment.ApiKey.IsSet) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", call.Deployment.ApiKey.Value);
        return ValueTask.FromResult(new TranslatedRequest(request, null));
    }

    /// <summary>
    /// LiteLLM's should_use_cohere_v1_client (an api_base ending in /v1/rerank; max_chunks_per_doc without
    /// max_tokens_per_doc), and what only v1 takes: object documents and rank_fields.
    /// </summary>
    private static bool UsesCohereV1(DeploymentOptions deployment, JsonObject body, bool objectDocuments)
    {
        if (CohereUrls.AsksForV1Rerank(deployment)) return true;
        if (CohereUrls.AsksForV2Rerank(deployment)) return false;
        var v1Params = Set(body, "max_chunks_per_doc") && !Set(body, "max_tokens_per_doc");
        return v1Params || objectDocuments || Set(body, "rank_fields");
    }

    private static string VllmUrl(DeploymentOptions deployment)
    {
        var root = deployment.ApiBase.ToString().TrimEnd('/');
        if (root.EndsWith("/v1/rerank", StringComparison.Ordinal)) return root[..^"/v1/rerank".Length] + "/rerank";
        return root.EndsWith("/rerank", StringComparison.Ordinal) ? root : root + "/rerank";
    }

    public byte[] TranslateRerankResponse(ReadOnlyMemory<byte> providerBody, ReadOnlyMemory<byte> clientBody, ProviderCall call, out Usage? usage)
    {
        var request = Parse(clientBody);
        var returnDocuments = request is not null && ReturnDocuments(request);
        var documents = request?["documents"] as JsonArray;
        using var doc = ProviderJson.Parse(providerBody, $"The {dialect} rerank API returned a body that is not JSON");
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("results", out var results) || results.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException("The rerank answer has no results.");

        long? tokens = null;
        long searchUnits = 0;
        var meta = root.TryGetProperty("meta", out var m) && m.ValueKind == JsonValueKind.Object ? m : default;
        if (dialect == RerankDialect.Cohere)
        {
            if (meta.ValueKind == JsonValueKind.Object && meta.TryGetProperty("billed_units", out var billed) && billed.ValueKind == JsonValueKind.Object
                && billed.TryGetProperty("search_units", out var su) && su.ValueKind == JsonValueKind.Number)
                searchUnits = (long)su.GetDouble();
        }
        else if (root.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object && u.TryGetProperty("total_tokens", out var tt) && tt.ValueKind == JsonValueKind.Number)
        {
            tokens = (long)tt.GetDouble();
        }
        usage = new Usage(tokens ?? 0, 0) { SearchUnits = searchUnits };

        var buffer = new ArrayBufferWriter<byte>(providerBody.Length + 256);
        using (var w = new Utf8JsonWriter(buffer, ProviderJson.OpenAiWriterOptions))
        {
            w.WriteStartObject();
            w.WriteString("id", root.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String ? id.GetString() : call.RequestId);
            w.WriteStartArray("results");
            foreach (var result in results.EnumerateArray())
            {
                if (!result.TryGetProperty("index", out var index) || index.ValueKind != JsonValueKind.Number
                    || !result.TryGetProperty("relevance_score", out var score) || score.ValueKind != JsonValueKind.Number)
                    throw new InvalidDataException("A rerank result has no index or relevance_score.");
                w.WriteStartObject();
                w.WriteNumber("index", index.GetInt32());
                w.WritePropertyName("relevance_score");
                score.WriteTo(w);
                if (returnDocuments) WriteDocument(w, result, documents, index.GetInt32(), keepFields: dialect == RerankDialect.Cohere);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WritePropertyName("meta");
            if (dialect == RerankDialect.Cohere && meta.ValueKind == JsonValueKind.Object) meta.WriteTo(w);
            else
            {
                w.WriteStartObject();
                w.WriteStartObject("billed_units");
                if (tokens is { } t) w.WriteNumber("total_tokens", t);
                w.WriteEndObject();
                w.WriteStartObject("tokens");
                if (tokens is { } ti) w.WriteNumber("input_tokens", ti);
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// The provider's document, else the request's own. Cohere's v1 keeps an object document's fields; the others come
    /// back as LiteLLM's <c>{"text"}</c> (Jina's bare string, vLLM's object with <c>multi_modal</c>).
    /// </summary>
    private static void WriteDocument(Utf8JsonWriter w, JsonElement result, JsonArray? documents, int index, bool keepFields)
    {
        if (result.TryGetProperty("document", out var document) && document.ValueKind != JsonValueKind.Null)
        {
            w.WritePropertyName("document");
            if (document.ValueKind == JsonValueKind.Object && keepFields) document.WriteTo(w);
            else
            {
                w.WriteStartObject();
                w.WriteString("text", document.ValueKind == JsonValueKind.String ? document.GetString()
                    : document.ValueKind == JsonValueKind.Object && document.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : document.GetRawText());
                w.WriteEndObject();
            }
            return;
        }
        if (documents is null || index < 0 || index >= documents.Count) return;
        w.WritePropertyName("document");
        if (documents[index] is JsonValue text)
        {
            w.WriteStartObject();
            w.WriteString("text", text.GetValue<string>());
            w.WriteEndObject();
        }
        else documents[index]!.WriteTo(w);
    }

    public ProviderError ReadError(int status, ReadOnlySpan<byte> body) => CohereErrors.Read(status, body);

    /// <summary><c>return_documents</c> as the client sent it; not sent means no documents (LiteLLM's proxy default).</summary>
    private static bool ReturnDocuments(JsonObject body) => body["return_documents"] is JsonValue v && v.GetValueKind() == JsonValueKind.True;

    private static bool Set(JsonObject body, string name) => body[name] is JsonNode n && n.GetValueKind() != JsonValueKind.Null;

    private static void CopyAll(Utf8JsonWriter w, JsonObject body, params string[] names)
    {
        foreach (var name in names)
        {
            if (!Set(body, name)) continue;
            w.WritePropertyName(name);
            body[name]!.WriteTo(w);
        }
    }

    private static ValueTask<TranslatedRequest> Fail(ApiError error) => ValueTask.FromResult(TranslatedRequest.Fail(error));

    private static JsonObject? Parse(ReadOnlyMemory<byte> body)
    {
        try { return JsonNode.Parse(body.Span) as JsonObject; }
        catch (JsonException) { return null; }
    }
}
