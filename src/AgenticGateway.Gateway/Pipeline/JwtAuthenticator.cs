using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AgenticGateway.Configuration;
using AgenticGateway.OpenAi;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using AgenticGateway.Keys;

namespace AgenticGateway.Pipeline;

/// <summary>
/// Validates client JWTs (signature, issuer, audience, lifetime) and maps their claims to the caller: the admin when the
/// token has the admin scope, else a user and a team whose models, budgets and limits then apply as they do to a virtual
/// key of that user and team. Route limits (admin and team routes) and scope-based model access apply as in LiteLLM.
/// </summary>
internal sealed class JwtAuthenticator(KeyRegistry registry, TimeProvider time, ILogger<JwtAuthenticator> logger) : IDisposable
{
    /// <summary>The algorithms LiteLLM accepts from a JWKS (no HMAC: a public key must never verify an HS256 token).</summary>
    private static readonly string[] AsymmetricAlgorithms =
    [
        SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSha384, SecurityAlgorithms.RsaSha512,
        SecurityAlgorithms.RsaSsaPssSha256, SecurityAlgorithms.RsaSsaPssSha384, SecurityAlgorithms.RsaSsaPssSha512,
        SecurityAlgorithms.EcdsaSha256, SecurityAlgorithms.EcdsaSha384, SecurityAlgorithms.EcdsaSha512,
    ];

    private readonly JsonWebTokenHandler _handler = new() { MapInboundClaims = false };
    private readonly HttpClient _http = new(new SocketsHttpHandler { ConnectTimeout = JwksKeySource.FetchTimeout, AllowAutoRedirect = false })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };
    /// <summary>Validation parameters (and key source) for the options in force: one reference, swapped whole on a reload.</summary>
    private ValidationFor? _cached;

    private sealed record ValidationFor(JwtOptions Options, TokenValidationParameters Parameters, JwksKeySource? Keys);

    /// <summary>Whether a presented credential is shaped like a JWT (three base64url parts, a JSON header).</summary>
    public static bool LooksLikeJwt(string credential) =>
        credential.StartsWith("eyJ", StringComparison.Ordinal) && credential.Count(c => c == '.') == 2;

    /// <summary>The caller a token names, or the error to answer (401 for a bad token, 403 for a route or team it may not use).</summary>
    public async Task<(Caller? Caller, ApiError? Error)> AuthenticateAsync(string token, JwtOptions options, HttpRequest request, CancellationToken ct)
    {
        var validation = Validation(options);
        if (validation.Keys is { } keys)
        {
            string? kid;
            try { kid = new JsonWebToken(token).Kid; }
            catch (ArgumentException) { return Rejected("the token is not a well-formed JWT"); }
            await keys.EnsureAsync(kid, ct);
        }
        var result = await _handler.ValidateTokenAsync(token, validation.Parameters);
        if (!result.IsValid) return Rejected(Reason(result.Exception));

        using var payload = JsonDocument.Parse(Base64UrlEncoder.DecodeBytes(((JsonWebToken)result.SecurityToken).EncodedPayload));
        var claims = payload.RootElement;
        var path = request.Path.Value ?? "/";
        var scopes = Strings(Claim(claims, "scope"), splitSpaces: true);
        var modelScope = options.ScopeModels is { } mappings
            ? mappings.Where(m => scopes.Contains(m.Scope)).SelectMany(m => m.Models).Distinct(StringComparer.Ordinal).ToList()
            : null;

        if (options.AdminScope is { } adminScope && scopes.Contains(adminScope))
        {
            if (options.AdminRoutes is { } adminRoutes && !JwtRouteGroups.Allows(adminRoutes, path))
                return Forbidden($"An admin token may not call {path} (admin_allowed_routes: {string.Join(", ", adminRoutes)}).", "route_not_allowed");
            return (new Caller(true, null) { ModelScope = modelScope }, null);
        }

        var email = Text(Claim(claims, options.UserEmailClaim));
        var user = Text(Claim(claims, options.UserClaim)) ?? email;
        if (user is null && options.RequireUserClaim) return Rejected($"the token has no '{options.UserClaim}' claim");
        if (options.AllowedEmailDomain is { } domain && (email is null || !email.EndsWith("@" + domain, StringComparison.OrdinalIgnoreCase)))
            return Forbidden($"The token's email ({email ?? "none"}) is not in the allowed domain {domain}.", "email_domain_not_allowed");

        var (teams, teamError) = Teams(claims, options, request);
        if (teamError is not null) return (null, teamError);
        if (options.RequireRole && user is null && teams.Count == 0)
            return Forbidden("The token names no admin scope, user or team, and enforce_rbac is set: it must belong to the admin, a team or a user.", "no_role");
        var principal = user ?? (teams.Count > 0 ? "team:" + teams[0] : "sub:" + (Text(Claim(claims, "sub")) ?? "anonymous"));

        if (user is not null && options.CreateUsers && (await registry.FindForClaimsAsync(user, null, principal, ct))?.User is null)
            await registry.CreateUserAsync(user, email, ct);
        var identity = await registry.FindForClaimsAsync(user, null, principal, ct);
        foreach (var team in teams)
        {
            var withTeam = await registry.FindForClaimsAsync(user, team, principal, ct);
            if (withTeam?.Team is null && options.CreateTeams && teams.Count == 1)
            {
                await registry.CreateTeamAsync(team, ct);
                withTeam = await registry.FindForClaimsAsync(user, team, principal, ct);
            }
            if (withTeam?.Team is not null) { identity = withTeam; break; }
        }
        if (options.RequireKnownIdentities)
        {
            if (user is not null && identity?.User is null)
                return Rejected($"the user '{user}' does not exist: create it with /user/new, or set user_id_upsert: true", "unknown_user");
            if (teams.Count > 0 && identity?.Team is null)
                return Rejected($"the team '{string.Join("', '", teams)}' does not exist: create it with /team/new, or set team_id_upsert: true", "unknown_team");
        }
        if (identity?.Team is not null && options.TeamRoutes is { } teamRoutes && !JwtRouteGroups.Allows(teamRoutes, path))
            return Forbidden($"A team token may not call {path} (team_allowed_routes: {string.Join(", ", teamRoutes)}).", "route_not_allowed");
        return (new Caller(false, identity) { ModelScope = modelScope }, null);
    }

    /// <summary>
    /// The teams to try, in order: the one x-litellm-team-id picks among the token's teams, else the team claim (or the
    /// default team), else the team list claim. LiteLLM picks, from a list, the first team that may use the requested
    /// model; the model is not known when the caller is authenticated, so the first team that exists is taken.
    /// </summary>
    private static (IReadOnlyList<string> Teams, ApiError? Error) Teams(JsonElement claims, JwtOptions options, HttpRequest request)
    {
        var listed = Strings(Claim(claims, options.TeamsClaim), splitSpaces: false);
        var single = Claim(claims, options.TeamClaim) is { } t ? Strings(t, splitSpaces: false).FirstOrDefault() : null;
        if (request.Headers["x-litellm-team-id"].ToString() is { Length: > 0 } picked)
        {
            if (picked == single || listed.Contains(picked)) return ([picked], null);
            return ([], new ApiError(403, $"x-litellm-team-id '{picked}' is not one of the token's teams.", "permission_error", "team_not_allowed"));
        }
        single ??= options.DefaultTeam;
        if (single is not null) return ([single], null);
        if (options.RequireTeamClaim)
            return ([], new ApiError(401, $"The JWT was rejected: the token has no '{options.TeamClaim}' claim (no team found in the token).", "invalid_request_error", "invalid_jwt"));
        if (listed.Count == 0 && options.RequireTeamMembership)
            return ([], new ApiError(403, "No teams found in the token: enforce_team_based_model_access needs the token to name a team.", "permission_error", "no_team"));
        return (listed, null);
    }

    private static (Caller?, ApiError?) Rejected(string reason, string code = "invalid_jwt") =>
        (null, new ApiError(401, $"The JWT was rejected: {reason}", "invalid_request_error", code));

    private static (Caller?, ApiError?) Forbidden(string message, string code) => (null, new ApiError(403, message, "permission_error", code));

    private static string Reason(Exception? ex) => ex switch
    {
        SecurityTokenExpiredException => "the token has expired",
        SecurityTokenNotYetValidException => "the token is not valid yet",
        SecurityTokenNoExpirationException => "the token has no expiry (exp)",
        SecurityTokenInvalidAudienceException => "the token is for another audience",
        SecurityTokenInvalidIssuerException => "the token is from another issuer",
        SecurityTokenSignatureKeyNotFoundException => "no known key signed the token",
        SecurityTokenInvalidSignatureException => "the signature is not valid",
        SecurityTokenInvalidAlgorithmException => "the token's algorithm is not accepted",
        SecurityTokenMalformedException => "the token is not a well-formed JWT",
        null => "invalid token",
        _ => ex.Message,
    };

    /// <summary>A claim by name; dots index into nested objects (LiteLLM's get_nested_value).</summary>
    private static JsonElement? Claim(JsonElement claims, string? name)
    {
        if (name is null) return null;
        if (claims.TryGetProperty(name, out var direct)) return direct;
        var current = claims;
        foreach (var part in name.Split('.'))
        {
            if (current.ValueKind != JsonValueKind.Object || !current.TryGetProperty(part, out current)) return null;
        }
        return current;
    }

    private static string? Text(JsonElement? value) => value switch
    {
        { ValueKind: JsonValueKind.String } v => v.GetString() is { Length: > 0 } s ? s : null,
        { ValueKind: JsonValueKind.Number } v => v.GetRawText(),
        { ValueKind: JsonValueKind.Array } v => v.EnumerateArray().Select(e => Text(e)).FirstOrDefault(s => s is not null),
        _ => null,
    };

    /// <summary>A string, or a list of strings; a space-separated string (OAuth scopes) when <paramref name="splitSpaces"/>.</summary>
    private static List<string> Strings(JsonElement? value, bool splitSpaces) => value switch
    {
        { ValueKind: JsonValueKind.String } v when splitSpaces => [.. (v.GetString() ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries)],
        { ValueKind: JsonValueKind.Array } v => [.. v.EnumerateArray().Select(e => Text(e)).OfType<string>()],
        { } v when Text(v) is { } s => [s],
        _ => [],
    };

    private ValidationFor Validation(JwtOptions options)
    {
        if (_cached is { } c && ReferenceEquals(c.Options, options)) return c;
        var parameters = new TokenValidationParameters
        {
            ValidateIssuerSigningKey = true,
            ValidIssuer = options.Issuer,
            ValidateIssuer = options.Issuer is not null,
            ValidAudience = options.Audience,
            ValidateAudience = options.Audience is not null,
            ValidateLifetime = true,
            RequireExpirationTime = true,
            ClockSkew = options.ClockSkew,
        };
        JwksKeySource? keys = null;
        if (options.JwksUrls.Length > 0)
        {
            // A key source survives reloads that keep its URLs and cache time, so keys are not fetched again for nothing.
            keys = _cached is { Keys: { } previous } old && old.Options.JwksUrls.SequenceEqual(options.JwksUrls) && old.Options.KeyCacheTtl == options.KeyCacheTtl
                ? previous
                : new JwksKeySource(options.JwksUrls, options.KeyCacheTtl, _http, time, logger);
            var source = keys;
            parameters.IssuerSigningKeyResolver = (_, _, _, _) => source.Current;
            parameters.ValidAlgorithms = AsymmetricAlgorithms;
        }
        else if (options.PublicKeyPem is { } pem)
        {
            if (TryEc(pem) is { } ec) parameters.IssuerSigningKey = new ECDsaSecurityKey(ec);
            else
            {
                var rsa = RSA.Create();
                rsa.ImportFromPem(pem);
                parameters.IssuerSigningKey = new RsaSecurityKey(rsa);
            }
        }
        else parameters.IssuerSigningKey = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(options.Secret.Value!));
        var built = new ValidationFor(options, parameters, keys);
        _cached = built;
        return built;
    }

    private static ECDsa? TryEc(string pem)
    {
        try
        {
            var ec = ECDsa.Create();
            ec.ImportFromPem(pem);
            return ec;
        }
        catch (CryptographicException) { return null; }
    }

    public void Dispose() => _http.Dispose();
}
