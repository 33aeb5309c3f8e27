using AgenticGateway.Configuration;

namespace AgenticGateway.Tests.Configuration;

/// <summary>
/// A first run needs no config file: the master key comes from AGW_MASTER_KEY or LiteLLM's LITELLM_MASTER_KEY, and
/// <c>--model</c> serves models from the environment's keys.
/// </summary>
[Trait("Category", "unit")]
public class FirstRunConfigTests
{
    private static Dictionary<string, string> Env(params (string Name, string Value)[] vars) => vars.ToDictionary(v => v.Name, v => v.Value);

    [Theory]
    [InlineData("AGW_MASTER_KEY")]
    [InlineData("LITELLM_MASTER_KEY")]
    public void An_environment_master_key_alone_sets_the_master_key_of_the_embedded_defaults(string variable)
    {
        var options = ConfigLoader.Load(EmbeddedDefaults.Yaml, "embedded defaults", Env((variable, "sk-from-env"))).Options!;
        Assert.Equal("sk-from-env", options.MasterKey.Value);
        Assert.False(ConfigLoader.Load(EmbeddedDefaults.Yaml, "embedded defaults", Env()).Options!.MasterKey.IsSet);
    }

    [Fact]
    public void Agw_master_key_wins_over_litellm_master_key()
    {
        var options = ConfigLoader.Load(EmbeddedDefaults.Yaml, "embedded defaults", Env(("LITELLM_MASTER_KEY", "sk-litellm"), ("AGW_MASTER_KEY", "sk-agw"))).Options!;
        Assert.Equal("sk-agw", options.MasterKey.Value);
    }

    [Fact]
    public void A_file_without_a_master_key_takes_the_environments_and_a_file_with_one_keeps_its_own_as_in_litellm()
    {
        // LiteLLM's proxy_server.py: master_key = general_settings.get("master_key", get_secret("LITELLM_MASTER_KEY")).
        const string withoutKey = """
            model_list:
              - model_name: gpt-4o
                litellm_params: {model: openai/gpt-4o, api_key: sk-upstream}
            """;
        var env = Env(("LITELLM_MASTER_KEY", "sk-env"));
        Assert.Equal("sk-env", ConfigLoader.Load(withoutKey, "config.yaml", env).Options!.MasterKey.Value);
        var withKey = withoutKey + "\ngeneral_settings: {master_key: sk-file}\n";
        Assert.Equal("sk-file", ConfigLoader.Load(withKey, "config.yaml", env).Options!.MasterKey.Value);
        var own = "master_key: sk-own\nmodels:\n  - {name: m, provider: mock}\n";
        Assert.Equal("sk-own", ConfigLoader.Load(own, "gateway.yaml", Env(("AGW_MASTER_KEY", "sk-env"))).Options!.MasterKey.Value);
    }

    [Fact]
    public void Model_serves_each_model_under_its_name_and_its_full_string()
    {
        var result = QuickStart.Load(["openai/gpt-4o", "anthropic/claude-sonnet-4-5", "openai/gpt-4o"], null, null, Env());
        Assert.Empty(result.Errors);
        var options = result.Options!;
        Assert.Equal(QuickStart.Source, options.Source);
        Assert.Equal(["gpt-4o", "claude-sonnet-4-5"], options.Deployments.Select(d => d.ModelName));
        Assert.Equal(["openai", "anthropic"], options.Deployments.Select(d => d.Provider));
        Assert.Equal("https://api.openai.com/v1", options.Deployments[0].ApiBase.ToString().TrimEnd('/'));
        Assert.Equal(new AliasOptions("gpt-4o", Hidden: true), options.Aliases["openai/gpt-4o"]);
        Assert.Equal(new AliasOptions("claude-sonnet-4-5", Hidden: true), options.Aliases["anthropic/claude-sonnet-4-5"]);
        // Priced from the built-in table like any deployment.
        Assert.NotNull(options.Deployments[0].ResolvedPrice);
    }

    [Fact]
    public void Alias_and_api_base_apply_to_the_model()
    {
        var options = QuickStart.Load(["openai/my-finetune"], "tuned", "http://127.0.0.1:9/v1", Env()).Options!;
        var d = Assert.Single(options.Deployments);
        Assert.Equal("tuned", d.ModelName);
        Assert.Equal("my-finetune", d.Model);
        Assert.Equal("http://127.0.0.1:9/v1", d.ApiBase.ToString().TrimEnd('/'));
        Assert.Equal("tuned", options.Aliases["openai/my-finetune"].Target);
    }

    [Fact]
    public void A_bad_model_or_option_is_reported_by_the_option_not_by_a_generated_path()
    {
        var unknown = QuickStart.Load(["opneai/gpt-4o"], null, null, Env());
        Assert.Null(unknown.Options);
        Assert.StartsWith("--model opneai/gpt-4o: unknown provider 'opneai'", Assert.Single(unknown.Errors), StringComparison.Ordinal);

        // A file's deployment of a provider not served is skipped with a warning; one named on the command line is refused.
        var unserved = QuickStart.Load(["sagemaker/my-endpoint", "openai/gpt-4o"], null, null, Env());
        Assert.Null(unserved.Options);
        var unservedError = Assert.Single(unserved.Errors);
        Assert.StartsWith("--model sagemaker/my-endpoint: provider 'sagemaker' is not served", unservedError, StringComparison.Ordinal);
        // Refused, not skipped; and --strict is no option of a --model quick start.
        Assert.DoesNotContain("the other models start", unservedError, StringComparison.Ordinal);
        Assert.DoesNotContain("--strict", unservedError, StringComparison.Ordinal);

        var badBase = QuickStart.Load(["openai/gpt-4o"], null, "not a url", Env());
        Assert.StartsWith("--api_base not a url: ", Assert.Single(badBase.Errors), StringComparison.Ordinal);

        var twoWithAlias = QuickStart.Load(["openai/gpt-4o", "openai/gpt-4o-mini"], "x", null, Env());
        Assert.Contains("--alias names one model", Assert.Single(twoWithAlias.Errors), StringComparison.Ordinal);

        // Quotes, colons and newlines cannot change the generated file's shape.
        var odd = QuickStart.Load(["openai/a\": b\n  - model_name: c"], null, null, Env());
        Assert.Equal("a\": b\n  - model_name: c", Assert.Single(odd.Options!.Deployments).Model);
    }

    [Fact]
    public void A_model_without_its_providers_key_in_the_environment_is_warned_about()
    {
        // A provider's key variable that no machine running the tests sets.
        const string variable = "XAI_API_KEY";
        if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 }) return;
        var result = QuickStart.Load(["xai/grok-4"], null, null, Env());
        Assert.Contains(result.Warnings, w => w.StartsWith("--model xai/grok-4: no API key in XAI_API_KEY", StringComparison.Ordinal));
    }
}
