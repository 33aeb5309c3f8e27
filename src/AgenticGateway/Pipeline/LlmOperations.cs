using AgenticGateway.Routing;

namespace AgenticGateway.Pipeline;

/// <summary>How the LLM operations are named: OpenTelemetry's gen_ai.operation.name, and the label of metrics and the live log.</summary>
internal static class LlmOperations
{
    /// <summary>gen_ai.operation.name values.</summary>
    public static string Name(LlmOperation operation) => operation switch
    {
        LlmOperation.ChatCompletions or LlmOperation.Messages => "chat",
        LlmOperation.Completions => "text_completion",
        _ => "embeddings",
    };

    public static string Label(LlmOperation operation) => operation switch
    {
        LlmOperation.ChatCompletions => "chat_completions",
        LlmOperation.Completions => "completions",
        LlmOperation.Messages => "messages",
        _ => "embeddings",
    };

    /// <summary>The LLM call a route's payload is (null for count_tokens, which calls nothing billable, and non-LLM routes).</summary>
    public static LlmOperation? Operation(this RoutePayload payload) => payload switch
    {
        RoutePayload.LlmChat => LlmOperation.ChatCompletions,
        RoutePayload.LlmCompletions => LlmOperation.Completions,
        RoutePayload.LlmEmbeddings => LlmOperation.Embeddings,
        RoutePayload.LlmMessages => LlmOperation.Messages,
        _ => null,
    };
}
