using AgenticGateway.Configuration;
using AgenticGateway.Providers;
using AgenticGateway.Providers.Anthropic;
using AgenticGateway.Providers.Bedrock;
using AgenticGateway.Providers.Google;
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
    private readonly VertexTokenSource _vertexTokens = new(network);

    public IProviderTranslator? For(DeploymentOptions options, ProviderDefinition provider) => provider.Wire switch
    {
        ProviderWire.Anthropic => _anthropic,
        ProviderWire.Gemini => _gemini,
        ProviderWire.Bedrock => _bedrock,
        // Vertex serves Google's models through generateContent and partner models (Claude) through rawPredict.
        ProviderWire.VertexAi when IsClaude(options.Model) => AnthropicTranslator.ForVertex(_vertexTokens.ForDeployment(options)),
        ProviderWire.VertexAi => new GeminiTranslator(vertex: true, _vertexTokens.ForDeployment(options)),
        _ => null,
    };

    private static bool IsClaude(string model) => model.StartsWith("claude", StringComparison.Ordinal);
}
