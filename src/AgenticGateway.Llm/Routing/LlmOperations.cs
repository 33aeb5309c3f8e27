namespace AgenticGateway.Routing;

/// <summary>How the LLM operations are named: OpenTelemetry's gen_ai.operation.name, and the label of metrics and the live log.</summary>
internal static class LlmOperations
{
    /// <summary>gen_ai.operation.name values.</summary>
    public static string Name(LlmOperation operation) => operation switch
    {
        LlmOperation.ChatCompletions or LlmOperation.Messages or LlmOperation.Responses => "chat",
        LlmOperation.Completions => "text_completion",
        LlmOperation.Rerank => "rerank",
        _ => "embeddings",
    };

    public static string Label(LlmOperation operation) => operation switch
    {
        LlmOperation.ChatCompletions => "chat_completions",
        LlmOperation.Completions => "completions",
        LlmOperation.Messages => "messages",
        LlmOperation.Rerank => "rerank",
        LlmOperation.Responses => "responses",
        _ => "embeddings",
    };
}
