using AgenticGateway.Configuration;

namespace AgenticGateway.Tests.Configuration;

/// <summary>What a LiteLLM config needs to load unchanged: PyYAML's numbers, distinct deployment ids, providers we do not serve.</summary>
[Trait("Category", "unit")]
public class LiteLlmMigrationTests
{
    private static ConfigLoadResult Load(string yaml, bool strict = false) =>
        ConfigLoader.Load(yaml, "test.yaml", new Dictionary<string, string>(), strict: strict, variables: new Dictionary<string, string>());

    [Theory]
    [InlineData("20_000", 20000)]
    [InlineData("1_000_000", 1000000)]
    [InlineData("0x4E20", 20000)]
    [InlineData("047040", 20000)]       // octal, as PyYAML reads a leading zero
    [InlineData("0b100111000100000", 20000)]
    [InlineData("5:33:20", 20000)]      // sexagesimal
    [InlineData("+20000", 20000)]
    [InlineData("\"20000\"", 20000)]
    public void Numbers_are_read_as_pyyaml_reads_them(string tpm, long expected)
    {
        var result = Load($"""
            model_list:
              - model_name: m
                litellm_params: {"{"}model: openai/gpt-4o, api_key: k, tpm: {tpm}, rpm: 1_000{"}"}
            """);
        Assert.Empty(result.Errors);
        Assert.Equal(expected, result.Options!.Deployments[0].Tpm);
        Assert.Equal(1000, result.Options!.Deployments[0].Rpm);
    }

    [Fact]
    public void Underscores_and_sexagesimal_work_for_durations_and_decimals_too()
    {
        var result = Load("""
            model_list:
              - model_name: m
                litellm_params: {model: openai/gpt-4o, api_key: k, timeout: 1:30, input_cost_per_token: 0.000_002_5, output_cost_per_token: 1_0.0}
            router_settings:
              num_retries: 0x3
            """);
        Assert.Empty(result.Errors);
        Assert.Equal(TimeSpan.FromSeconds(90), result.Options!.Deployments[0].Timeout);
        Assert.Equal(0.0000025m, result.Options.Deployments[0].Price!.InputPerToken);
        Assert.Equal(3, result.Options.Router.NumRetries);
    }

    [Fact]
    public void A_quoted_string_is_not_a_number_where_text_is_expected()
    {
        // api_version 0x1 is not a number to PyYAML once quoted, and text fields never resolve numbers.
        var result = Load("""
            model_list:
              - model_name: m
                litellm_params: {model: azure/d, api_base: "https://x.openai.azure.com", api_key: k, api_version: 2024_10_21}
            """);
        Assert.Empty(result.Errors);
        Assert.Equal("2024_10_21", result.Options!.Deployments[0].ApiVersion);
    }

    [Fact]
    public void Deployments_that_differ_only_in_api_key_get_distinct_ids_that_hold_no_key()
    {
        var result = Load("""
            model_list:
              - model_name: gpt-4o
                litellm_params: {model: openai/gpt-4o, api_key: sk-first-secret}
              - model_name: gpt-4o
                litellm_params: {model: openai/gpt-4o, api_key: sk-second-secret}
            """);
        Assert.Empty(result.Errors);
        var ids = result.Options!.Deployments.Select(d => d.Id).ToArray();
        Assert.Equal(2, ids.Distinct().Count());
        Assert.All(ids, id => Assert.DoesNotContain("secret", id));
        Assert.DoesNotContain(result.Warnings, w => w.Contains("secret", StringComparison.Ordinal));
    }

    [Fact]
    public void Derived_ids_are_stable_across_loads_and_change_with_the_key()
    {
        string IdWith(string key) => Load($"model_list: [{{model_name: m, litellm_params: {{model: openai/gpt-4o, api_key: {key}}}}}]").Options!.Deployments[0].Id;
        Assert.Equal(IdWith("sk-a"), IdWith("sk-a"));
        Assert.NotEqual(IdWith("sk-a"), IdWith("sk-b"));
    }

    [Fact]
    public void An_entry_listed_twice_serves_twice_with_a_warning_naming_both()
    {
        var result = Load("""
            model_list:
              - model_name: claude
                litellm_params: {model: anthropic/claude-sonnet-4-5, api_key: k}
              - model_name: claude
                litellm_params: {model: anthropic/claude-sonnet-4-5, api_key: k}
            """);
        Assert.Empty(result.Errors);
        Assert.Equal(2, result.Options!.Deployments.Select(d => d.Id).Distinct().Count());
        Assert.Contains(result.Warnings, w => w.StartsWith("model_list[1]: the same deployment as model_list[0]", StringComparison.Ordinal));
    }

    [Fact]
    public void Model_info_id_is_honoured_and_a_real_collision_names_both_entries_and_the_fix()
    {
        var ok = Load("model_list: [{model_name: m, litellm_params: {model: openai/gpt-4o, api_key: k}, model_info: {id: my-id}}]");
        Assert.Equal("my-id", ok.Options!.Deployments[0].Id);

        var result = Load("""
            model_list:
              - model_name: a
                litellm_params: {model: openai/gpt-4o, api_key: k1}
                model_info: {id: shared}
              - model_name: b
                litellm_params: {model: openai/gpt-4o-mini, api_key: k2}
                model_info: {id: shared}
            """);
        Assert.Null(result.Options);
        var error = Assert.Single(result.Errors);
        Assert.StartsWith("model_list[1]: deployment id 'shared' is already used by model_list[0]", error);
        Assert.Contains("give one of them another model_info.id", error);
    }

    [Fact]
    public void A_provider_not_served_is_skipped_with_a_warning_and_the_rest_starts()
    {
        var result = Load("""
            model_list:
              - model_name: gpt-4o
                litellm_params: {model: openai/gpt-4o, api_key: k}
              - model_name: sm
                litellm_params: {model: sagemaker/my-endpoint}
            router_settings:
              fallbacks: [{gpt-4o: [sm]}]
            """);
        Assert.Empty(result.Errors);
        Assert.Equal(["gpt-4o"], result.Options!.Deployments.Select(d => d.ModelName).ToArray());
        Assert.Contains(result.Warnings, w => w.StartsWith("model_list[1].litellm_params.model: provider 'sagemaker' is not served by this gateway, so 'sm'", StringComparison.Ordinal)
            && w.EndsWith("(an error under --strict)", StringComparison.Ordinal));
        Assert.Contains(result.Warnings, w => w.Contains("model group 'sm' is not served (its deployments were skipped)", StringComparison.Ordinal));
    }

    [Fact]
    public void Strict_makes_a_skipped_provider_an_error_and_the_warnings_are_still_reported()
    {
        var result = Load("""
            model_list:
              - model_name: gpt-4o
                litellm_params: {model: openai/gpt-4o, api_key: k}
              - model_name: sm
                litellm_params: {model: sagemaker/my-endpoint}
            litellm_settings:
              telemetry: false
            """, strict: true);
        Assert.Null(result.Options);
        var error = Assert.Single(result.Errors);
        Assert.StartsWith("model_list[1].litellm_params.model: provider 'sagemaker' is not served by this gateway (model group 'sm', sagemaker/my-endpoint); providers served: ", error, StringComparison.Ordinal);
        Assert.EndsWith("; see docs/litellm-compatibility.md", error, StringComparison.Ordinal);
        Assert.DoesNotContain("the other models start", error, StringComparison.Ordinal);
        Assert.Contains(result.Warnings, w => w.StartsWith("litellm_settings.telemetry: not supported", StringComparison.Ordinal));
    }

    [Fact]
    public void A_provider_one_letter_off_one_we_serve_is_a_typo_and_an_error()
    {
        var result = Load("model_list: [{model_name: m, litellm_params: {model: opneai/gpt-4o}}]");
        Assert.Contains("unknown provider 'opneai': did you mean 'openai'?", Assert.Single(result.Errors));
    }

    [Theory]
    [InlineData("prometheus", "/metrics")]
    [InlineData("otel", "tracing: section")]
    [InlineData("langfuse", "spend log")]
    [InlineData("datadog", "OpenTelemetry traces")]
    public void A_logging_callback_says_what_to_use_instead(string callback, string instead)
    {
        var result = Load($"model_list: [{{model_name: m, litellm_params: {{model: openai/gpt-4o, api_key: k}}}}]\nlitellm_settings: {{success_callback: [{callback}]}}");
        Assert.Contains(result.Warnings, w => w.StartsWith($"litellm_settings.success_callback: the '{callback}' callback is not offered", StringComparison.Ordinal) && w.Contains(instead, StringComparison.Ordinal));
    }

    [Fact]
    public void Default_team_settings_are_reported_per_team_with_what_to_use_instead()
    {
        var result = Load("""
            model_list: [{model_name: m, litellm_params: {model: openai/gpt-4o, api_key: k}}]
            litellm_settings:
              default_team_settings:
                - team_id: team-1
                  success_callback: ["langfuse"]
                  langfuse_public_key: os.environ/LANGFUSE_PROJECT1_PUBLIC
            """);
        Assert.Empty(result.Errors);
        Assert.Contains(result.Warnings, w => w.StartsWith("litellm_settings.default_team_settings[0]: per-team logging is not offered, so team 'team-1' has no logging to langfuse", StringComparison.Ordinal));
        // The team's own keys are not reported one by one, and a secret reference is not expanded (so not warned about).
        Assert.DoesNotContain(result.Warnings, w => w.Contains("langfuse_public_key", StringComparison.Ordinal) || w.Contains("LANGFUSE_PROJECT1_PUBLIC", StringComparison.Ordinal));
    }

    [Fact]
    public void Deployment_tags_without_tag_filtering_are_reported_once()
    {
        var result = Load("""
            model_list:
              - {model_name: m, litellm_params: {model: openai/gpt-4o, api_key: k, tags: [teamA]}}
              - {model_name: m, litellm_params: {model: openai/gpt-4o, api_key: k2, tags: [teamB]}}
            """);
        Assert.Single(result.Warnings, w => w.StartsWith("model_list[0].litellm_params.tags: deployment tags route requests only with router_settings.enable_tag_filtering: true", StringComparison.Ordinal));
        Assert.DoesNotContain(Load("""
            model_list: [{model_name: m, litellm_params: {model: openai/gpt-4o, api_key: k, tags: [teamA]}}]
            router_settings: {enable_tag_filtering: true}
            """).Warnings, w => w.Contains("tags", StringComparison.Ordinal));
    }

    [Fact]
    public void A_tracing_section_beside_a_litellm_config_is_read()
    {
        var result = Load("""
            model_list: [{model_name: m, litellm_params: {model: openai/gpt-4o, api_key: k}}]
            litellm_settings: {callbacks: [otel]}
            tracing: {otlp_endpoint: "http://collector:4318"}
            """);
        Assert.Empty(result.Errors);
        Assert.Equal("http://collector:4318", result.Options!.Tracing.OtlpEndpoint);
    }
}
