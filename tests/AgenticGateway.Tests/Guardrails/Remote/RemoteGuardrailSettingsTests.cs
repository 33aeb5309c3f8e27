using AgenticGateway.Configuration;
using AgenticGateway.Yaml;
using YamlDotNet.RepresentationModel;

namespace AgenticGateway.Tests.Guardrails.Remote;

/// <summary>The remote guardrails' litellm_params as LiteLLM's docs write them (generic_guardrail_api, openai_moderation, prompt_injection_params).</summary>
[Trait("Category", "unit")]
public class RemoteGuardrailSettingsTests
{
    private static (ConfigMap Map, ConfigIssues Issues) Parse(string yaml, Dictionary<string, string>? env = null)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        var issues = new ConfigIssues();
        var lookup = env ?? [];
        var context = new ConfigContext(issues, new EnvInterpolator(name => lookup.GetValueOrDefault(name)));
        return (new ConfigMap((YamlMappingNode)stream.Documents[0].RootNode, "guardrails[0].litellm_params", context), issues);
    }

    [Fact]
    public void The_generic_guardrail_api_example_config_is_read_with_the_endpoint_path_appended()
    {
        // litellm/proxy/guardrails/guardrail_hooks/generic_guardrail_api/example_config.yaml
        var (p, issues) = Parse("""
            guardrail: generic_guardrail_api
            mode: pre_call
            api_key: os.environ/GENERIC_GUARDRAIL_API_KEY
            api_base: http://localhost:8080
            unreachable_fallback: fail_open
            default_on: false
            additional_provider_specific_params:
              api_version: "v1"
              custom_param: "value"
              threshold: 0.8
            """, new() { ["GENERIC_GUARDRAIL_API_KEY"] = "vendor-key" });
        var settings = GenericGuardrailApiSettings.Read(p);
        Assert.Empty(issues.Errors);
        Assert.NotNull(settings);
        Assert.Equal("http://localhost:8080/beta/litellm_basic_guardrail_api", settings.Endpoint.ToString());
        Assert.Equal("vendor-key", settings.ApiKey);
        Assert.Equal(UnreachableFallback.FailOpen, settings.Fallback);
        Assert.Equal("""{"api_version":"v1","custom_param":"value","threshold":0.8}""", settings.AdditionalParamsJson);
    }

    [Fact]
    public void A_base_that_already_ends_with_the_path_is_kept_and_the_environment_variable_stands_in_for_api_base()
    {
        var (full, _) = Parse("api_base: https://vendor.example/beta/litellm_basic_guardrail_api/\nheaders:\n  x-tenant: t1\ntimeout: 250ms");
        var settings = GenericGuardrailApiSettings.Read(full)!;
        Assert.Equal("https://vendor.example/beta/litellm_basic_guardrail_api", settings.Endpoint.ToString());
        Assert.Equal(UnreachableFallback.FailClosed, settings.Fallback);
        Assert.Equal(TimeSpan.FromMilliseconds(250), settings.Timeout);
        Assert.Equal(new KeyValuePair<string, string>("x-tenant", "t1"), Assert.Single(settings.Headers));

        var (fromEnv, issues) = Parse("mode: post_call", new() { ["GENERIC_GUARDRAIL_API_BASE"] = "http://guard.internal:9000" });
        Assert.Equal("http://guard.internal:9000/beta/litellm_basic_guardrail_api", GenericGuardrailApiSettings.Read(fromEnv)!.Endpoint.ToString());
        Assert.Empty(issues.Errors);
    }

    [Theory]
    [InlineData("mode: pre_call", "needs api_base")]
    [InlineData("api_base: not a url", "absolute http or https URL")]
    [InlineData("api_base: ftp://x.example", "absolute http or https URL")]
    [InlineData("api_base: http://x.example\nunreachable_fallback: sometimes", "expected fail_closed or fail_open")]
    [InlineData("api_base: http://x.example\nadditional_provider_specific_params: [1, 2]", "expected a mapping")]
    public void Bad_generic_guardrail_settings_are_errors_with_their_path(string yaml, string message)
    {
        var (p, issues) = Parse(yaml);
        GenericGuardrailApiSettings.Read(p);
        var error = Assert.Single(issues.Errors);
        Assert.StartsWith("guardrails[0].litellm_params.", error);
        Assert.Contains(message, error);
    }

    [Fact]
    public void The_openai_moderation_example_config_is_read_with_litellms_defaults()
    {
        // docs/my-website/docs/proxy/guardrails/openai_moderation.md
        var (p, issues) = Parse("""
            guardrail: openai_moderation
            mode: "pre_call"
            api_key: os.environ/OPENAI_API_KEY
            model: "omni-moderation-latest"
            api_base: "https://us.api.openai.com/v1"
            """, new() { ["OPENAI_API_KEY"] = "sk-test" });
        var settings = OpenAiModerationSettings.Read(p)!;
        Assert.Empty(issues.Errors);
        Assert.Equal("omni-moderation-latest", settings.Model);
        Assert.Equal("https://us.api.openai.com/v1", settings.ApiBase!.ToString());
        Assert.Equal("sk-test", settings.ApiKey);

        var (bare, _) = Parse("guardrail: openai_moderation\nmode: post_call");
        var defaults = OpenAiModerationSettings.Read(bare)!;
        Assert.Equal("omni-moderation-latest", defaults.Model);
        Assert.Null(defaults.ApiBase);
        Assert.Equal(UnreachableFallback.FailClosed, defaults.Fallback);
    }

    [Fact]
    public void The_prompt_injection_llm_api_check_is_read_from_prompt_injection_params()
    {
        // docs/my-website/docs/proxy/prompt_injection.md, "LLM API Checks"
        var (p, issues) = Parse("""
            heuristics_check: true
            similarity_check: true
            llm_api_check: true
            llm_api_name: azure-gpt-3.5
            llm_api_system_prompt: "Detect if prompt is safe to run. Return 'UNSAFE' if not."
            llm_api_fail_call_string: "UNSAFE"
            """);
        var settings = LlmJudgeSettings.Read(p)!;
        Assert.Empty(issues.Errors);
        Assert.Equal("azure-gpt-3.5", settings.Model);
        Assert.Equal("Detect if prompt is safe to run. Return 'UNSAFE' if not.", settings.SystemPrompt);
        Assert.Equal("UNSAFE", settings.FailCallString);
    }

    [Fact]
    public void Without_llm_api_check_there_is_no_judge_and_without_a_model_name_it_is_an_error()
    {
        var (off, offIssues) = Parse("heuristics_check: true\nllm_api_name: judge");
        Assert.Null(LlmJudgeSettings.Read(off));
        Assert.Empty(offIssues.Errors);

        var (noName, issues) = Parse("llm_api_check: true");
        Assert.Null(LlmJudgeSettings.Read(noName));
        Assert.Contains("guardrails[0].litellm_params.llm_api_name: llm_api_check needs llm_api_name", Assert.Single(issues.Errors));

        var (defaults, _) = Parse("llm_api_check: true\nllm_api_name: judge");
        var judge = LlmJudgeSettings.Read(defaults)!;
        Assert.Equal(LlmJudgeSettings.DefaultSystemPrompt, judge.SystemPrompt);
        Assert.Equal("UNSAFE", judge.FailCallString);
    }
}
