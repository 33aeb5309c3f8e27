using System.Buffers;
using AgenticGateway.Configuration;
using AgenticGateway.OpenAi;

namespace AgenticGateway.Providers.Translation;

/// <summary>One attempt as a translator sees it: where it goes and what the client asked for.</summary>
/// <param name="Deployment">The deployment's validated options (api_base, credentials, region, project...).</param>
/// <param name="UpstreamModel">The provider's model id for this attempt (a wildcard already expanded).</param>
/// <param name="Stream">The client asked for a stream.</param>
/// <param name="IncludeUsage">The stream must end with an OpenAI usage chunk (<c>stream_options.include_usage</c>).</param>
/// <param name="RequestId">The gateway's request id: used as the OpenAI response id's suffix.</param>
internal readonly record struct ProviderCall(DeploymentOptions Deployment, string UpstreamModel, bool Stream, bool IncludeUsage, string RequestId)
{
    /// <summary>Embeddings were asked for with <c>encoding_format: base64</c> (the answer's translation needs to know).</summary>
    public bool Base64Embeddings { get; init; }
}

/// <summary>The provider request built from an OpenAI one, or why the provider cannot take it (OpenAI-shaped, 400).</summary>
internal readonly record struct TranslatedRequest(HttpRequestMessage? Request, ApiError? Error)
{
    public static TranslatedRequest Fail(ApiError error) => new(null, error);
}

/// <summary>A provider's error body read: its own message kept, and the status the gateway should treat it as.</summary>
/// <param name="Status">The HTTP status to classify by (e.g. Anthropic's 529 overloaded becomes 503, Bedrock's throttling 429).</param>
/// <param name="Message">The provider's message, unchanged.</param>
/// <param name="Code">The provider's error type or code (e.g. <c>overloaded_error</c>, <c>RESOURCE_EXHAUSTED</c>), or null.</param>
internal readonly record struct ProviderError(int Status, string Message, string? Code);

/// <summary>
/// Converts between OpenAI's chat (and embeddings) wire format, which the gateway speaks to clients, and one
/// provider's own format. Request bodies come in as the client's OpenAI JSON; responses go out as OpenAI JSON or
/// OpenAI SSE events. Fields a provider has no equivalent for are dropped only when documented as meaningless there;
/// a request the provider cannot express is refused with a clear 400 instead of being silently changed.
/// </summary>
internal interface IProviderTranslator
{
    /// <summary>Builds the provider's HTTP request (URL, auth headers or signature, body) for a chat completions body.</summary>
    ValueTask<TranslatedRequest> BuildChatRequestAsync(ReadOnlyMemory<byte> openAiBody, ProviderCall call, CancellationToken cancellationToken);

    /// <summary>
    /// Converts a successful non-stream provider body into an OpenAI <c>chat.completion</c> body, with the usage read.
    /// Throws <see cref="InvalidDataException"/> when the body is not what the provider documents.
    /// </summary>
    byte[] TranslateChatResponse(ReadOnlyMemory<byte> providerBody, ProviderCall call, out Usage? usage);

    /// <summary>A decoder for one streamed response (the provider's framing: SSE, or AWS event-stream).</summary>
    IStreamTranslator CreateChatStream(ProviderCall call);

    /// <summary>Builds an embeddings request, or a 400 when the provider or model has no embeddings API.</summary>
    ValueTask<TranslatedRequest> BuildEmbeddingsRequestAsync(ReadOnlyMemory<byte> openAiBody, ProviderCall call, CancellationToken cancellationToken);

    /// <summary>Converts a successful embeddings body into an OpenAI <c>list</c> of embeddings (float or base64 as asked).</summary>
    byte[] TranslateEmbeddingsResponse(ReadOnlyMemory<byte> providerBody, ProviderCall call, out Usage? usage);

    /// <summary>Reads a non-2xx body (any shape, possibly empty or HTML) into a message and the status to classify by.</summary>
    ProviderError ReadError(int status, ReadOnlySpan<byte> body);
}

/// <summary>
/// Turns one response stream into another, incrementally: bytes go in as they arrive (split anywhere), complete
/// events come out at once. Never buffers more than one incomplete input frame.
/// </summary>
internal interface IStreamTranslator
{
    /// <summary>
    /// Consumes the next bytes and appends every event they complete to <paramref name="output"/>. Throws
    /// <see cref="ProviderStreamException"/> when the provider reports an error inside the stream, and
    /// <see cref="InvalidDataException"/> when the bytes are not the documented framing.
    /// </summary>
    void Feed(ReadOnlySpan<byte> data, IBufferWriter<byte> output);

    /// <summary>
    /// The input ended: appends the closing events (an OpenAI translation ends with the usage chunk when asked and
    /// <c>data: [DONE]</c>). Throws <see cref="InvalidDataException"/> when the input stopped before its documented end.
    /// </summary>
    void Complete(IBufferWriter<byte> output);

    /// <summary>Usage seen so far (final once the stream is complete).</summary>
    Usage? Usage { get; }
}

/// <summary>An error the provider reported inside a stream (Anthropic's <c>error</c> event, Bedrock's exception frames).</summary>
internal sealed class ProviderStreamException(ProviderError error) : Exception(error.Message)
{
    public ProviderError Error { get; } = error;
}
