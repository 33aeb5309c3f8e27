using AgenticGateway.Pricing;

namespace AgenticGateway.Providers.Anthropic.Inbound;

/// <summary>
/// Input tokens of an Anthropic Messages or <c>count_tokens</c> body, for <c>POST /v1/messages/count_tokens</c> when the
/// target is not Anthropic (which would count them itself) and for the <c>message_start</c> estimate of a stream.
/// </summary>
/// <remarks>
/// The body is converted to OpenAI chat as for a real request and measured by <see cref="TokenEstimator"/>, so system
/// text, message text, tool results, tool call arguments, tool definitions and images count the way the gateway counts
/// every other request (a heuristic leaning high, no tokenizer; PDFs are not counted). A body the conversion refuses is
/// measured as it is.
/// </remarks>
internal static class AnthropicTokenCounter
{
    public static long Estimate(ReadOnlySpan<byte> anthropicBody) =>
        AnthropicRequestConverter.ToOpenAi(anthropicBody, out var openAiBody, forTokenCount: true) is null
            ? TokenEstimator.EstimatePromptTokens(openAiBody)
            : TokenEstimator.EstimatePromptTokens(anthropicBody);
}
