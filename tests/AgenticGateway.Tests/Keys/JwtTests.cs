using System.Net;
using System.Security.Claims;
using System.Text;
using AgenticGateway.Tests.Support;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace AgenticGateway.Tests.Keys;

/// <summary>Clients authenticating with a JWT: its claims pick the user and team whose limits and models apply.</summary>
[Trait("Category", "functional")]
public class JwtTests
{
    private const string Master = "sk-master-key-for-jwt-tests";
    private const string Secret = "a-shared-hs256-secret-of-at-least-32-chars";

    private static readonly string Config = $"""
        master_key: {Master}
        jwt: {"{"}secret: {Secret}, issuer: https://idp.example.com, audience: agw{"}"}
        models:
          - {"{"}name: gpt-4o, provider: mock{"}"}
          - {"{"}name: gpt-4o-mini, provider: mock{"}"}
        """;

    private static string Token(string user, string? team = null, string secret = Secret, DateTime? expires = null, string issuer = "https://idp.example.com")
    {
        var claims = new Dictionary<string, object> { ["sub"] = user };
        if (team is not null) claims["team_id"] = team;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = "agw",
            Claims = claims,
            NotBefore = DateTime.UtcNow.AddMinutes(-5),
            IssuedAt = DateTime.UtcNow.AddMinutes(-5),
            Expires = expires ?? DateTime.UtcNow.AddMinutes(10),
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(secret)), SecurityAlgorithms.HmacSha256),
        });
    }

    [Fact]
    public async Task A_valid_jwt_acts_as_its_user_and_team_and_a_bad_one_is_refused()
    {
        await using var g = await GatewayServer.StartAsync(Config);
        var (status, _) = await g.AdminAsync("/user/new", """{"user_id": "dana", "rpm_limit": 2, "auto_create_key": false}""", Master);
        Assert.Equal(HttpStatusCode.OK, status);
        (status, _) = await g.AdminAsync("/team/new", """{"team_id": "ml", "models": ["gpt-4o"]}""", Master);
        Assert.Equal(HttpStatusCode.OK, status);

        var token = Token("dana", "ml");
        using (var ok = await g.ChatAsync(token)) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        using (var model = await g.ChatAsync(token, "gpt-4o-mini")) Assert.Equal(HttpStatusCode.Forbidden, model.StatusCode);
        using (var second = await g.ChatAsync(token)) Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        using (var third = await g.ChatAsync(token))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, third.StatusCode);
            Assert.Contains("user dana rpm_limit", await third.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        foreach (var bad in new[]
        {
            Token("dana", secret: "another-secret-that-is-also-32-chars-long"),
            Token("dana", expires: DateTime.UtcNow.AddMinutes(-2)),
            Token("dana", issuer: "https://evil.example.com"),
        })
        {
            using var refused = await g.ChatAsync(bad);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Contains("invalid_jwt", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
    }
}
