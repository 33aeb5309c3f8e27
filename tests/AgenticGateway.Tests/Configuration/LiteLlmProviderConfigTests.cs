using AgenticGateway.Configuration;

namespace AgenticGateway.Tests.Configuration;

/// <summary>
/// LiteLLM config entries naming mistral, text-completion-openai, cohere, cohere_chat, jina_ai and hosted_vllm rerank
/// load: copies of the entries in LiteLLM's own files, and samples in the shapes of its provider docs.
/// </summary>
[Trait("Category", "unit")]
public class LiteLlmProviderConfigTests
{
    // From BerriAI/litellm proxy_server_config.yaml (mistral-embed, gpt-instruct) and
    // litellm/proxy/example_config_yaml/otel_test_config.yaml (rerank-english-v3.0), unchanged.
    private const string LiteLlmFiles = """
        model_list:
          - model_name: mistral-embed
            litellm_params:
              model: mistral/mistral-embed
          - model_name: gpt-instruct # [PROD TEST] - tests if `/health` automatically infers this to be a text completion model
            litellm_params:
              model: text-completion-openai/gpt-3.5-turbo-instruct
        """;

    private const string OtelTestConfig = """
        model_list:
         - model_name: rerank-english-v3.0
           litellm_params:
             model: cohere/rerank-english-v3.0
             api_key: os.environ/COHERE_API_KEY
        """;

    // In the shapes of LiteLLM's docs: docs/providers/cohere.md, jina_ai.md, vllm.md (rerank endpoint), rerank.md.
    private const string LiteLlmDocs = """
        model_list:
          - model_name: command-r
            litellm_params:
              model: cohere_chat/command-r
              api_key: os.environ/COHERE_API_KEY
          - model_name: command-a
            litellm_params:
              model: cohere/v2/command-a-03-2025
          - model_name: embed-english-v3.0
            litellm_params:
              model: cohere/embed-english-v3.0
          - model_name: jina-reranker
            litellm_params:
              model: jina_ai/jina-reranker-v2-base-multilingual
              api_key: os.environ/JINA_AI_API_KEY
          - model_name: bge-reranker
            litellm_params:
              model: hosted_vllm/BAAI/bge-reranker-base
              api_base: http://localhost:8000
          - model_name: mistral-large
            litellm_params:
              model: mistral/mistral-large-latest
              api_key: os.environ/MISTRAL_API_KEY
        """;

    private static IReadOnlyList<DeploymentOptions> Load(string yaml)
    {
        var result = ConfigLoader.Load(yaml, "litellm.yaml", new Dictionary<string, string>());
        Assert.True(result.Errors.Count == 0, string.Join("\n", result.Errors));
        return result.Options!.Deployments;
    }

    [Fact]
    public void The_entries_of_litellms_own_files_load()
    {
        var deployments = Load(LiteLlmFiles);
        var mistral = deployments.Single(d => d.ModelName == "mistral-embed");
        Assert.Equal(("mistral", "mistral-embed", "https://api.mistral.ai/v1"), (mistral.Provider, mistral.Model, mistral.ApiBase.ToString().TrimEnd('/')));
        var instruct = deployments.Single(d => d.ModelName == "gpt-instruct");
        Assert.Equal(("text-completion-openai", "gpt-3.5-turbo-instruct", "https://api.openai.com/v1"), (instruct.Provider, instruct.Model, instruct.ApiBase.ToString().TrimEnd('/')));
        var rerank = Load(OtelTestConfig).Single(d => d.ModelName == "rerank-english-v3.0");
        Assert.Equal(("cohere", "https://api.cohere.com"), (rerank.Provider, rerank.ApiBase.ToString().TrimEnd('/')));
    }

    [Fact]
    public void Entries_in_the_shapes_of_litellms_provider_docs_load()
    {
        var deployments = Load(LiteLlmDocs);
        Assert.Equal(["cohere_chat", "cohere", "cohere", "jina_ai", "hosted_vllm", "mistral"], deployments.Select(d => d.Provider));
        Assert.Equal("v2/command-a-03-2025", deployments[1].Model);
        Assert.Equal("https://api.jina.ai/v1", deployments[3].ApiBase.ToString().TrimEnd('/'));
    }

    [Fact]
    public void Cohere_v1_chat_is_refused_with_the_v2_spelling_to_use()
    {
        var result = ConfigLoader.Load("model_list:\n  - model_name: old\n    litellm_params:\n      model: cohere_chat/v1/command-r\n", "litellm.yaml", new Dictionary<string, string>());
        var error = Assert.Single(result.Errors);
        Assert.Contains("'cohere_chat/command-r'", error);
    }

    [Fact]
    public void Input_cost_per_query_prices_a_deployment()
    {
        var deployments = Load("model_list:\n  - model_name: r\n    litellm_params:\n      model: cohere/rerank-v3.5\n      input_cost_per_query: 0.002\n");
        Assert.Equal(0.002m, deployments[0].Price!.PerQuery);
        Assert.Equal(0.004m, deployments[0].Price!.Cost(new AgenticGateway.OpenAi.Usage(0, 0) { SearchUnits = 2 }));
    }
}
