namespace AgenticGateway.Emulator;

/// <summary>
/// The emulator's other wire formats. Each dialect recognises its own routes, checks its own auth header, honours the
/// same faults, timing and script as the OpenAI format, and answers in exactly the provider's documented shapes
/// (bodies, stream events, error bodies, status codes).
/// </summary>
internal sealed partial class MockEngine
{
    /// <summary>Serves the request when a dialect owns its route; false leaves it to the OpenAI format.</summary>
    private Task<bool> TryDialectAsync(IMockExchange exchange, string path, CancellationToken cancellationToken)
    {
        if (GeminiRoute(exchange, path)) return ServeGeminiAsync(exchange, path, cancellationToken);
        if (BedrockRoute(exchange, path)) return ServeBedrockAsync(exchange, path, cancellationToken);
        if (AnthropicRoute(exchange, path)) return ServeAnthropicAsync(exchange, path, cancellationToken);
        if (CohereRoute(exchange, path)) return ServeCohereAsync(exchange, path, cancellationToken);
        return Task.FromResult(false);
    }
}
