using AgenticGateway.Configuration;
using AgenticGateway.Providers;
using AgenticGateway.Providers.Anthropic;
using AgenticGateway.Providers.Bedrock;
using AgenticGateway.Providers.Cohere;
using AgenticGateway.Providers.Google;
using AgenticGateway.Providers.OpenAiText;
using AgenticGateway.Providers.Rerank;
using AgenticGateway.Providers.Translation;

namespace AgenticGateway.Runtime;

/// <summary>
/// Picks each deployment's translator by its wire format. Translators hold no per-deployment state (credentials and
/// endpoints come with each call), so one of each serves every deployment; Vertex tokens are cached per credential
/// by the one token source, across configuration reloads.
/// </summary>
internal sealed class ProviderTranslators(HttpMessageInvoker network)
{
    private readonly AnthropicTranslator _anthropic = new();
    private readonly GeminiTranslator _gemini = new();
    private readonly BedrockTranslator _bedrock = new();
    private readonly CohereTranslator _cohere = new();
    private readonly TextCompletionTranslator _textCompletion = new();
    private readonly RerankTranslator _cohereRerank = new(RerankDialect.Cohere);
    private readonly RerankTranslator _jinaRerank = new(RerankDialect.Jina);
    private readonly RerankTranslator _vllmRerank = new(RerankDialect.Vllm);
    private readonly VertexTokenSource _vertexTokens = new(network);

    public IProviderTranslator? For(DeploymentOptions options, ProviderDefinition provider) => provider.Wire switch
    {
        ProviderWire.Anthropic => _anthropic,
        ProviderWire.Gemini => _gemini,
        ProviderWire.Bedrock => _bedrock,
        ProviderWire.Cohere => _cohere,
        ProviderWire.OpenAiTextCompletion => _textCompletion,
        // Vertex serves Google's models through generateContent and partner models (Claude) through rawPredict.
        ProviderWire.VertexAi when IsClaude(options.Model) => AnthropicTranslator.ForVertex(_vertexTokens.ForDeployment(options)),
        ProviderWire.VertexAi => new GeminiTranslator(vertex: true, _vertexTokens.ForDeployment(options)),
        _ => null,
    };

    /// <summary>The rerank API of the providers LiteLLM reranks with that the gateway serves; null for the rest.</summary>
    public IRerankTranslator? RerankerFor(ProviderDefinition provider) => provider.Name switch
    {
        "cohere" or "cohere_chat" => _cohereRerank,
        "jina_ai" => _jinaRerank,
        "hosted_vllm" or "vllm" => _vllmRerank,
        _ => null,
    };

    private static bool IsClaude(string model) => model.StartsWith("claude", StringComparison.Ordinal);
}
