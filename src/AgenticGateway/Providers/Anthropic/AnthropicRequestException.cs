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

/// <summary>Writer settings for every body the Anthropic translator writes.</summary>
internal static class AnthropicJson
{
    /// <summary>
    /// Text stays as UTF-8 instead of \u escapes (a CJK reply would otherwise grow sixfold); these bodies are JSON
    /// over HTTP, never embedded in HTML, so the relaxed encoder is safe.
    /// </summary>
    public static readonly System.Text.Json.JsonWriterOptions WriterOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
