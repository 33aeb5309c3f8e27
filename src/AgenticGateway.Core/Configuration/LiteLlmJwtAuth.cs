using System.Collections.Immutable;
using AgenticGateway.Yaml;

namespace AgenticGateway.Configuration;

/// <summary>
/// LiteLLM's JWT auth (<c>general_settings.enable_jwt_auth</c> with <c>general_settings.litellm_jwtauth</c>), mapped onto
/// <see cref="JwtOptions"/>. The keys come from <c>JWT_PUBLIC_KEY_URL</c> (a JWKS or OIDC discovery URL, or a
/// comma-separated list), the audience from <c>JWT_AUDIENCE</c> and the issuer from <c>JWT_ISSUER</c>, as in LiteLLM.
/// Field names and defaults are LiteLLM's (LiteLLM_JWTAuth in litellm/proxy/_types.py; docs/my-website/docs/proxy/token_auth.md).
/// Fields that change who may do what and that the gateway cannot honour are reported as unsupported.
/// </summary>
internal static class LiteLlmJwtAuth
{
    /// <summary>LiteLLM's defaults for admin_allowed_routes and team_allowed_routes.</summary>
    private static readonly ImmutableArray<string> DefaultAdminRoutes = ["management_routes", "spend_tracking_routes", "global_spend_tracking_routes", "info_routes"];
    private static readonly ImmutableArray<string> DefaultTeamRoutes = ["openai_routes", "info_routes"];

    /// <summary>LiteLLM_JWTAuth fields the gateway cannot enforce, with what to use instead.</summary>
    private static readonly Dictionary<string, string> Unsupported = new(StringComparer.Ordinal)
    {
        ["org_id_jwt_field"] = "organizations (their budgets and model access) do not exist here; limit the team instead",
        ["org_alias_jwt_field"] = "organizations do not exist here; limit the team instead",
        ["end_user_id_jwt_field"] = "end users (customers) and their budgets do not exist here; map the caller with user_id_jwt_field",
        ["team_alias_jwt_field"] = "name the team by its id with team_id_jwt_field",
        ["roles_jwt_field"] = "role mappings are not supported; use user_id_jwt_field and team_id_jwt_field",
        ["role_mappings"] = "role mappings are not supported; use user_id_jwt_field and team_id_jwt_field",
        ["object_id_jwt_field"] = "use user_id_jwt_field and team_id_jwt_field",
        ["user_roles_jwt_field"] = "user roles are not checked; limit models per user",
        ["user_allowed_roles"] = "user roles are not checked; limit models per user",
        ["jwt_litellm_role_map"] = "roles are not synced from the identity provider",
        ["sync_user_role_and_teams"] = "team memberships are not synced from the identity provider; use team_ids_jwt_field",
        ["upsert_sso_user_to_team"] = "team memberships are not synced from the identity provider",
        ["custom_validate"] = "custom validation code cannot run here",
        ["public_allowed_routes"] = "every token must name an admin, a team or a user",
        ["fallback_to_db_teams"] = "name the teams in the token (team_id_jwt_field or team_ids_jwt_field)",
        ["team_claim_fallback"] = "name the teams in the token (team_id_jwt_field or team_ids_jwt_field)",
        ["issuers"] = "configure one provider with JWT_PUBLIC_KEY_URL, JWT_AUDIENCE and JWT_ISSUER",
        ["oidc_userinfo_enabled"] = "the token's own claims are used; the userinfo endpoint is not called",
        ["oidc_userinfo_endpoint"] = "the token's own claims are used; the userinfo endpoint is not called",
        ["agent_id_jwt_field"] = "agent identities are not supported",
    };

    public static JwtOptions? Read(ConfigMap? j, ConfigMap general)
    {
        var issues = general.Context.Issues;
        var env = general.Context.Env;
        var urls = (env.Lookup("JWT_PUBLIC_KEY_URL") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToImmutableArray();
        var where = general.Child("enable_jwt_auth");
        if (urls.Length == 0) issues.Error(where, "JWT auth needs JWT_PUBLIC_KEY_URL: the identity provider's JWKS URL (or its .well-known/openid-configuration)");
        foreach (var url in urls)
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                issues.Error(where, $"JWT_PUBLIC_KEY_URL: '{url}' is not an absolute http(s) URL");
        }

        var options = new JwtOptions
        {
            JwksUrls = urls,
            Audience = env.Lookup("JWT_AUDIENCE") is { Length: > 0 } audience ? audience : null,
            Issuer = env.Lookup("JWT_ISSUER") is { Length: > 0 } issuer ? issuer : null,
            // LiteLLM decodes with no leeway, and tokens need name neither a user nor a team.
            ClockSkew = TimeSpan.Zero,
            UserClaim = null,
            RequireUserClaim = false,
            TeamClaim = null,
            RequireKnownIdentities = true,
            AdminScope = "litellm_proxy_admin",
            AdminRoutes = DefaultAdminRoutes,
            TeamRoutes = DefaultTeamRoutes,
        };
        if (j is null) return options;

        var teamClaim = j.String("team_id_jwt_field");
        options = options with
        {
            AdminScope = j.String("admin_jwt_scope") ?? options.AdminScope,
            AdminRoutes = Routes(j, "admin_allowed_routes") ?? options.AdminRoutes,
            TeamRoutes = Routes(j, "team_allowed_routes") ?? options.TeamRoutes,
            TeamClaim = teamClaim,
            RequireTeamClaim = teamClaim is not null,
            TeamsClaim = j.String("team_ids_jwt_field"),
            DefaultTeam = j.String("team_id_default"),
            CreateTeams = j.Bool("team_id_upsert") ?? false,
            UserClaim = j.String("user_id_jwt_field"),
            UserEmailClaim = j.String("user_email_jwt_field"),
            AllowedEmailDomain = j.String("user_allowed_email_domain"),
            CreateUsers = j.Bool("user_id_upsert") ?? false,
            KeyCacheTtl = j.Duration("public_key_ttl", positive: true) ?? options.KeyCacheTtl,
            RequireTeamMembership = j.Bool("enforce_team_based_model_access") ?? false,
            // Without role mappings and role_permissions (both refused below), RBAC only asks that a token be someone's.
            RequireRole = j.Bool("enforce_rbac") ?? false,
        };

        var enforceScopes = j.Bool("enforce_scope_based_access") ?? false;
        var mappings = ScopeMappings(j);
        if (mappings is not null && !enforceScopes)
            issues.Error(j.Child("scope_mappings"), "scope_mappings needs enforce_scope_based_access: true (as in LiteLLM)");
        else if (enforceScopes && mappings is null)
            issues.Error(j.Child("enforce_scope_based_access"), "enforce_scope_based_access needs scope_mappings: which models each scope grants");
        else if (mappings is not null) options = options with { ScopeModels = mappings };

        foreach (var key in j.Keys.ToList())
        {
            if (Unsupported.TryGetValue(key, out var instead)) { j.MarkRead(key); issues.Unsupported(j.Child(key), $"litellm_jwtauth.{key}", instead); }
        }
        foreach (var key in j.Keys.Where(k => !Unsupported.ContainsKey(k) && !Known(k)).ToList())
            issues.Unsupported(j.Child(key), $"the litellm_jwtauth field '{key}'", "remove it");
        return options;
    }

    private static bool Known(string key) => key is "admin_jwt_scope" or "admin_allowed_routes" or "team_allowed_routes" or "team_id_jwt_field"
        or "team_ids_jwt_field" or "team_id_default" or "team_id_upsert" or "user_id_jwt_field" or "user_email_jwt_field"
        or "user_allowed_email_domain" or "user_id_upsert" or "public_key_ttl" or "enforce_team_based_model_access"
        or "enforce_scope_based_access" or "scope_mappings" or "enforce_rbac";

    private static ImmutableArray<string>? Routes(ConfigMap j, string key)
    {
        if (!j.Has(key)) return null;
        var routes = j.StringList(key);
        foreach (var route in routes.Where(r => !r.StartsWith('/') && !JwtRouteGroups.IsGroup(r)))
            j.Context.Issues.Error(j.Child(key), $"unknown route group '{route}' ({string.Join(", ", JwtRouteGroups.Names)}, or a path such as /v1/chat/completions)");
        return routes;
    }

    private static ImmutableArray<JwtScopeModels>? ScopeMappings(ConfigMap j)
    {
        if (!j.Has("scope_mappings")) return null;
        var result = ImmutableArray.CreateBuilder<JwtScopeModels>();
        foreach (var (node, path) in j.Sequence("scope_mappings"))
        {
            if (j.AsMap(node, path) is not { } m) continue;
            var scope = m.String("scope");
            if (scope is null) m.Context.Issues.Error(m.Child("scope"), "a scope is required");
            if (m.Has("routes")) m.Context.Issues.Unsupported(m.Child("routes"), "routes per scope", "limit routes with team_allowed_routes");
            var models = m.StringList("models");
            m.ReportUnknownKeys(strict: true);
            if (scope is not null) result.Add(new JwtScopeModels(scope, models));
        }
        return result.ToImmutable();
    }
}
