using AgenticGateway.OpenAi;

namespace AgenticGateway.Providers.Anthropic;

/// <summary>
/// Thrown while translating a request the Messages API cannot express; carries the OpenAI-shaped 400 to return.
/// Never escapes the translator: <see cref="AnthropicTranslator"/> turns it into <see cref="Translation.TranslatedRequest.Fail"/>.
/// </summary>
internal sealed class AnthropicRequestException(ApiError error) : Exception(error.Message)
{
    public ApiError Error { get; } = error;

    public static AnthropicRequestException BadRequest(string message, string param) => new(ApiError.BadRequest(message, param));
}
