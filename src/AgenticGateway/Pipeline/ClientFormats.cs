using AgenticGateway.Providers.Translation;

namespace AgenticGateway.Pipeline;

/// <summary>The Anthropic-format client side: converts OpenAI answers into Anthropic Messages and events.</summary>
internal static class ClientFormats
{
    public static byte[] ToAnthropicMessage(byte[] openAiCompletion, ProviderCall call) =>
        throw new NotSupportedException("Anthropic-format clients arrive with the inbound converter.");

    public static IStreamTranslator ToAnthropicStream(LlmExchange x, ProviderCall call) =>
        throw new NotSupportedException("Anthropic-format clients arrive with the inbound converter.");
}
