using System.Collections.Frozen;

namespace AgenticGateway.Configuration;

/// <summary>How a provider is reached on the wire.</summary>
internal enum ProviderWire
{
    /// <summary>OpenAI's paths and Bearer auth under a base URL that includes the version segment.</summary>
    OpenAiCompatible,
    /// <summary>Azure OpenAI: /openai/deployments/{deployment}/..., api-version query, api-key header.</summary>
    AzureOpenAi,
    /// <summary>The built-in emulator, served in process.</summary>
    Mock,
    /// <summary>Anthropic's Messages API: {api_base}/v1/messages, x-api-key and anthropic-version headers.</summary>
    Anthropic,
    /// <summary>Google AI Studio: {api_base}/v1beta/models/{model}:generateContent, x-goog-api-key.</summary>
    Gemini,
    /// <summary>Vertex AI: Gemini (generateContent) and Anthropic (rawPredict) publisher models, OAuth bearer tokens.</summary>
    VertexAi,
    /// <summary>AWS Bedrock Runtime: Converse/ConverseStream and InvokeModel, SigV4-signed.</summary>
    Bedrock,
    /// <summary>OpenAI's legacy completions API (<c>/v1/completions</c>): chat requests are translated into prompts.</summary>
    OpenAiTextCompletion,
    /// <summary>Cohere's v2 API: <c>{api_base}/v2/chat</c>, <c>/v2/embed</c>, <c>/v2/rerank</c> (or <c>/v1/rerank</c>), Bearer auth.</summary>
    Cohere,
}

/// <summary>A provider preset: wire format, default base URL and the environment variables LiteLLM users expect.</summary>
internal sealed record ProviderDefinition(
    string Name,
    ProviderWire Wire,
    string? DefaultApiBase,
    /// <summary>Environment variables read for the API key when none is configured, first set wins.</summary>
    string[] ApiKeyEnv,
    string? ApiBaseEnv = null,
    /// <summary>Appended to a configured api_base that lacks it (Ollama's OpenAI API lives under /v1).</summary>
    string? RequiredPathSuffix = null,
    /// <summary>Accepts stream_options.include_usage, so the gateway can ask for usage in every stream.</summary>
    bool StreamUsage = false);

internal static class ProviderCatalog
{
    public const string MockBase = "http://mock.internal/v1";
    public const string DefaultAzureApiVersion = "2024-10-21";

    private static readonly FrozenDictionary<string, ProviderDefinition> Providers = new ProviderDefinition[]
    {
        new("openai", ProviderWire.OpenAiCompatible, "https://api.openai.com/v1", ["OPENAI_API_KEY"], "OPENAI_BASE_URL", StreamUsage: true),
        new("azure", ProviderWire.AzureOpenAi, null, ["AZURE_OPENAI_API_KEY", "AZURE_API_KEY"], "AZURE_API_BASE", StreamUsage: true),
        new("groq", ProviderWire.OpenAiCompatible, "https://api.groq.com/openai/v1", ["GROQ_API_KEY"], StreamUsage: true),
        new("deepseek", ProviderWire.OpenAiCompatible, "https://api.deepseek.com/v1", ["DEEPSEEK_API_KEY"], StreamUsage: true),
        new("xai", ProviderWire.OpenAiCompatible, "https://api.x.ai/v1", ["XAI_API_KEY"], StreamUsage: true),
        new("mistral", ProviderWire.OpenAiCompatible, "https://api.mistral.ai/v1", ["MISTRAL_API_KEY"]),
        new("together_ai", ProviderWire.OpenAiCompatible, "https://api.together.xyz/v1", ["TOGETHER_API_KEY", "TOGETHER_AI_API_KEY", "TOGETHERAI_API_KEY"], StreamUsage: true),
        new("fireworks_ai", ProviderWire.OpenAiCompatible, "https://api.fireworks.ai/inference/v1", ["FIREWORKS_API_KEY", "FIREWORKS_AI_API_KEY"], StreamUsage: true),
        new("openrouter", ProviderWire.OpenAiCompatible, "https://openrouter.ai/api/v1", ["OPENROUTER_API_KEY"], StreamUsage: true),
        new("perplexity", ProviderWire.OpenAiCompatible, "https://api.perplexity.ai", ["PERPLEXITYAI_API_KEY", "PERPLEXITY_API_KEY"]),
        new("ollama", ProviderWire.OpenAiCompatible, "http://localhost:11434/v1", ["OLLAMA_API_KEY"], "OLLAMA_API_BASE", "/v1"),
        new("ollama_chat", ProviderWire.OpenAiCompatible, "http://localhost:11434/v1", ["OLLAMA_API_KEY"], "OLLAMA_API_BASE", "/v1"),
        new("hosted_vllm", ProviderWire.OpenAiCompatible, null, ["HOSTED_VLLM_API_KEY"], "HOSTED_VLLM_API_BASE", StreamUsage: true),
        new("vllm", ProviderWire.OpenAiCompatible, null, ["HOSTED_VLLM_API_KEY"], "HOSTED_VLLM_API_BASE", StreamUsage: true),
        new("openai_compatible", ProviderWire.OpenAiCompatible, null, []),
        new("custom_openai", ProviderWire.OpenAiCompatible, null, []),
        new("mock", ProviderWire.Mock, MockBase, [], StreamUsage: true),
        new("anthropic", ProviderWire.Anthropic, "https://api.anthropic.com", ["ANTHROPIC_API_KEY"], "ANTHROPIC_API_BASE"),
        new("gemini", ProviderWire.Gemini, "https://generativelanguage.googleapis.com", ["GEMINI_API_KEY", "GOOGLE_API_KEY"], "GEMINI_API_BASE"),
        // Vertex and Bedrock derive their default endpoint from the location or region (see DeploymentSpec).
        new("vertex_ai", ProviderWire.VertexAi, null, []),
        new("vertex_ai_beta", ProviderWire.VertexAi, null, []),
        new("bedrock", ProviderWire.Bedrock, null, []),
        new("bedrock_converse", ProviderWire.Bedrock, null, []),
        // LiteLLM's names: text-completion-openai calls openai.completions.create; cohere and cohere_chat both use
        // Cohere's v2 chat API (LiteLLM's get_cohere_route); jina_ai's embeddings are OpenAI-shaped, its rerank Cohere-like.
        new("text-completion-openai", ProviderWire.OpenAiTextCompletion, "https://api.openai.com/v1", ["OPENAI_API_KEY"], "OPENAI_BASE_URL", StreamUsage: true),
        new("cohere", ProviderWire.Cohere, "https://api.cohere.com", ["COHERE_API_KEY", "CO_API_KEY"], "COHERE_API_BASE"),
        new("cohere_chat", ProviderWire.Cohere, "https://api.cohere.com", ["COHERE_API_KEY", "CO_API_KEY"], "COHERE_API_BASE"),
        new("jina_ai", ProviderWire.OpenAiCompatible, "https://api.jina.ai/v1", ["JINA_AI_API_KEY", "JINA_API_KEY"]),
    }.ToFrozenDictionary(p => p.Name, StringComparer.Ordinal);

    /// <summary>Providers whose wire format needs translation; they arrive with the provider-translation work.</summary>
    private static readonly FrozenSet<string> Translated = new[]
    {
        "azure_ai",
    }.ToFrozenSet(StringComparer.Ordinal);

    public static IEnumerable<string> Names => Providers.Keys;

    public static bool TryGet(string name, out ProviderDefinition definition) => Providers.TryGetValue(name, out definition!);

    public static bool IsTranslatedProvider(string name) => Translated.Contains(name);

    /// <summary>LiteLLM infers a provider from a bare model name; we do the same for the common OpenAI families.</summary>
    public static string InferFromBareModel(string model) =>
        model.StartsWith("claude", StringComparison.Ordinal) ? "anthropic"
        : model.StartsWith("gemini", StringComparison.Ordinal) ? "gemini"
        : "openai";
}
