using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using System.Security.Cryptography;
using System.Text.Json;
using AgenticGateway.Hosting;
using AgenticGateway.Tests.Support;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Microsoft.Extensions.Time.Testing;

namespace AgenticGateway.Tests.Keys;

/// <summary>
/// LiteLLM's JWT auth (general_settings.enable_jwt_auth with litellm_jwtauth) end to end: a real JWKS endpoint on Kestrel
/// serving RSA keys, tokens signed here, and LiteLLM's own documented configs.
/// </summary>
[Trait("Category", "functional")]
public class LiteLlmJwtTests
{
    private const string Audience = "api://agentic-gateway-tests";

    /// <summary>
    /// general_settings and litellm_jwtauth as LiteLLM documents them in docs/my-website/docs/proxy/token_auth.md
    /// (BerriAI/litellm): "Advanced - Set Accepted JWT Scope Names" with the team and user fields of "Tracking End-Users /
    /// Internal Users / Team / Org" (its org and end-user fields are not supported here; see UnsupportedSecuritySettingsTests).
    /// The model list points at the built-in mock; environment_variables carries JWT_PUBLIC_KEY_URL and JWT_AUDIENCE.
    /// </summary>
    private static string AdminScopeConfig(string jwksUrl) => $"""
        model_list:
          - model_name: gpt-4o
            litellm_params: {"{"}model: mock/gpt-4o{"}"}
          - model_name: gpt-4o-mini
            litellm_params: {"{"}model: mock/gpt-4o-mini{"}"}
        environment_variables:
          JWT_PUBLIC_KEY_URL: "{jwksUrl}"
          JWT_AUDIENCE: "{Audience}"
        general_settings:
          master_key: sk-1234
          enable_jwt_auth: True
          litellm_jwtauth:
            admin_jwt_scope: "litellm-proxy-admin"
            team_id_jwt_field: "client_id" # 👈 CAN BE ANY FIELD
            user_id_jwt_field: "sub" # 👈 CAN BE ANY FIELD
        """;

    /// <summary>token_auth.md, "Control model access with Teams", verbatim (it has no master key: admins use the admin scope).</summary>
    private static string TeamsConfig(string jwksUrl) => $"""
        model_list:
          - model_name: gpt-4o
            litellm_params: {"{"}model: mock/gpt-4o{"}"}
          - model_name: gpt-4o-mini
            litellm_params: {"{"}model: mock/gpt-4o-mini{"}"}
        environment_variables:
          JWT_PUBLIC_KEY_URL: "{jwksUrl}"
        general_settings:
          enable_jwt_auth: True
          litellm_jwtauth:
            user_id_jwt_field: "sub"
            team_ids_jwt_field: "groups" 
            user_id_upsert: true # add user_id to the db if they don't exist
            enforce_team_based_model_access: true # don't allow users to access models unless the team has access
        """;

    /// <summary>token_auth.md, "[BETA] Control Model Access with Scopes", verbatim except the models (mock) and a public_key_ttl.</summary>
    private static string ScopesConfig(string jwksUrl) => $"""
        model_list:
          - model_name: anthropic-claude
            litellm_params:
              model: mock/claude-3-5-sonnet
          - model_name: gpt-3.5-turbo-testing
            litellm_params:
              model: mock/gpt-3.5-turbo
        environment_variables:
          JWT_PUBLIC_KEY_URL: "{jwksUrl}"
        general_settings:
          enable_jwt_auth: True
          litellm_jwtauth:
            team_id_jwt_field: "client_id" # 👈 set the field in the JWT token that contains the team id
            team_id_upsert: true # 👈 upsert the team to db, if team id is not found in db
            scope_mappings:
              - scope: litellm.api.consumer
                models: ["anthropic-claude"]
              - scope: litellm.api.gpt_3_5_turbo
                models: ["gpt-3.5-turbo-testing"]
            enforce_scope_based_access: true # 👈 enforce scope-based access control
            enforce_rbac: true # 👈 enforces only a Team/User/ProxyAdmin can access the proxy.
            public_key_ttl: 1
        """;

    [Fact]
    public async Task Users_teams_and_the_admin_scope_map_and_bad_tokens_get_401_in_openai_shape()
    {
        await using var idp = await JwksServer.StartAsync();
        var signer = idp.AddKey("key-1");
        await using var g = await GatewayServer.StartAsync(AdminScopeConfig(idp.JwksUrl));
        Assert.Equal(HttpStatusCode.OK, (await g.AdminAsync("/user/new", """{"user_id": "dana", "auto_create_key": false}""", "sk-1234")).Status);
        Assert.Equal(HttpStatusCode.OK, (await g.AdminAsync("/team/new", """{"team_id": "my-unique-team", "models": ["gpt-4o"]}""", "sk-1234")).Status);

        // A user of a team: the team's models apply.
        var member = Sign(signer, new() { ["sub"] = "dana", ["client_id"] = "my-unique-team" });
        using (var ok = await g.ChatAsync(member)) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        using (var other = await g.ChatAsync(member, "gpt-4o-mini")) Assert.Equal(HttpStatusCode.Forbidden, other.StatusCode);

        // The admin scope manages keys and teams, and (LiteLLM's default admin_allowed_routes) does not call models.
        var admin = Sign(signer, new() { ["sub"] = "ops", ["scope"] = "openid litellm-proxy-admin" });
        var (status, body) = await g.AdminAsync("/team/new", """{"team_id": "made-by-jwt"}""", admin);
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        using (var adminChat = await g.ChatAsync(admin))
        {
            Assert.Equal(HttpStatusCode.Forbidden, adminChat.StatusCode);
            Assert.Contains("admin_allowed_routes", await adminChat.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        // A team token may not manage anything.
        Assert.Equal(HttpStatusCode.Forbidden, (await g.AdminAsync("/team/new", """{"team_id": "nope"}""", member)).Status);

        var stranger = RSA.Create(2048);
        var bad = new Dictionary<string, string>
        {
            ["unknown key"] = Sign(new RsaSecurityKey(stranger) { KeyId = "key-1" }, new() { ["sub"] = "dana", ["client_id"] = "my-unique-team" }),
            ["expired"] = Sign(signer, new() { ["sub"] = "dana", ["client_id"] = "my-unique-team" }, expires: DateTime.UtcNow.AddMinutes(-1)),
            ["wrong audience"] = Sign(signer, new() { ["sub"] = "dana", ["client_id"] = "my-unique-team" }, audience: "api://someone-else"),
            ["unknown user"] = Sign(signer, new() { ["sub"] = "nobody", ["client_id"] = "my-unique-team" }),
            ["no team"] = Sign(signer, new() { ["sub"] = "dana" }),
            ["not a jwt"] = "eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln",
        };
        foreach (var (why, token) in bad)
        {
            using var refused = await g.ChatAsync(token);
            Assert.True(refused.StatusCode == HttpStatusCode.Unauthorized, $"{why}: {refused.StatusCode}");
            using var error = JsonDocument.Parse(await refused.Content.ReadAsStringAsync());
            var e = error.RootElement.GetProperty("error");
            Assert.StartsWith("The JWT was rejected", e.GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.Equal("invalid_request_error", e.GetProperty("type").GetString());
            Assert.True(e.TryGetProperty("param", out _), why);
            Assert.False(string.IsNullOrEmpty(e.GetProperty("code").GetString()), why);
        }
    }

    [Fact]
    public async Task Signing_keys_are_cached_and_fetched_again_for_a_new_key_id_but_not_for_every_forged_one()
    {
        await using var idp = await JwksServer.StartAsync();
        var first = idp.AddKey("key-1");
        await using var g = await GatewayServer.StartAsync(AdminScopeConfig(idp.JwksUrl));
        Assert.Equal(HttpStatusCode.OK, (await g.AdminAsync("/user/new", """{"user_id": "dana", "auto_create_key": false}""", "sk-1234")).Status);
        Assert.Equal(HttpStatusCode.OK, (await g.AdminAsync("/team/new", """{"team_id": "t"}""", "sk-1234")).Status);
        var claims = new Dictionary<string, object> { ["sub"] = "dana", ["client_id"] = "t" };

        for (var i = 0; i < 3; i++)
        {
            using var ok = await g.ChatAsync(Sign(first, claims));
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }
        Assert.Equal(1, idp.Fetches);

        // The provider rotates: a token signed with the new key makes the gateway fetch the set again, once.
        var second = idp.AddKey("key-2");
        using (var rotated = await g.ChatAsync(Sign(second, claims))) Assert.Equal(HttpStatusCode.OK, rotated.StatusCode);
        Assert.Equal(2, idp.Fetches);

        // Tokens naming keys nobody published are refused without fetching the set for each of them.
        for (var i = 0; i < 5; i++)
        {
            using var forged = await g.ChatAsync(Sign(new RsaSecurityKey(RSA.Create(2048)) { KeyId = "forged-" + i }, claims));
            Assert.Equal(HttpStatusCode.Unauthorized, forged.StatusCode);
        }
        Assert.Equal(2, idp.Fetches);
    }

    [Fact]
    public async Task Team_lists_upsert_users_and_an_admin_scope_token_manages_a_gateway_without_master_key()
    {
        await using var idp = await JwksServer.StartAsync();
        var signer = idp.AddKey("k");
        await using var g = await GatewayServer.StartAsync(TeamsConfig(idp.JwksUrl));

        // No master key: the admin is whoever has LiteLLM's default admin scope.
        var admin = Sign(signer, new() { ["sub"] = "ops", ["scope"] = new[] { "litellm_proxy_admin" } }, audience: null);
        var (status, body) = await g.AdminAsync("/team/new", """{"team_id": "team_id_1", "models": ["gpt-4o"]}""", admin);
        Assert.True(status == HttpStatusCode.OK, body.ToString());

        var member = Sign(signer, new() { ["sub"] = "my-unique-user", ["groups"] = new[] { "unknown-group", "team_id_1" } }, audience: null);
        using (var ok = await g.ChatAsync(member)) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        using (var other = await g.ChatAsync(member, "gpt-4o-mini")) Assert.Equal(HttpStatusCode.Forbidden, other.StatusCode);
        // user_id_upsert created the user on its first request.
        (status, body) = await g.AdminAsync("/user/info?user_id=my-unique-user", null, admin);
        Assert.True(status == HttpStatusCode.OK, body.ToString());

        var teamless = Sign(signer, new() { ["sub"] = "my-unique-user" }, audience: null);
        using (var refused = await g.ChatAsync(teamless)) Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        using (var anonymous = await g.PostJsonAsync("/v1/chat/completions", Chat.Request("gpt-4o")))
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
    }

    [Fact]
    public async Task Scopes_grant_models_teams_are_created_and_the_key_cache_expires_after_public_key_ttl()
    {
        await using var idp = await JwksServer.StartAsync();
        var signer = idp.AddKey("k");
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var g = await GatewayServer.StartAsync(ScopesConfig(idp.JwksUrl), time: clock);
        var consumer = Sign(signer, new() { ["client_id"] = "c1", ["scope"] = new[] { "litellm.api.consumer" } }, audience: null);
        using (var ok = await g.ChatAsync(consumer, "anthropic-claude")) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        using (var other = await g.ChatAsync(consumer, "gpt-3.5-turbo-testing")) Assert.Equal(HttpStatusCode.Forbidden, other.StatusCode);
        using (var models = await g.Client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/v1/models") { Headers = { Authorization = new("Bearer", consumer) } }))
        {
            using var list = JsonDocument.Parse(await models.Content.ReadAsStringAsync());
            Assert.Equal(["anthropic-claude"], list.RootElement.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()));
        }
        // enforce_rbac: a token that is nobody's is refused (team_id_jwt_field makes the team claim required first).
        using (var nobody = await g.ChatAsync(Sign(signer, new() { ["scope"] = "litellm.api.consumer" }, audience: null), "anthropic-claude"))
            Assert.Equal(HttpStatusCode.Unauthorized, nobody.StatusCode);

        var fetches = idp.Fetches;
        clock.Advance(TimeSpan.FromSeconds(1.5));
        using (var again = await g.ChatAsync(consumer, "anthropic-claude")) Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(fetches + 1, idp.Fetches);
    }

    private static string Sign(SecurityKey key, Dictionary<string, object> claims, DateTime? expires = null, string? audience = Audience) =>
        new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Audience = audience,
            Claims = claims,
            NotBefore = DateTime.UtcNow.AddMinutes(-10),
            IssuedAt = DateTime.UtcNow.AddMinutes(-10),
            Expires = expires ?? DateTime.UtcNow.AddMinutes(10),
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.RsaSha256),
        });

    /// <summary>An identity provider's JWKS endpoint on a real Kestrel server: RSA public keys, published as they are added.</summary>
    private sealed class JwksServer : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly List<RsaSecurityKey> _keys = [];
        private int _fetches;

        private JwksServer(WebApplication app) => _app = app;

        public string JwksUrl => GatewayApp.BoundAddresses(_app)[0] + "/.well-known/jwks.json";
        public int Fetches => Volatile.Read(ref _fetches);

        public static async Task<JwksServer> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var app = builder.Build();
            var server = new JwksServer(app);
            app.MapGet("/.well-known/jwks.json", () =>
            {
                Interlocked.Increment(ref server._fetches);
                lock (server._keys) return Results.Text(server.Document(), "application/json");
            });
            await app.StartAsync();
            return server;
        }

        /// <summary>A new RSA key, published from now on; returns the private key to sign with.</summary>
        public RsaSecurityKey AddKey(string kid)
        {
            var key = new RsaSecurityKey(RSA.Create(2048)) { KeyId = kid };
            lock (_keys) _keys.Add(key);
            return key;
        }

        private string Document()
        {
            var keys = _keys.Select(k =>
            {
                var p = k.Rsa.ExportParameters(includePrivateParameters: false);
                return new Dictionary<string, string>
                {
                    ["kty"] = "RSA", ["use"] = "sig", ["alg"] = "RS256", ["kid"] = k.KeyId,
                    ["n"] = Base64UrlEncoder.Encode(p.Modulus), ["e"] = Base64UrlEncoder.Encode(p.Exponent),
                };
            });
            return JsonSerializer.Serialize(new Dictionary<string, object> { ["keys"] = keys.ToList() });
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
