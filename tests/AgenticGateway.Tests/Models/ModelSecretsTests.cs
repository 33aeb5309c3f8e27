using System.Text.Json;
using AgenticGateway.Configuration;
using AgenticGateway.Models;

namespace AgenticGateway.Tests.Models;

/// <summary>Stored models' credentials: encrypted at rest, references kept, refused without a key, unreadable with another.</summary>
[Trait("Category", "unit")]
public sealed class ModelSecretsTests
{
    private const string Params = """{"model":"openai/gpt-4o","api_key":"sk-provider-secret-123456","api_base":"https://example.com/v1","input_cost_per_token":0.001,"extra_headers":{"Authorization":"Bearer abcdef123456"}}""";

    [Fact]
    public void Credentials_are_encrypted_and_read_back_and_everything_else_is_left_alone()
    {
        var secrets = new ModelSecrets(() => "sk-master");
        var stored = secrets.Protect(Params);
        Assert.DoesNotContain("sk-provider-secret-123456", stored, StringComparison.Ordinal);
        Assert.DoesNotContain("abcdef123456", stored, StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(stored);
        Assert.Equal("https://example.com/v1", doc.RootElement.GetProperty("api_base").GetString());
        Assert.Equal(0.001m, doc.RootElement.GetProperty("input_cost_per_token").GetDecimal());
        Assert.Equal(JsonDocument.Parse(Params).RootElement.ToString(), JsonDocument.Parse(secrets.Unprotect(stored)).RootElement.ToString());
    }

    [Fact]
    public void Environment_references_are_stored_as_they_are_even_without_a_key()
    {
        const string reference = """{"model":"openai/gpt-4o","api_key":"os.environ/OPENAI_API_KEY"}""";
        Assert.Equal(reference, new ModelSecrets(() => null).Protect(reference));
    }

    [Fact]
    public void A_literal_credential_without_a_key_to_encrypt_it_is_refused()
    {
        var ex = Assert.Throws<ModelSecretsException>(() => new ModelSecrets(() => null).Protect(Params));
        Assert.Contains("LITELLM_SALT_KEY", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Another_key_cannot_read_them()
    {
        var stored = new ModelSecrets(() => "sk-master").Protect(Params);
        Assert.Throws<ModelSecretsException>(() => new ModelSecrets(() => "sk-other").Unprotect(stored));
    }

    [Theory]
    [InlineData("api_key", true)]
    [InlineData("aws_secret_access_key", true)]
    [InlineData("vertex_credentials", true)]
    [InlineData("Authorization", true)]
    [InlineData("input_cost_per_token", false)]
    [InlineData("max_tokens", false)]
    [InlineData("api_base", false)]
    public void Sensitive_fields_follow_LiteLLMs_rule(string key, bool sensitive) => Assert.Equal(sensitive, SecretFields.IsSensitive(key));

    [Fact]
    public void Masks_keep_four_characters_at_each_end_as_LiteLLMs_do()
    {
        // LiteLLM's SensitiveDataMasker example: "sk-1234567890abcdef" -> "sk-1****cdef" (its stars fill the length).
        Assert.Equal("sk-1***********cdef", SecretFields.Mask("sk-1234567890abcdef"));
        Assert.Equal("*****", SecretFields.Mask("short"));
    }
}
