using AgenticGateway.Configuration;
using AgenticGateway.Pricing;

namespace AgenticGateway.Providers.OpenAiResponses;

/// <summary>Where a deployment serves OpenAI's Responses API, and whether chat must be bridged through it.</summary>
internal static class ResponsesEndpoints
{
    /// <summary>
    /// The deployment's Responses endpoint, or null when it has none: <c>{api_base}/responses</c> for openai (as LiteLLM
    /// calls it, whatever the api_base), the built-in mock, and OpenAI-compatible servers configured as native (many,
    /// like older vLLM or Ollama, have no /responses, so they are not assumed to); Azure's v1 API,
    /// <c>{endpoint}/openai/v1/responses</c> (no api-version, the deployment name in the body's model).
    /// </summary>
    public static Uri? For(DeploymentOptions options, ProviderDefinition provider)
    {
        if (options.ResponsesApi == ResponsesApiMode.Off) return null;
        var baseText = options.ApiBase.ToString().TrimEnd('/');
        return provider.Wire switch
        {
            ProviderWire.AzureOpenAi => new Uri(options.ApiBase.AbsolutePath.TrimEnd('/').EndsWith("/openai/v1", StringComparison.Ordinal)
                ? baseText + "/responses"
                : baseText + "/openai/v1/responses"),
            ProviderWire.Mock => new Uri(baseText + "/responses"),
            ProviderWire.OpenAiCompatible when provider.Name == "openai" || options.ResponsesApi != ResponsesApiMode.Auto => new Uri(baseText + "/responses"),
            _ => null,
        };
    }

    /// <summary>
    /// Chat reaches this deployment only through its Responses API: configured so (<c>responses_api: only</c>, LiteLLM's
    /// <c>responses/</c> model prefix or <c>model_info.mode: responses</c>), or an openai/azure model LiteLLM's cost map
    /// lists with <c>mode: responses</c> (o1-pro, o3-pro, codex models, ...).
    /// </summary>
    public static bool BridgesChat(DeploymentOptions options, ProviderDefinition provider)
    {
        if (options.ResponsesApi == ResponsesApiMode.Only) return true;
        if (options.ResponsesApi != ResponsesApiMode.Auto || options.Model.Contains('*')) return false;
        if (!(provider.Wire == ProviderWire.AzureOpenAi || provider.Wire == ProviderWire.OpenAiCompatible && provider.Name == "openai")) return false;
        return PriceBook.FindModelInfo(options.Model, options.Provider)?.Mode == "responses";
    }
}
