using AgenticGateway.OpenAi;

namespace AgenticGateway.Providers.Anthropic.Inbound;

/// <summary>
/// A request the conversion refuses, thrown from deep inside the body walk and caught once by
/// <see cref="AnthropicRequestConverter.ToOpenAi"/>, which returns the error instead.
/// </summary>
internal sealed class InboundRequestException(string message, string? param) : Exception(message)
{
    /// <summary>The error to return: 400, typed the Anthropic way, naming the offending field in <c>Param</c>.</summary>
    public ApiError Error { get; } = new(400, message, "invalid_request_error", null, param);
}
