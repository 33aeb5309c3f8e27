using System.Text.Json;
using AgenticGateway.Configuration;

namespace AgenticGateway.Tests.Models;

/// <summary>A model from the API validated by the config file's rules, its JSON types kept.</summary>
[Trait("Category", "unit")]
public sealed class StoredDeploymentTests
{
    private static StoredDeploymentResult Build(string litellmParams, string? modelInfo = null, string name = "m") =>
        StoredDeployment.Build(name, JsonDocument.Parse(litellmParams).RootElement, modelInfo is null ? null : JsonDocument.Parse(modelInfo).RootElement, "the-id");

    [Fact]
    public void A_valid_entry_builds_the_same_deployment_as_a_config_file_entry()
    {
        var result = Build("""{"model":"openai/gpt-4o","api_base":"http://localhost:1234/v1","rpm":60,"tpm":20000,"timeout":30}""", """{"id":"ignored","max_input_tokens":1000}""");
        var d = Assert.IsType<DeploymentOptions>(result.Deployment);
        Assert.Equal("the-id", d.Id);
        Assert.Equal("openai", d.Provider);
        Assert.Equal(60, d.Rpm);
        Assert.Equal(20000, d.Tpm);
        Assert.Equal(1000, d.MaxInputTokens);
        Assert.Equal(TimeSpan.FromSeconds(30), d.Timeout);
    }

    [Fact]
    public void Strings_stay_strings_whatever_YAML_would_make_of_them()
    {
        // "null" as a model name and "yes" as an organization are text, not YAML's null and true.
        var d = Build("""{"model":"openai/gpt-4o","api_base":"http://localhost:1/v1","organization":"yes"}""", name: "null").Deployment!;
        Assert.Equal("null", d.ModelName);
        Assert.Contains(d.Headers, h => h.Key == "OpenAI-Organization" && h.Value == "yes");
    }

    [Fact]
    public void A_provider_not_served_is_refused_without_the_config_files_skip_wording()
    {
        // The 400 of POST /model/new: no other models start with it, and the API has no --strict.
        var error = Assert.Single(Build("""{"model":"sagemaker/my-endpoint"}""", name: "sm").Errors);
        Assert.StartsWith("litellm_params.model: provider 'sagemaker' is not served by this gateway (model group 'sm', sagemaker/my-endpoint); providers served: ", error, StringComparison.Ordinal);
        Assert.DoesNotContain("the other models start", error, StringComparison.Ordinal);
        Assert.DoesNotContain("--strict", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Errors_name_the_field_inside_the_entry()
    {
        var result = Build("""{"model":"openai/gpt-4o","api_base":"ftp://x","max_retries":-1}""");
        Assert.Null(result.Deployment);
        Assert.Contains(result.Errors, e => e.StartsWith("litellm_params.api_base: ", StringComparison.Ordinal));
        Assert.Contains(result.Errors, e => e.StartsWith("litellm_params.max_retries: ", StringComparison.Ordinal));
    }
}
