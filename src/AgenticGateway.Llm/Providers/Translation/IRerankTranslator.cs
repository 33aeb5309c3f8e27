using AgenticGateway.OpenAi;

namespace AgenticGateway.Providers.Translation;

/// <summary>
/// One provider's rerank API behind LiteLLM's <c>/rerank</c>, whose requests are Cohere-shaped (<c>model</c>,
/// <c>query</c>, <c>documents</c>, <c>top_n</c>, <c>return_documents</c>, ...) and whose answers are LiteLLM's
/// <c>{"id","results":[{"index","relevance_score","document"?}],"meta"}</c> whatever the provider.
/// </summary>
internal interface IRerankTranslator
{
    /// <summary>Builds the provider's rerank request from the client's body, or a 400 for what the provider cannot take.</summary>
    ValueTask<TranslatedRequest> BuildRerankRequestAsync(ReadOnlyMemory<byte> clientBody, ProviderCall call, CancellationToken cancellationToken);

    /// <summary>
    /// Converts a successful provider body into LiteLLM's rerank answer, with the usage it bills (search units, or
    /// tokens as prompt tokens). The client's body says whether documents go back. Throws
    /// <see cref="InvalidDataException"/> when the body is not what the provider documents.
    /// </summary>
    byte[] TranslateRerankResponse(ReadOnlyMemory<byte> providerBody, ReadOnlyMemory<byte> clientBody, ProviderCall call, out Usage? usage);

    /// <summary>Reads a non-2xx body into the provider's message and the status to classify by.</summary>
    ProviderError ReadError(int status, ReadOnlySpan<byte> body);
}
