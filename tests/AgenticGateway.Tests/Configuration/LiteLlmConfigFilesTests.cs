using System.Text.RegularExpressions;
using AgenticGateway.Configuration;

namespace AgenticGateway.Tests.Configuration;

/// <summary>
/// LiteLLM's own proxy config files (Fixtures/litellm, copied unchanged from BerriAI/litellm; SOURCE.md says from
/// where) loaded through the real config loader, each with the outcome it must have. The totals are the number in
/// issue 15's closing note: how many real LiteLLM files load.
/// </summary>
[Trait("Category", "unit")]
public class LiteLlmConfigFilesTests
{
    private enum Outcome { Clean, Warnings, Rejected }

    /// <summary>What each file must do: its outcome, and text each listed warning or error must contain (for a rejected
    /// file, every error must match one of them: it is rejected for these reasons only).</summary>
    private static readonly Dictionary<string, (Outcome Outcome, string[] Expect)> Expected = new()
    {
        ["_health_check_test_config.yaml"] = (Outcome.Warnings, ["background_health_checks: not supported, ignored: no background checks"]),
        ["adaptive_router_example.yaml"] = (Outcome.Warnings, ["provider 'auto_router' is not served by this gateway, so 'smart-cheap-router'"]),
        ["aliases_config.yaml"] = (Outcome.Warnings, ["no price is known for model 'zephyr'"]),
        ["azure_config.yaml"] = (Outcome.Warnings, ["no price is known for model 'chatgpt-v-2'"]),
        ["azure_config_with_tpm.yaml"] = (Outcome.Clean, []),
        ["china_domestic_free_sources.yaml"] = (Outcome.Rejected, ["no model is left to serve: every deployment was skipped"]),
        ["disable_schema_update.yaml"] = (Outcome.Warnings, ["the 'gcs_bucket' callback is not offered: every request is in the spend log"]),
        ["enterprise_config.yaml"] = (Outcome.Warnings, ["the 'prometheus' callback is not offered: Prometheus metrics are always served at /metrics"]),
        ["hosted_litellm.yaml"] = (Outcome.Rejected, ["invalid YAML at line 8"]),
        ["load_balancer.yaml"] = (Outcome.Warnings, ["provider 'mistralai' is not served by this gateway, so 'mistral-7b-instruct'"]),
        ["macos_optimized_config.yaml"] = (Outcome.Warnings, ["litellm_settings.cache_params.type: the disk cache is not offered"]),
        ["multi_instance_simple_config.yaml"] = (Outcome.Warnings, ["litellm_settings.cache_params.type: a redis cache names no Redis"]),
        ["oai_misc_config.yaml"] = (Outcome.Warnings, ["default_team_settings[0]: per-team logging is not offered, so team 'team-1' has no logging to langfuse", "finetune_settings: not supported"]),
        ["okta_jwt_auth_config.yaml"] = (Outcome.Rejected, ["JWT auth needs JWT_PUBLIC_KEY_URL", "Run with --allow-unsupported"]),
        ["otel_test_config.yaml"] = (Outcome.Rejected, ["the 'aporia' guardrail is not supported", "the 'bedrock' guardrail is not supported", "the custom guardrail class"]),
        ["pass_through_config.yaml"] = (Outcome.Rejected, ["custom_auth: custom authentication code is not supported"]),
        ["prometheus_test_config.yaml"] = (Outcome.Warnings, ["the 'otel' callback is not offered: add a tracing: section", "the 'prometheus' callback is not offered"]),
        ["proxy_config.yaml"] = (Outcome.Rejected, ["invalid YAML at line 34"]),
        ["proxy_server_config.yaml"] = (Outcome.Warnings, ["provider 'sagemaker' is not served", "model 'azure/' names no azure model"]),
        ["queue.yaml"] = (Outcome.Clean, []),
        ["reject_clientside_metadata_tags_config.yaml"] = (Outcome.Warnings, ["reject_clientside_metadata_tags: not supported"]),
        ["reject_metadata_tags_config.yaml"] = (Outcome.Warnings, ["reject_metadata_tags: not supported"]),
        ["simple_config.yaml"] = (Outcome.Clean, []),
        ["spend_tracking_config.yaml"] = (Outcome.Warnings, ["use_redis_transaction_buffer: not supported"]),
        ["store_model_db_config.yaml"] = (Outcome.Warnings, ["custom_team_metadata_validate: not supported"]),
        ["test_pipeline_config.yaml"] = (Outcome.Rejected, ["the custom guardrail class 'pipeline_test_guardrails.", "policies: guardrail policies is not supported"]),
        ["tool_permission_example.yaml"] = (Outcome.Rejected, ["the 'tool_permission' guardrail is not supported"]),
        ["websearch_interception_config.yaml"] = (Outcome.Warnings, ["the 'websearch_interception' callback is not offered"]),
    };

    private static string Dir => Path.Combine(AppContext.BaseDirectory, "Fixtures", "litellm");

    /// <summary>
    /// The file loaded with the environment a LiteLLM user of it has: every os.environ/NAME it reads set (a URL for a
    /// base, a number for a port), and an AWS region, so the outcome does not depend on this machine's environment.
    /// </summary>
    private static ConfigLoadResult Load(string file, bool allowUnsupported = false, bool strict = false)
    {
        var path = Path.Combine(Dir, file);
        var text = File.ReadAllText(path);
        var variables = Regex.Matches(text, @"os\.environ/([A-Z0-9_]+)").Select(m => m.Groups[1].Value).Distinct().ToDictionary(n => n, n =>
            n.Contains("PORT") ? "6379" : n.Contains("BASE") || n.Contains("URL") ? $"https://{n.ToLowerInvariant().Replace('_', '-')}.example" : $"test-{n.ToLowerInvariant()}");
        variables["AWS_REGION_NAME"] = "us-east-1";
        return ConfigLoader.Load(text, path, new Dictionary<string, string>(), allowUnsupported, strict, variables);
    }

    public static TheoryData<string> Files() => [.. Expected.Keys.Order()];

    [Fact]
    public void Every_fixture_file_has_an_expected_outcome()
    {
        var files = Directory.GetFiles(Dir, "*.yaml").Select(Path.GetFileName).Order().ToArray();
        Assert.Equal(Expected.Keys.Order().ToArray(), files);
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void A_real_litellm_config_file_has_its_expected_outcome(string file)
    {
        var (outcome, expect) = Expected[file];
        var result = Load(file);
        switch (outcome)
        {
            case Outcome.Clean:
                Assert.Empty(result.Errors);
                Assert.Empty(result.Warnings);
                Assert.NotNull(result.Options);
                break;
            case Outcome.Warnings:
                Assert.Empty(result.Errors);
                Assert.NotNull(result.Options);
                foreach (var text in expect) Assert.Contains(result.Warnings, w => w.Contains(text, StringComparison.Ordinal));
                break;
            case Outcome.Rejected:
                Assert.Null(result.Options);
                foreach (var text in expect) Assert.Contains(result.Errors, e => e.Contains(text, StringComparison.Ordinal));
                Assert.All(result.Errors, e => Assert.Contains(expect, text => e.Contains(text, StringComparison.Ordinal)));
                break;
        }
    }

    [Fact]
    public void The_closing_note_count_of_real_files_that_load()
    {
        var outcomes = Expected.Keys.Select(f => Load(f)).Select(r => r.Options is null ? Outcome.Rejected : r.Warnings.Count == 0 ? Outcome.Clean : Outcome.Warnings).ToList();
        Assert.Equal(28, outcomes.Count);
        Assert.Equal(3, outcomes.Count(o => o == Outcome.Clean));
        Assert.Equal(17, outcomes.Count(o => o == Outcome.Warnings));
        Assert.Equal(8, outcomes.Count(o => o == Outcome.Rejected));
    }

    [Theory]
    [InlineData("okta_jwt_auth_config.yaml")]
    [InlineData("otel_test_config.yaml")]
    [InlineData("pass_through_config.yaml")]
    [InlineData("test_pipeline_config.yaml")]
    [InlineData("tool_permission_example.yaml")]
    public void A_file_refused_only_for_unenforceable_security_settings_loads_with_allow_unsupported(string file)
    {
        var result = Load(file, allowUnsupported: true);
        // okta's JWKS comes from an environment variable LiteLLM reads (JWT_PUBLIC_KEY_URL) that the file does not set.
        if (file == "okta_jwt_auth_config.yaml") Assert.All(result.Errors, e => Assert.Contains("JWT_PUBLIC_KEY_URL", e));
        else
        {
            Assert.Empty(result.Errors);
            Assert.Contains(result.Warnings, w => w.Contains("NOT enforced", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Strict_turns_a_skipped_provider_into_an_error_and_keeps_the_warnings()
    {
        var result = Load("load_balancer.yaml", strict: true);
        Assert.Null(result.Options);
        var error = Assert.Single(result.Errors);
        Assert.Contains("provider 'mistralai' is not served by this gateway (model group 'mistral-7b-instruct'", error);
        // An error refuses the whole file: it must not say the model is skipped and the others start.
        Assert.DoesNotContain("skipped", error);
        Assert.DoesNotContain("the other models start", error);
    }

    [Fact]
    public void Load_balancer_yaml_serves_both_keys_and_openrouter_under_one_group_with_distinct_ids()
    {
        var options = Load("load_balancer.yaml").Options!;
        var group = options.Deployments.Where(d => d.ModelName == "gpt-3.5-turbo").ToArray();
        Assert.Equal(3, group.Length);
        Assert.Equal(3, group.Select(d => d.Id).Distinct().Count());
        // rpm and tpm beside litellm_params count, as LiteLLM's router reads them there.
        Assert.All(group.Take(2), d => { Assert.Equal(3, d.Rpm); Assert.Equal(20000, d.Tpm); });
        // The id derives from a hash of the key, never the key.
        Assert.All(group, d => Assert.DoesNotContain("sk-", d.Id));
    }

    [Fact]
    public void Azure_config_reads_yaml_1_1_integers_as_pyyaml_does()
    {
        var options = Load("azure_config.yaml").Options!;
        Assert.Equal([20000L, 100000L], options.Deployments.Select(d => d.Tpm!.Value).ToArray());
        Assert.Equal(TimeSpan.FromSeconds(0.5), options.Deployments[0].StreamTimeout);
    }

    [Fact]
    public void Aliases_config_keeps_its_per_deployment_temperature_and_max_tokens()
    {
        var options = Load("aliases_config.yaml").Options!;
        var turbo = options.Deployments.Single(d => d.ModelName == "gpt-3.5-turbo");
        Assert.Equal(["temperature=0.1", "max_tokens=20"], turbo.DefaultParams.Select(p => $"{p.Name}={p.Json}").ToArray());
    }

    [Fact]
    public void Enterprise_config_turns_on_tag_filtering_with_the_deployment_tags()
    {
        var options = Load("enterprise_config.yaml").Options!;
        Assert.True(options.Router.TagFiltering);
        Assert.Equal(["teamA"], options.Deployments.Single().Tags.ToArray());
        Assert.Equal("team-a-model", options.Deployments.Single().Id);
    }
}
