using AgenticGateway.Configuration;

namespace AgenticGateway.Tests.Configuration;

[Trait("Category", "unit")]
public class ConfigLoaderTests
{
    private static readonly Dictionary<string, string> NoEnv = new();

    private static ConfigLoadResult Load(string yaml, Dictionary<string, string>? env = null) => ConfigLoader.Load(yaml, "test.yaml", env ?? NoEnv);

    [Theory]
    [InlineData("general_settings: {master_key: os.environ/MY_MASTER}\nmodel_list:\n  - {model_name: m, litellm_params: {model: openai/gpt-4o, api_key: k}}\n", "general_settings.master_key")]
    [InlineData("master_key: os.environ/MY_MASTER\nmodels:\n  - {name: m, provider: openai, api_key: k}\n", "master_key")]
    [InlineData("master_key: ${MY_MASTER}\nmodels:\n  - {name: m, provider: openai, api_key: k}\n", "master_key")]
    [InlineData("jwt: {secret: os.environ/MY_MASTER}\nmodels:\n  - {name: m, provider: openai, api_key: k}\n", "jwt.secret")]
    public void An_auth_secret_naming_an_unset_or_empty_variable_is_an_error_not_an_open_gateway(string yaml, string path)
    {
        foreach (var variables in new[] { new Dictionary<string, string>(), new() { ["MY_MASTER"] = "" }, new() { ["MY_MASTER"] = "  " } })
        {
            var result = ConfigLoader.Load(yaml, "test.yaml", NoEnv, variables: variables);
            Assert.Null(result.Options);
            var error = Assert.Single(result.Errors);
            Assert.StartsWith($"{path}: '", error, StringComparison.Ordinal);
            Assert.Contains("names an environment variable that is not set or is empty", error, StringComparison.Ordinal);
        }
        var set = ConfigLoader.Load(yaml, "test.yaml", NoEnv, variables: new Dictionary<string, string> { ["MY_MASTER"] = "sk-0123456789abcdef0123456789abcdef" });
        Assert.Empty(set.Errors);
        Assert.True(set.Options!.MasterKey.IsSet || set.Options.Jwt!.Secret.IsSet);
    }

    [Fact]
    public void Own_schema_maps_models_groups_aliases_and_router()
    {
        var result = Load("""
            server:
              port: 9099
              max_request_body_bytes: 1048576
            master_key: sk-master
            models:
              - name: gpt-4o
                provider: openai
                api_key: sk-a
                weight: 2
              - name: gpt-4o
                provider: azure
                model: my-deployment
                api_base: https://example.openai.azure.com
                api_key: sk-b
                timeout: 30s
            aliases:
              smart: gpt-4o
            router:
              strategy: least-busy
              groups:
                gpt-4o: {strategy: latency-based}
              num_retries: 3
              cooldown_time: 10s
              fallbacks:
                smart: [gpt-4o]
            """);
        Assert.Empty(result.Errors);
        var o = result.Options!;
        Assert.Equal("http://0.0.0.0:9099", o.Server.Urls);
        Assert.Equal(1048576, o.Server.MaxRequestBodyBytes);
        Assert.Equal("sk-master", o.MasterKey.Value);
        Assert.Equal(2, o.Deployments.Length);
        Assert.Equal("gpt-4o", o.Deployments[0].Model);
        Assert.Equal(new Uri("https://api.openai.com/v1"), o.Deployments[0].ApiBase);
        Assert.Equal("my-deployment", o.Deployments[1].Model);
        Assert.Equal(ProvidersDefaultAzureVersion, o.Deployments[1].ApiVersion);
        Assert.Equal(TimeSpan.FromSeconds(30), o.Deployments[1].Timeout);
        Assert.Equal("gpt-4o", o.Aliases["smart"].Target);
        Assert.Equal("least-busy", o.Router.Strategy);
        Assert.Equal("latency-based", o.Router.GroupStrategies["gpt-4o"]);
        Assert.Equal(3, o.Router.NumRetries);
        Assert.Equal(TimeSpan.FromSeconds(10), o.Router.CooldownTime);
        Assert.Equal(["gpt-4o"], o.Router.Fallbacks["smart"].ToArray());
    }

    private const string ProvidersDefaultAzureVersion = ProviderCatalog.DefaultAzureApiVersion;

    [Fact]
    public void Every_error_is_reported_at_once_with_its_path()
    {
        var result = Load("""
            model_list:
              - model_name: a
                litellm_params: {model: openai/gpt-4o}
              - model_name: b
                litellm_params: {model: openai/gpt-4o, rpm: lots}
              - model_name: c
                litellm_params: {model: azure/dep}
              - model_name: d
                litellm_params: {model: opneai/gpt-4o}
            router_settings:
              routing_strategy: fastest
              fallbacks: [{a: [nope]}]
            """);
        Assert.Null(result.Options);
        Assert.Contains("model_list[1].litellm_params.rpm: expected an integer, got 'lots'", result.Errors);
        Assert.Contains("model_list[2].litellm_params.api_base: provider 'azure' needs an api_base", result.Errors);
        Assert.Contains(result.Errors, e => e.StartsWith("model_list[3].litellm_params.model: unknown provider 'opneai'", StringComparison.Ordinal));
        Assert.Contains(result.Errors, e => e.StartsWith("router_settings.routing_strategy: unknown routing strategy 'fastest'", StringComparison.Ordinal));
        Assert.Contains(result.Errors, e => e.StartsWith("router_settings.fallbacks[0].a[0]: unknown model group 'nope'", StringComparison.Ordinal));
        Assert.Equal(5, result.Errors.Count);
    }

    [Fact]
    public void Unknown_keys_are_errors_in_our_schema()
    {
        var result = Load("""
            models:
              - name: a
                provider: mock
                wieght: 2
            routr: {}
            """);
        Assert.Contains("models[0].wieght: unknown key", result.Errors);
        Assert.Contains("routr: unknown key", result.Errors);
    }

    [Fact]
    public void Unknown_keys_in_a_litellm_file_are_warnings_not_dropped_silently()
    {
        var result = Load("""
            model_list:
              - model_name: a
                litellm_params: {model: openai/gpt-4o, api_key: sk-x, mock_response: hi}
            litellm_settings:
              success_callback: [langfuse]
              drop_params: true
            general_settings:
              master_key: sk-1234
              alerting: [slack]
            """);
        Assert.Empty(result.Errors);
        Assert.Contains(result.Warnings, w => w.StartsWith("model_list[0].litellm_params.mock_response:", StringComparison.Ordinal));
        Assert.Contains(result.Warnings, w => w.StartsWith("litellm_settings.success_callback:", StringComparison.Ordinal));
        Assert.Contains(result.Warnings, w => w.StartsWith("general_settings.alerting:", StringComparison.Ordinal));
        Assert.DoesNotContain(result.Warnings, w => w.Contains("drop_params", StringComparison.Ordinal));
        Assert.Equal("sk-1234", result.Options!.MasterKey.Value);
    }

    [Fact]
    public void Environment_references_are_expanded_in_both_forms()
    {
        Environment.SetEnvironmentVariable("AGW_TEST_KEY_1", "sk-from-env");
        Environment.SetEnvironmentVariable("AGW_TEST_BASE_1", "http://127.0.0.1:9/v1");
        try
        {
            var result = Load("""
                model_list:
                  - model_name: a
                    litellm_params:
                      model: openai/gpt-4o
                      api_key: os.environ/AGW_TEST_KEY_1
                      api_base: ${AGW_TEST_BASE_1}
                      timeout: ${AGW_TEST_MISSING_TIMEOUT:-45}
                """);
            Assert.Empty(result.Errors);
            var d = result.Options!.Deployments[0];
            Assert.Equal("sk-from-env", d.ApiKey.Value);
            Assert.Equal(new Uri("http://127.0.0.1:9/v1"), d.ApiBase);
            Assert.Equal(TimeSpan.FromSeconds(45), d.Timeout);
        }
        finally
        {
            Environment.SetEnvironmentVariable("AGW_TEST_KEY_1", null);
            Environment.SetEnvironmentVariable("AGW_TEST_BASE_1", null);
        }
    }

    [Fact]
    public void Missing_environment_variable_is_a_warning()
    {
        var result = Load("""
            model_list:
              - model_name: a
                litellm_params: {model: openai/gpt-4o, api_key: os.environ/AGW_TEST_DEFINITELY_UNSET}
            """);
        Assert.Contains(result.Warnings, w => w.Contains("AGW_TEST_DEFINITELY_UNSET", StringComparison.Ordinal));
    }

    [Fact]
    public void Environment_overrides_build_a_list_the_file_does_not_have_in_index_order()
    {
        var env = new Dictionary<string, string>();
        for (var i = 0; i < 11; i++) env[$"AGW__sandboxes__egress__allow_hosts__{i}"] = $"h{i}.example.com";
        var result = Load("models: [{name: a, provider: openai, api_key: sk-file}]\n", env);
        Assert.Empty(result.Errors);
        Assert.Equal(Enumerable.Range(0, 11).Select(i => $"h{i}.example.com"), result.Options!.Sandboxes.Egress.AllowHosts!.Value);
    }

    [Fact]
    public void An_environment_override_that_cannot_apply_is_an_error_not_a_silent_drop()
    {
        var env = new Dictionary<string, string> { ["AGW__sandboxes__egress__allow_hosts__1"] = "pypi.org", ["AGW__router__num_retries__x"] = "1" };
        var result = Load("models: [{name: a, provider: openai, api_key: sk-file}]\nrouter: {num_retries: 2}\n", env);
        Assert.Contains("AGW__sandboxes__egress__allow_hosts__1: '1' is not an index of that list (it has 0 items; the next is 0)", result.Errors);
        Assert.Contains("AGW__router__num_retries__x: 'router__num_retries' is a single value: it has no 'x'", result.Errors);
    }

    [Fact]
    public void Environment_overrides_set_values_by_path()
    {
        var env = new Dictionary<string, string> { ["AGW__router__num_retries"] = "7", ["AGW__models__0__api_key"] = "sk-override" };
        var result = Load("""
            models:
              - name: a
                provider: openai
                api_key: sk-file
            """, env);
        Assert.Empty(result.Errors);
        Assert.Equal(7, result.Options!.Router.NumRetries);
        Assert.Equal("sk-override", result.Options.Deployments[0].ApiKey.Value);
    }

    [Fact]
    public void Secrets_never_print()
    {
        var result = Load("""
            master_key: sk-super-secret
            models:
              - {name: a, provider: openai, api_key: sk-also-secret}
            """);
        var text = result.Options!.ToString() + result.Options.Deployments[0];
        Assert.DoesNotContain("sk-super-secret", text, StringComparison.Ordinal);
        Assert.DoesNotContain("sk-also-secret", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_yaml_reports_line_and_column()
    {
        var result = Load("models:\n  - name: a\n   provider: [");
        Assert.Single(result.Errors);
        Assert.Contains("invalid YAML at line", result.Errors[0], StringComparison.Ordinal);
    }

    [Fact]
    public void Embedded_defaults_are_valid_and_serve_the_mock()
    {
        var result = EmbeddedDefaults.Load();
        Assert.Empty(result.Errors);
        Assert.All(result.Options!.Deployments, d => Assert.Equal("mock", d.Provider));
        Assert.Contains(result.Options.Deployments, d => d.ModelName == "gpt-4o");
    }

    [Fact]
    public void Litellm_model_group_alias_accepts_string_and_hidden_forms()
    {
        var result = Load("""
            model_list:
              - model_name: gpt-4o
                litellm_params: {model: openai/gpt-4o, api_key: k}
            router_settings:
              model_group_alias:
                gpt-4: gpt-4o
                secret: {model: gpt-4o, hidden: true}
            """);
        Assert.Empty(result.Errors);
        Assert.False(result.Options!.Aliases["gpt-4"].Hidden);
        Assert.True(result.Options.Aliases["secret"].Hidden);
    }

    [Fact]
    public void Bare_model_names_get_the_provider_litellm_would_infer()
    {
        var result = Load("""
            model_list:
              - model_name: a
                litellm_params: {model: gpt-4o-mini, api_key: k}
              - model_name: b
                litellm_params: {model: openrouter/anthropic/claude-3.5-sonnet, api_key: k}
            """);
        Assert.Empty(result.Errors);
        Assert.Equal(("openai", "gpt-4o-mini"), (result.Options!.Deployments[0].Provider, result.Options.Deployments[0].Model));
        Assert.Equal(("openrouter", "anthropic/claude-3.5-sonnet"), (result.Options.Deployments[1].Provider, result.Options.Deployments[1].Model));
        Assert.Equal(new Uri("https://openrouter.ai/api/v1"), result.Options.Deployments[1].ApiBase);
    }
}
