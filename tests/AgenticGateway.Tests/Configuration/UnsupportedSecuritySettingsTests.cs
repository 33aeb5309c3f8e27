using AgenticGateway.Configuration;
using static AgenticGateway.Tests.Deploy.DeployFiles;

namespace AgenticGateway.Tests.Configuration;

/// <summary>
/// LiteLLM settings that govern authentication, guardrails, policies or access are errors when the gateway cannot
/// enforce them (they used to load with a warning and run open); --allow-unsupported turns them back into warnings.
/// </summary>
[Trait("Category", "unit")]
public class UnsupportedSecuritySettingsTests
{
    private const string Models = """
        model_list:
          - model_name: gpt-4o
            litellm_params: {model: mock/gpt-4o}
        """;

    /// <summary>
    /// From LiteLLM's docs (BerriAI/litellm, docs/my-website/docs/proxy/token_auth.md, "Tracking End-Users / Internal
    /// Users / Team / Org"), verbatim: organizations and end users are not modelled here.
    /// </summary>
    private const string TrackingExample = """
        general_settings:
          master_key: sk-1234
          enable_jwt_auth: True
          litellm_jwtauth:
            admin_jwt_scope: "litellm-proxy-admin"
            team_id_jwt_field: "client_id" # 👈 CAN BE ANY FIELD
            user_id_jwt_field: "sub" # 👈 CAN BE ANY FIELD
            org_id_jwt_field: "org_id" # 👈 CAN BE ANY FIELD
            end_user_id_jwt_field: "customer_id" # 👈 CAN BE ANY FIELD
        environment_variables:
          JWT_PUBLIC_KEY_URL: https://idp.example.com/.well-known/openid-configuration
        """;

    public static TheoryData<string, string> Unenforceable => new()
    {
        { "general_settings:\n  master_key: sk-1\n  custom_auth: custom_auth.user_api_key_auth\n", "general_settings.custom_auth" },
        { "guardrails:\n  - guardrail_name: general-guard\n    litellm_params: {guardrail: aporia, mode: pre_call}\n", "guardrails[0].litellm_params.guardrail" },
        { "policies:\n  - name: no-pii\n", "policies" },
        { "litellm_settings:\n  guardrails:\n    - prompt_injection: {callbacks: [lakera_prompt_injection], default_on: true}\n", "litellm_settings.guardrails[0].prompt_injection.callbacks" },
        { "litellm_settings:\n  callbacks: [\"lakera_prompt_injection\"]\n", "litellm_settings.callbacks" },
        { "general_settings:\n  allowed_ips: [10.0.0.1]\n", "general_settings.allowed_ips" },
        { "general_settings:\n  allowed_routes: [/chat/completions]\n", "general_settings.allowed_routes" },
        { "general_settings:\n  admin_only_routes: [/key/generate]\n", "general_settings.admin_only_routes" },
        { "general_settings:\n  enforce_user_param: true\n", "general_settings.enforce_user_param" },
        { "general_settings:\n  litellm_key_header_name: X-Litellm-Key\n", "general_settings.litellm_key_header_name" },
        { TrackingExample, "general_settings.litellm_jwtauth.org_id_jwt_field" },
        { TrackingExample, "general_settings.litellm_jwtauth.end_user_id_jwt_field" },
    };

    [Theory]
    [MemberData(nameof(Unenforceable))]
    public void A_setting_the_gateway_cannot_enforce_is_an_error_naming_it_unless_allowed(string yaml, string path)
    {
        var refused = ConfigLoader.Load(Models + "\n" + yaml, "litellm.yaml", new Dictionary<string, string>());
        Assert.Null(refused.Options);
        var error = Assert.Single(refused.Errors, e => e.StartsWith(path + ":", StringComparison.Ordinal));
        Assert.Contains("cannot be enforced", error, StringComparison.Ordinal);
        Assert.Contains("--allow-unsupported", error, StringComparison.Ordinal);

        var allowed = ConfigLoader.Load(Models + "\n" + yaml, "litellm.yaml", new Dictionary<string, string>(), allowUnsupported: true);
        Assert.True(allowed.Options is not null, string.Join("; ", allowed.Errors));
        Assert.Contains(allowed.Warnings, w => w.StartsWith(path + ":", StringComparison.Ordinal) && w.Contains("NOT enforced", StringComparison.Ordinal));
    }

    [Fact]
    public void Jwt_auth_maps_litellm_fields_and_needs_a_key_url()
    {
        var missing = ConfigLoader.Load(Models + "\ngeneral_settings:\n  enable_jwt_auth: true\n", "litellm.yaml", new Dictionary<string, string>());
        Assert.Contains(missing.Errors, e => e.Contains("JWT_PUBLIC_KEY_URL", StringComparison.Ordinal));

        var yaml = Models + "\n" + """
            environment_variables:
              JWT_PUBLIC_KEY_URL: "https://a.example.com/jwks, https://b.example.com/.well-known/openid-configuration"
              JWT_AUDIENCE: api://gw
              JWT_ISSUER: https://a.example.com
            general_settings:
              master_key: sk-1
              enable_jwt_auth: true
              litellm_jwtauth:
                user_id_jwt_field: preferred_username
                team_ids_jwt_field: groups
                team_allowed_routes: [openai_routes]
                public_key_ttl: 120
            """;
        var result = ConfigLoader.Load(yaml, "litellm.yaml", new Dictionary<string, string>());
        Assert.True(result.Options is not null, string.Join("; ", result.Errors));
        var jwt = result.Options!.Jwt!;
        Assert.Equal(["https://a.example.com/jwks", "https://b.example.com/.well-known/openid-configuration"], jwt.JwksUrls.ToArray());
        Assert.Equal(("api://gw", "https://a.example.com"), (jwt.Audience, jwt.Issuer));
        Assert.Equal(("preferred_username", "groups", (string?)null), (jwt.UserClaim, jwt.TeamsClaim, jwt.TeamClaim));
        Assert.Equal("litellm_proxy_admin", jwt.AdminScope);
        Assert.Equal(["openai_routes"], jwt.TeamRoutes!.Value.ToArray());
        Assert.Equal(TimeSpan.FromSeconds(120), jwt.KeyCacheTtl);
        Assert.DoesNotContain(result.Warnings, w => w.Contains("jwt", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task Check_config_and_start_up_refuse_unless_allow_unsupported()
    {
        var file = Path.Combine(Directory.CreateTempSubdirectory("agw-unsupported-").FullName, "litellm.yaml");
        await File.WriteAllTextAsync(file, Models + "\nguardrails:\n  - guardrail_name: g\n    litellm_params: {guardrail: aporia, mode: pre_call}\n");
        try
        {
            var (code, output) = await RunAsync([DotnetHost(), GatewayDll(), "check-config", "--config", file], null, TimeSpan.FromSeconds(60));
            Assert.True(code == 1, output);
            Assert.Contains("guardrails[0].litellm_params.guardrail: the 'aporia' guardrail is not supported, so it cannot be enforced", output, StringComparison.Ordinal);

            (code, output) = await RunAsync([DotnetHost(), GatewayDll(), "check-config", "--config", file, "--allow-unsupported"], null, TimeSpan.FromSeconds(60));
            Assert.True(code == 0, output);
            Assert.Contains("warning: guardrails[0].litellm_params.guardrail: the 'aporia' guardrail is not supported and NOT enforced", output, StringComparison.Ordinal);

            (code, output) = await RunAsync([DotnetHost(), GatewayDll(), "--config", file, "--urls", "http://127.0.0.1:0"], null, TimeSpan.FromSeconds(60));
            Assert.True(code == 1, output);
            Assert.Contains("Configuration is invalid", output, StringComparison.Ordinal);
        }
        finally { Directory.Delete(Path.GetDirectoryName(file)!, recursive: true); }
    }
}
