using AgenticGateway.OpenAi;
using AgenticGateway.Pricing;
using AgenticGateway.Providers.Anthropic.Inbound;
using AgenticGateway.Providers.Translation;
using AgenticGateway.Routing;

namespace AgenticGateway.Services.Llm;

/// <summary>
/// The Anthropic-format client side of the pipeline, for deployments that are not Anthropic: the request becomes
/// OpenAI chat once (the first time an attempt needs it), and OpenAI answers become Anthropic Messages and events.
/// </summary>
internal static class ClientFormats
{
    /// <summary>Converts the client's Anthropic request; returns the error to answer with when it cannot be converted.</summary>
    public static ApiError? ToOpenAi(LlmExchange x)
    {
        if (AnthropicRequestConverter.ToOpenAi(x.Body.Span, out var openAi) is { } error) return error;
        if (RequestReader.TryParse(openAi, LlmOperation.ChatCompletions, out var parsed) is { } invalid) return invalid;
        x.OpenAiBody = openAi;
        x.OpenAiRequest = parsed;
        x.HasOpenAiBody = true;
        return null;
    }

    public static byte[] ToAnthropicMessage(ReadOnlyMemory<byte> openAiCompletion, LlmExchange x) =>
        AnthropicResponseConverter.FromOpenAi(openAiCompletion, x.Request.Model);

    public static IStreamTranslator ToAnthropicStream(LlmExchange x)
    {
        var estimate = x.EstimatedPromptTokens > 0 ? x.EstimatedPromptTokens : AnthropicTokenCounter.Estimate(x.Body.Span);
        return new OpenAiToAnthropicStream(x.Request.Model, AnthropicResponseConverter.MessageId("chatcmpl-" + x.RequestId), estimate);
    }
}
