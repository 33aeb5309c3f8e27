using System.Collections.Immutable;
using YamlDotNet.RepresentationModel;
using AgenticGateway.Yaml;

namespace AgenticGateway.Configuration;

/// <summary>
/// LiteLLM settings that govern authentication, guardrails, policies or access. The gateway enforces JWT auth
/// (<c>enable_jwt_auth</c> with <c>litellm_jwtauth</c>) and the metrics endpoint's auth; every other such setting is an
/// error (see <see cref="ConfigIssues.Unsupported"/>): ignoring it would run the gateway more open than configured.
/// Which settings these are follows LiteLLM's reference (docs/my-website/docs/proxy/config_settings.md, token_auth.md,
/// guardrails/quick_start.md) and its LiteLLM_JWTAuth model (litellm/proxy/_types.py).
/// </summary>
internal static class LiteLlmSecurity
{
    /// <summary>general_settings keys we cannot enforce, with what to use instead.</summary>
    private static readonly (string Key, string What, string Instead)[] GeneralSettings =
    [
        ("custom_auth", "custom authentication code", "authenticate with master_key and virtual keys, or JWT auth (enable_jwt_auth)"),
        ("allowed_routes", "a list of routes users may call", "for JWT callers use litellm_jwtauth.team_allowed_routes"),
        ("admin_only_routes", "admin-only routes", "management routes already need the master key; put other routes behind your ingress"),
        ("public_routes", "a list of public routes", "routes other than /health and the probes need a key"),
        ("allowed_ips", "a client IP allowlist", "restrict the clients with a firewall or network policy in front of the gateway"),
        ("enforce_user_param", "requiring the 'user' field on every request", "remove it"),
        ("enforced_params", "parameters every request must carry", "remove it"),
        ("litellm_key_header_name", "a custom header for keys", "send keys as Authorization: Bearer, x-api-key or api-key"),
        ("user_header_name", "a header naming the end user (end-user budgets)", "use virtual keys per user, or JWT auth with user_id_jwt_field"),
        ("enable_oauth2_auth", "OAuth2 token introspection", "use JWT auth (enable_jwt_auth) with the provider's JWKS"),
        ("enable_oauth2_proxy_auth", "OAuth2 proxy auth", "use JWT auth (enable_jwt_auth) with the provider's JWKS"),
        ("oauth2_config_mappings", "OAuth2 config mappings", "use JWT auth (enable_jwt_auth)"),
        ("custom_sso", "custom SSO code", "sign in to the admin UI with the master key"),
        ("role_permissions", "role-based permissions (RBAC)", "limit models per team or key"),
    ];

    /// <summary>LiteLLM callbacks that are guardrails (read, or refused when remote, by <see cref="GuardrailConfigReader"/>).</summary>
    public static bool IsGuardrailCallback(string name) => GuardrailConfigReader.IsGuardrailCallback(name);

    private const string NoPolicies = "requests would reach the models without the policy's checks; attach guardrails per key or team instead (guardrails: with default_on, or a key's guardrails)";

    /// <summary>Guardrail policies (the guardrails list itself is read by <see cref="GuardrailConfigReader"/>).</summary>
    public static void CheckRoot(ConfigMap root)
    {
        if (root.Has("policies")) root.Context.Issues.Unsupported(root.Child("policies"), "guardrail policies", NoPolicies);
    }

    /// <summary>litellm_settings: auth on /metrics (which we enforce). Guardrail keys are read by <see cref="GuardrailConfigReader"/>.</summary>
    public static bool? CheckLiteLlmSettings(ConfigMap ls) => ls.Bool("require_auth_for_metrics_endpoint");

    /// <summary>general_settings: the auth and access settings, and JWT auth when enabled.</summary>
    public static JwtOptions? CheckGeneralSettings(ConfigMap gs)
    {
        foreach (var (key, what, instead) in GeneralSettings)
        {
            if (gs.Has(key)) gs.Context.Issues.Unsupported(gs.Child(key), what, instead);
        }
        // The UI only ever takes the master key, so admin_only is what it does anyway.
        if (gs.String("ui_access_mode") is { } mode && mode != "admin_only")
            gs.Context.Issues.Unsupported(gs.Child("ui_access_mode"), $"ui_access_mode '{mode}'", "the admin UI accepts only the master key");
        // The gateway never returns the master key, which is what this asks.
        gs.MarkRead("disable_master_key_return");

        var enabled = gs.Bool("enable_jwt_auth") ?? false;
        var settings = gs.Map("litellm_jwtauth");
        if (!enabled)
        {
            if (settings is not null) gs.Context.Issues.Warning(settings.Path, "ignored: enable_jwt_auth is not true");
            return null;
        }
        return LiteLlmJwtAuth.Read(settings, gs);
    }
}
