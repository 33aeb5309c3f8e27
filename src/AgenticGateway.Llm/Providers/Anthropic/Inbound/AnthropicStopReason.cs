namespace AgenticGateway.Providers.Anthropic.Inbound;

/// <summary>OpenAI <c>finish_reason</c> to Anthropic <c>stop_reason</c>, shared by the body and stream conversions.</summary>
/// <remarks>
/// stop → end_turn, length → max_tokens, tool_calls (and the legacy function_call) → tool_use, content_filter →
/// refusal (Anthropic's stop reason for a response its safety systems stopped). A finish reason of "stop" on a message
/// that does carry tool calls (some OpenAI-compatible servers do this) is tool_use, so agent loops that wait for
/// tool_use run the tools. OpenAI does not say which stop sequence matched; vLLM (and servers copying it) put the
/// matched string in the choice's <c>stop_reason</c>, which becomes stop_sequence. Anything unknown is end_turn.
/// </remarks>
internal static class AnthropicStopReason
{
    public static string FromOpenAi(string? finishReason, bool hasToolCalls, string? matchedStopSequence) => finishReason switch
    {
        "length" => "max_tokens",
        "tool_calls" or "function_call" => "tool_use",
        "content_filter" => "refusal",
        _ when hasToolCalls => "tool_use",
        "stop" when matchedStopSequence is not null => "stop_sequence",
        _ => "end_turn",
    };
}
