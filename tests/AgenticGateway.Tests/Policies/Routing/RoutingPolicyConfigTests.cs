using AgenticGateway.Configuration;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Policies.Routing;

/// <summary>routing_policies in our schema and in a LiteLLM config: read, resolved, compiled at load, every error said.</summary>
[Trait("Category", "unit")]
public sealed class RoutingPolicyConfigTests : IDisposable
{
    private readonly TempDirectory _dir = new("agw-policy-config-");

    public void Dispose() => _dir.Dispose();

    private const string Models = """
        models:
          - name: smart
            provider: openai
            api_key: sk-test

        """;

    private ConfigLoadResult Load(string yaml) => ConfigLoader.Load(yaml, Path.Combine(_dir.Path, "config.yaml"), new Dictionary<string, string>());

    [Fact]
    public void A_relative_file_resolves_against_the_config_files_directory_and_settings_are_read()
    {
        File.WriteAllText(Path.Combine(_dir.Path, "rules.cedar"), PolicyRoutingFixture.SeedPolicies);
        var result = Load(Models + """
            routing_policies:
              file: rules.cedar
              mode: shadow
              decision_sample_rate: 0.25
              watch: false
              decision_retention: 7d
            """);
        Assert.True(result.Options is not null, string.Join("; ", result.Errors));
        var p = result.Options!.RoutingPolicies!;
        Assert.Equal(TimeSpan.FromDays(7), p.DecisionRetention);
        Assert.Equal(Path.Combine(_dir.Path, "rules.cedar"), p.Path);
        Assert.True(p.DryRun);
        Assert.Equal(0.25, p.DecisionSampleRate);
        Assert.False(p.Watch);
    }

    [Fact]
    public void Decisions_are_kept_thirty_days_unless_configured()
    {
        File.WriteAllText(Path.Combine(_dir.Path, "rules.cedar"), PolicyRoutingFixture.SeedPolicies);
        Assert.Equal(TimeSpan.FromDays(30), Load(Models + "routing_policies: {file: rules.cedar}\n").Options!.RoutingPolicies!.DecisionRetention);
    }

    [Fact]
    public void Without_the_section_there_are_no_routing_policies() =>
        Assert.Null(Load(Models).Options!.RoutingPolicies);

    [Fact]
    public void Unknown_keys_a_bad_mode_and_a_missing_file_are_errors_with_their_paths()
    {
        var result = Load(Models + """
            routing_policies:
              files: rules.cedar
              mode: enforcing
              decision_sample_rate: 2
              decision_retention: 0s
            """);
        Assert.Null(result.Options);
        Assert.Contains("routing_policies.decision_retention: must be greater than zero", result.Errors);
        Assert.Contains("routing_policies.files: unknown key", result.Errors);
        Assert.Contains(result.Errors, e => e.StartsWith("routing_policies.mode: unknown mode 'enforcing'", StringComparison.Ordinal));
        Assert.Contains(result.Errors, e => e.StartsWith("routing_policies.decision_sample_rate:", StringComparison.Ordinal));
        Assert.Contains(result.Errors, e => e.StartsWith("routing_policies.file: a policy file or directory is required", StringComparison.Ordinal));
    }

    [Fact]
    public void A_missing_policy_file_stops_the_load()
    {
        var result = Load(Models + "routing_policies: {file: nowhere.cedar}\n");
        Assert.Null(result.Options);
        Assert.Contains($"routing_policies.file: {Path.Combine(_dir.Path, "nowhere.cedar")}: no such policy file or directory", result.Errors);
    }

    [Fact]
    public void Every_parse_error_of_every_file_in_a_directory_is_reported_with_file_line_and_column()
    {
        var rules = Directory.CreateDirectory(Path.Combine(_dir.Path, "rules")).FullName;
        File.WriteAllText(Path.Combine(rules, "a.cedar"), "permit (principal, action, resource)\n  when { 1 < };\n");
        File.WriteAllText(Path.Combine(rules, "b.cedar"), "forbid (principal, action, resource) when { true }\n");
        File.WriteAllText(Path.Combine(rules, "notes.txt"), "not a policy");
        var result = Load(Models + "routing_policies: {file: rules}\n");
        Assert.Null(result.Options);
        Assert.Contains(result.Errors, e => e.StartsWith($"routing_policies.file: {Path.Combine(rules, "a.cedar")}:2:", StringComparison.Ordinal));
        Assert.Contains(result.Errors, e => e.StartsWith($"routing_policies.file: {Path.Combine(rules, "b.cedar")}:", StringComparison.Ordinal));
    }

    [Fact]
    public void A_directory_loads_its_cedar_files_in_name_order()
    {
        var rules = Directory.CreateDirectory(Path.Combine(_dir.Path, "rules")).FullName;
        File.WriteAllText(Path.Combine(rules, "b.cedar"), "permit (principal, action, resource);");
        File.WriteAllText(Path.Combine(rules, "a.cedar"), "forbid (principal, action, resource) when { false };");
        var compiled = AgenticGateway.Configuration.RoutingPolicyFiles.Compile(rules);
        Assert.True(compiled.Succeeded, string.Join("; ", compiled.Errors));
        Assert.Equal([Path.Combine(rules, "a.cedar"), Path.Combine(rules, "b.cedar")], compiled.Files.ToArray());
        Assert.Equal(["policy0", "policy1"], compiled.Set!.Policies.Select(p => p.Id).ToArray());
        Assert.Equal(AgenticGateway.Cedar.PolicyEffect.Forbid, compiled.Set.Policies[0].Effect);
    }

    [Fact]
    public void A_litellm_config_takes_routing_policies_at_the_top_level_without_a_warning()
    {
        File.WriteAllText(Path.Combine(_dir.Path, "rules.cedar"), PolicyRoutingFixture.SeedPolicies);
        var result = Load("""
            model_list:
              - model_name: smart
                litellm_params: {model: openai/gpt-4o, api_key: sk-test}
            routing_policies:
              file: rules.cedar
              dry_run: true
            """);
        Assert.True(result.Options is not null, string.Join("; ", result.Errors));
        Assert.True(result.Options!.RoutingPolicies!.DryRun);
        Assert.DoesNotContain(result.Warnings, w => w.Contains("routing_policies", StringComparison.Ordinal));
    }

    [Fact]
    public void A_litellm_config_with_a_broken_policy_file_does_not_load()
    {
        File.WriteAllText(Path.Combine(_dir.Path, "rules.cedar"), "permit (principal, action, resource) when { ;");
        var result = Load("""
            model_list:
              - model_name: smart
                litellm_params: {model: openai/gpt-4o, api_key: sk-test}
            routing_policies: {file: rules.cedar}
            """);
        Assert.Null(result.Options);
        Assert.Contains(result.Errors, e => e.StartsWith($"routing_policies.file: {Path.Combine(_dir.Path, "rules.cedar")}:1:", StringComparison.Ordinal));
    }
}
