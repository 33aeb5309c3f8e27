using AgenticGateway.Configuration;
using AgenticGateway.Providers.OpenAiResponses;
using AgenticGateway.Routing;
using AgenticGateway.Runtime;

namespace AgenticGateway.Tests.Responses;

/// <summary>
/// Which deployments serve OpenAI's Responses API, and which take chat only through it: LiteLLM's spellings unchanged
/// (<c>openai/responses/...</c>, <c>azure/responses/...</c>, <c>model_info.mode: responses</c>, the cost map's
/// <c>mode: responses</c> models) and our schema's <c>responses_api</c>.
/// </summary>
[Trait("Category", "unit")]
public class UpstreamResponsesConfigTests
{
    private static GatewayOptions Load(string yaml, string name = "config.yaml")
    {
        var result = ConfigLoader.Load(yaml, name, new Dictionary<string, string>());
        Assert.True(result.Errors.Count == 0, string.Join("\n", result.Errors));
        return result.Options!;
    }

    private static Dictionary<string, Deployment> Build(GatewayOptions options) =>
        new RuntimeBuilder(new HttpMessageInvoker(new HttpClientHandler())).Build(options).AllDeployments.ToDictionary(d => d.GroupName);

    // In the shapes of LiteLLM's docs (docs/response_api.md "Chat Completions bridge", docs/providers/azure/azure_responses.md).
    private const string LiteLlm = """
        model_list:
          - model_name: o3-pro-bridge
            litellm_params:
              model: openai/responses/o3-pro
              api_key: os.environ/OPENAI_API_KEY
          - model_name: azure-codex
            litellm_params:
              model: azure/responses/my-codex-deployment
              api_base: https://contoso.openai.azure.com
              api_key: azure-key
              api_version: "2025-04-01-preview"
          - model_name: custom-responses
            litellm_params:
              model: openai/my-finetune
            model_info:
              mode: responses
          - model_name: codex-from-cost-map
            litellm_params:
              model: openai/codex-mini-latest
          - model_name: gpt-4o
            litellm_params:
              model: openai/gpt-4o
          - model_name: azure-chat
            litellm_params:
              model: azure/my-gpt-4o
              api_base: https://contoso.openai.azure.com/
              api_key: azure-key
          - model_name: vllm
            litellm_params:
              model: hosted_vllm/qwen
              api_base: http://vllm:8000/v1
          - model_name: mocked
            litellm_params:
              model: mock/gpt-4o
          - model_name: claude
            litellm_params:
              model: anthropic/claude-sonnet-4-5
              api_key: sk-ant
        """;

    [Fact]
    public void LiteLlms_responses_prefix_and_mode_make_a_deployment_responses_only()
    {
        var options = Load(LiteLlm, "litellm.yaml");
        var byName = options.Deployments.ToDictionary(d => d.ModelName);
        Assert.Equal(("openai", "o3-pro", ResponsesApiMode.Only), (byName["o3-pro-bridge"].Provider, byName["o3-pro-bridge"].Model, byName["o3-pro-bridge"].ResponsesApi));
        Assert.Equal(("azure", "my-codex-deployment", ResponsesApiMode.Only), (byName["azure-codex"].Provider, byName["azure-codex"].Model, byName["azure-codex"].ResponsesApi));
        Assert.Equal(ResponsesApiMode.Only, byName["custom-responses"].ResponsesApi);
        Assert.Equal(ResponsesApiMode.Auto, byName["codex-from-cost-map"].ResponsesApi);
        Assert.Equal(ResponsesApiMode.Auto, byName["gpt-4o"].ResponsesApi);

        var d = Build(options);
        Assert.IsType<ResponsesApiTranslator>(d["o3-pro-bridge"].Translator);
        Assert.Equal("https://api.openai.com/v1/responses", d["o3-pro-bridge"].ResponsesUri!.ToString());
        var azure = Assert.IsType<ResponsesApiTranslator>(d["azure-codex"].Translator);
        Assert.Equal("https://contoso.openai.azure.com/openai/v1/responses", azure.ResponsesUri.ToString());
        Assert.IsType<ResponsesApiTranslator>(d["custom-responses"].Translator);
        // LiteLLM's cost map lists codex-mini-latest with mode: responses, so LiteLLM bridges it; so do we.
        Assert.IsType<ResponsesApiTranslator>(d["codex-from-cost-map"].Translator);

        // Chat models keep chat completions, with the native Responses endpoint beside it where the provider has one.
        Assert.Null(d["gpt-4o"].Translator);
        Assert.Equal("https://api.openai.com/v1/responses", d["gpt-4o"].ResponsesUri!.ToString());
        Assert.Null(d["azure-chat"].Translator);
        Assert.Equal("https://contoso.openai.azure.com/openai/v1/responses", d["azure-chat"].ResponsesUri!.ToString());
        Assert.Equal(ProviderCatalog.MockBase + "/responses", d["mocked"].ResponsesUri!.ToString());
        // An OpenAI-compatible server may have no /responses: not assumed (opt in with responses_api: native).
        Assert.Null(d["vllm"].ResponsesUri);
        Assert.Null(d["vllm"].Translator);
        Assert.Null(d["claude"].ResponsesUri);
    }

    [Fact]
    public void Our_schema_says_responses_api_auto_native_only_or_off()
    {
        var options = Load("""
            models:
              - name: compat-native
                provider: openai_compatible
                model: qwen
                api_base: http://vllm:8000/v1
                responses_api: native
              - name: compat-only
                provider: openai_compatible
                model: qwen
                api_base: http://vllm:8000/v1
                responses_api: only
              - name: openai-off
                provider: openai
                model: gpt-4o
                responses_api: off
              - name: azure-v1-base
                provider: azure
                model: dep
                api_base: https://contoso.openai.azure.com/openai/v1
                responses_api: only
              - name: plain
                provider: openai_compatible
                model: qwen
                api_base: http://vllm:8000/v1
            """);
        var d = Build(options);
        Assert.Equal("http://vllm:8000/v1/responses", d["compat-native"].ResponsesUri!.ToString());
        Assert.Null(d["compat-native"].Translator);
        Assert.IsType<ResponsesApiTranslator>(d["compat-only"].Translator);
        Assert.Equal("http://vllm:8000/v1/responses", d["compat-only"].ResponsesUri!.ToString());
        Assert.Null(d["openai-off"].ResponsesUri);
        Assert.Null(d["openai-off"].Translator);
        Assert.Equal("https://contoso.openai.azure.com/openai/v1/responses", d["azure-v1-base"].ResponsesUri!.ToString());
        Assert.Null(d["plain"].ResponsesUri);
    }

    [Theory]
    [InlineData("models: [{name: a, provider: openai, model: gpt-4o, responses_api: sometimes}]", "responses_api must be auto, native, only or off")]
    [InlineData("models: [{name: a, provider: anthropic, model: claude-sonnet-4-5, api_key: k, responses_api: only}]", "provider 'anthropic' has no OpenAI Responses API")]
    public void A_wrong_responses_api_setting_is_a_config_error(string yaml, string message)
    {
        var result = ConfigLoader.Load(yaml, "config.yaml", new Dictionary<string, string>());
        Assert.Contains(result.Errors, e => e.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public void A_litellm_responses_prefix_on_a_provider_without_the_api_is_a_config_error()
    {
        var result = ConfigLoader.Load("model_list: [{model_name: a, litellm_params: {model: anthropic/responses/claude-sonnet-4-5, api_key: k}}]", "litellm.yaml", new Dictionary<string, string>());
        Assert.Contains(result.Errors, e => e.Contains("provider 'anthropic' has no OpenAI Responses API", StringComparison.Ordinal));
    }
}
