using AgenticGateway.Configuration;

namespace AgenticGateway.Tests.Configuration;

/// <summary>The LiteLLM settings behind its management features: the global proxy budget and model access groups.</summary>
[Trait("Category", "unit")]
public class LiteLlmManagementSettingsTests
{
    [Fact]
    public void Global_budget_and_access_groups_are_read_without_warnings()
    {
        // litellm_settings as in LiteLLM's proxy_server_config.yaml; access_groups as in its model access docs.
        var result = ConfigLoader.Load("""
            model_list:
              - model_name: gpt-4
                litellm_params: {model: openai/gpt-4, input_cost_per_token: 0.00003, output_cost_per_token: 0.00006}
                model_info: {access_groups: ["beta-models"]}
            litellm_settings:
              max_budget: 100
              budget_duration: 30d
            """, "config.yaml", new Dictionary<string, string>());
        Assert.Empty(result.Errors);
        Assert.DoesNotContain(result.Warnings, w => w.Contains("max_budget", StringComparison.Ordinal) || w.Contains("access_groups", StringComparison.Ordinal));
        Assert.Equal(100m, result.Options!.Budgets.ProxyMaxBudget);
        Assert.Equal("30d", result.Options.Budgets.ProxyBudgetDuration);
        Assert.Equal(["beta-models"], result.Options.Deployments[0].AccessGroups.ToArray());
    }

    [Fact]
    public void A_budget_duration_that_is_not_a_period_is_an_error_with_its_path()
    {
        var result = ConfigLoader.Load("""
            model_list:
              - model_name: gpt-4
                litellm_params: {model: openai/gpt-4}
            litellm_settings:
              max_budget: 10
              budget_duration: 3x
            """, "config.yaml", new Dictionary<string, string>());
        Assert.Contains(result.Errors, e => e.StartsWith("litellm_settings.budget_duration:", StringComparison.Ordinal));
    }
}
