using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.OpenAi;
using AgenticGateway.Providers.Translation;

namespace AgenticGateway.Providers.Cohere;

/// <summary>
/// Cohere (LiteLLM's <c>cohere/</c> and <c>cohere_chat/</c>, which both use Cohere's v2 chat API): chat through
/// <c>{api_base}/v2/chat</c> (JSON, or SSE with <c>stream: true</c>), embeddings through <c>{api_base}/v2/embed</c>,
/// Bearer auth. Cohere's rerank is the rerank translator's (Providers/Rerank).
/// </summary>
internal sealed class CohereTranslator(TimeProvider? time = null) : IProviderTranslator
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public ValueTask<TranslatedRequest> BuildChatRequestAsync(ReadOnlyMemory<byte> openAiBody, ProviderCall call, CancellationToken cancellationToken)
    {
        if (Parse(openAiBody) is not { } body) return Fail(ApiError.BadRequest("The request body must be a JSON object."));
        var content = CohereChatWriter.Write(body, CohereUrls.Model(call.UpstreamModel), call.Stream, out var error);
        if (content is null) return Fail(error!);
        return ValueTask.FromResult(new TranslatedRequest(CohereUrls.Post(CohereUrls.Root(call.Deployment) + "/v2/chat", content, call.Deployment), null));
    }

    public byte[] TranslateChatResponse(ReadOnlyMemory<byte> providerBody, ProviderCall call, out Usage? usage) =>
        CohereChatReader.Translate(providerBody, call, _time.GetUtcNow().ToUnixTimeSeconds(), out usage);

    public IStreamTranslator CreateChatStream(ProviderCall call) => new CohereStreamTranslator(call, _time.GetUtcNow().ToUnixTimeSeconds());

    public ValueTask<TranslatedRequest> BuildEmbeddingsRequestAsync(ReadOnlyMemory<byte> openAiBody, ProviderCall call, CancellationToken cancellationToken)
    {
        if (Parse(openAiBody) is not { } body) return Fail(ApiError.BadRequest("The request body must be a JSON object."));
        var content = CohereEmbeddings.Write(body, CohereUrls.Model(call.UpstreamModel), out var error);
        if (content is null) return Fail(error!);
        return ValueTask.FromResult(new TranslatedRequest(CohereUrls.Post(CohereUrls.Root(call.Deployment) + "/v2/embed", content, call.Deployment), null));
    }

    public byte[] TranslateEmbeddingsResponse(ReadOnlyMemory<byte> providerBody, ProviderCall call, out Usage? usage) =>
        CohereEmbeddings.Translate(providerBody, call.UpstreamModel, call.Base64Embeddings, out usage);

    public ProviderError ReadError(int status, ReadOnlySpan<byte> body) => CohereErrors.Read(status, body);

    private static ValueTask<TranslatedRequest> Fail(ApiError error) => ValueTask.FromResult(TranslatedRequest.Fail(error));

    private static JsonObject? Parse(ReadOnlyMemory<byte> body)
    {
        try { return JsonNode.Parse(body.Span) as JsonObject; }
        catch (JsonException) { return null; }
    }
}
