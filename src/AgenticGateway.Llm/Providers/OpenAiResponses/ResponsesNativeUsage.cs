using AgenticGateway.OpenAi;

namespace AgenticGateway.Providers.OpenAiResponses;

/// <summary>The usage of a Responses API response object (<c>input_tokens</c>, <c>output_tokens</c>, cached and reasoning details).</summary>
internal static class ResponsesNativeUsage
{
    /// <summary>
    /// Reads the top-level <c>usage</c> of a response object (a non-stream body, or the <c>response</c> of a
    /// <c>response.completed</c> event). False when the JSON is malformed or carries no usage.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> responseJson, out Usage? usage) =>
        UsageReader.TryRead(responseJson, out usage) && usage is not null;
}
