using System.Security.Cryptography;
using System.Text;
using AgenticGateway.Configuration;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace AgenticGateway.Keys;

/// <summary>
/// Validates client JWTs (signature, issuer, audience, lifetime) and maps their claims to a user and a team, whose
/// models, budgets and limits then apply as they do to a virtual key of that user and team.
/// </summary>
internal sealed class JwtAuthenticator(KeyRegistry registry)
{
    private readonly JsonWebTokenHandler _handler = new() { MapInboundClaims = false };
    /// <summary>Validation parameters for the options in force (one reference, swapped whole on a reload).</summary>
    private ValidationFor? _cached;

    private sealed record ValidationFor(JwtOptions Options, TokenValidationParameters Parameters);

    /// <summary>Whether a presented credential is shaped like a JWT (three base64url parts, a JSON header).</summary>
    public static bool LooksLikeJwt(string credential) =>
        credential.StartsWith("eyJ", StringComparison.Ordinal) && credential.Count(c => c == '.') == 2;

    public async Task<(KeyIdentity? Identity, string? Error)> AuthenticateAsync(string token, JwtOptions options, CancellationToken ct)
    {
        var result = await _handler.ValidateTokenAsync(token, Parameters(options));
        if (!result.IsValid) return (null, result.Exception?.Message ?? "invalid token");
        var user = result.Claims.TryGetValue(options.UserClaim, out var u) ? u?.ToString() : null;
        var team = result.Claims.TryGetValue(options.TeamClaim, out var t) ? t?.ToString() : null;
        if (string.IsNullOrEmpty(user)) return (null, $"the token has no '{options.UserClaim}' claim");
        return (await registry.FindForClaimsAsync(user, team, ct), null);
    }

    private TokenValidationParameters Parameters(JwtOptions options)
    {
        if (_cached is { } c && ReferenceEquals(c.Options, options)) return c.Parameters;
        SecurityKey key;
        if (options.PublicKeyPem is { } pem)
        {
            if (TryEc(pem) is { } ec) key = new ECDsaSecurityKey(ec);
            else
            {
                var rsa = RSA.Create();
                rsa.ImportFromPem(pem);
                key = new RsaSecurityKey(rsa);
            }
        }
        else key = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(options.Secret.Value!));
        var parameters = new TokenValidationParameters
        {
            IssuerSigningKey = key,
            ValidateIssuerSigningKey = true,
            ValidIssuer = options.Issuer,
            ValidateIssuer = options.Issuer is not null,
            ValidAudience = options.Audience,
            ValidateAudience = options.Audience is not null,
            ValidateLifetime = true,
            RequireExpirationTime = true,
            ClockSkew = TimeSpan.FromSeconds(30),
        };
        _cached = new ValidationFor(options, parameters);
        return parameters;
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
}
