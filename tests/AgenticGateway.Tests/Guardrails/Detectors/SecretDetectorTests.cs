using AgenticGateway.Configuration;
using AgenticGateway.Safety.Guardrails;
using static AgenticGateway.Tests.Guardrails.Detectors.DetectorTestKit;

namespace AgenticGateway.Tests.Guardrails.Detectors;

/// <summary>hide-secrets answered locally: LiteLLM's documented examples and gitleaks-class rules.</summary>
[Trait("Category", "unit")]
public class SecretDetectorTests
{
    private static readonly ITextDetector Secrets = FromYaml("""
        guardrails:
          - guardrail_name: "my-custom-name"
            litellm_params:
              guardrail: "hide-secrets"
              mode: "pre_call"
        """);

    [Theory]
    // secret_detection.md's two examples.
    [InlineData("Hey, how's it going, API_KEY = 'sk_1234567890abcdef'", "Hey, how's it going, API_KEY = '[REDACTED]'")]
    [InlineData("what is the value of my open ai key? openai_api_key=sk-1234998222", "what is the value of my open ai key? openai_api_key=[REDACTED]")]
    [InlineData("aws AKIAIOSFODNN7EXAMPLE and aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws [REDACTED] and aws_secret_access_key = [REDACTED]")]
    [InlineData("use sk-proj-abcdefghijklmnopqrstuvwxyz0123456789 please", "use [REDACTED] please")]
    [InlineData("anthropic sk-ant-api03-" + "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ" + " end", "anthropic [REDACTED] end")]
    [InlineData("gh ghp_16C7e42F292c6912E7710c838347Ae178B4a", "gh [REDACTED]")]
    [InlineData("google AIzaSyD-1234567890abcdefghijklmnopqrstu ok", "google [REDACTED] ok")]
    [InlineData("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "stripe [REDACTED]")]
    [InlineData("slack xoxb-1234567890-abcdefghij", "slack [REDACTED]")]
    [InlineData("db postgres://admin:s3cr3t-pass@db.internal:5432/app", "db postgres://admin:[REDACTED]@db.internal:5432/app")]
    [InlineData("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "jwt [REDACTED]")]
    public void Secrets_are_redacted(string text, string expected) => Assert.Equal(expected, Apply(Secrets, text));

    [Fact]
    public void A_private_key_block_is_redacted_whole()
    {
        var key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1234567890abcdef\nqwertyuiopASDFGHJKL==\n-----END RSA PRIVATE KEY-----";
        Assert.Equal("key: [REDACTED] done", Apply(Secrets, $"key: {key} done"));
    }

    [Theory]
    [InlineData("{\"max_tokens\": 1000, \"temperature\": 0.2}")]
    [InlineData("password: true")]
    [InlineData("the token budget is large; pass the secret sauce")]
    [InlineData("commit 3f786850e387550fdab836ed7e6dc881de23001b")]
    public void Ordinary_text_is_left_alone(string text) => Assert.Equal(text, Apply(Secrets, text));

    [Fact]
    public void Plugins_used_narrows_the_rules()
    {
        var stripeOnly = FromYaml("""
            guardrails:
              - guardrail_name: s
                litellm_params:
                  guardrail: hide-secrets
                  mode: pre_call
                  detect_secrets_config: {plugins_used: [{name: StripeDetector}]}
            """);
        Assert.Equal("[REDACTED] AKIAIOSFODNN7EXAMPLE", Apply(stripeOnly, "sk_test_4eC39HqLyjWDarjtT1zdp7dc AKIAIOSFODNN7EXAMPLE"));
    }

    [Fact]
    public void Every_supported_plugin_has_a_rule()
    {
        var rules = SecretDetector.RulePlugins.Append("JWTBase64Detector").ToHashSet();
        Assert.All(SecretSettings.SupportedPlugins, p => Assert.Contains(p, rules));
    }
}
