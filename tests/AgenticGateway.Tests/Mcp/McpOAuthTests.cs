using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using AgenticGateway.Hosting;
using AgenticGateway.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace AgenticGateway.Tests.Mcp;

/// <summary>
/// Per-user OAuth on /mcp: the gateway as a protected resource (RFC 9728 metadata, the 401's resource_metadata), and
/// servers whose calls carry a token exchanged for the caller's JWT (RFC 8693) at a token endpoint run here.
/// </summary>
[Trait("Category", "integration")]
public class McpOAuthTests
{
    private const string Master = "sk-master-mcp-oauth";
    private const string JwtSecret = "a-shared-hs256-secret-for-mcp-oauth-tests";
    private const string Issuer = "https://idp.example.com";
    private const string ClientSecret = "gateway-client-secret-xyz";

    private static string Jwt(string user) => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
    {
        Issuer = Issuer,
        Audience = "agw",
        Claims = new Dictionary<string, object> { ["sub"] = user },
        NotBefore = DateTime.UtcNow.AddMinutes(-5),
        IssuedAt = DateTime.UtcNow.AddMinutes(-5),
        Expires = DateTime.UtcNow.AddMinutes(10),
        SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(JwtSecret)), SecurityAlgorithms.HmacSha256),
    });

    private static string Config(string? upstream = null, string? tokenEndpoint = null, bool jwt = true) => $$"""
        master_key: {{Master}}
        {{(jwt ? $"jwt: {{secret: {JwtSecret}, issuer: {Issuer}, audience: agw}}" : "")}}
        models:
          - {name: m, provider: mock}
        mcp:
          scopes_supported: [mcp.tools, openid]
          servers:
        {{(upstream is null ? "    {}" : $"""
                alpha:
                  url: {upstream}
                  auth_type: oauth2_token_exchange
                  token_exchange_endpoint: {tokenEndpoint}
                  audience: alpha-api
                  scopes: [alpha.read, alpha.write]
                  client_id: "agw:gateway"
                  client_secret: {ClientSecret}
            """)}}
        """;

    private static Task<McpClient> ClientAsync(GatewayServer gateway, string credential) => McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions
    {
        Endpoint = new Uri(gateway.Url + "/mcp"),
        TransportMode = HttpTransportMode.StreamableHttp,
        AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = "Bearer " + credential },
    }));

    private static string Text(CallToolResult result) => string.Concat(result.Content.OfType<TextContentBlock>().Select(c => c.Text));

    [Fact]
    public async Task The_protected_resource_metadata_names_the_jwt_issuer_and_a_401_points_at_it()
    {
        await using var g = await GatewayServer.StartAsync(Config());
        using var anonymous = new HttpClient();

        var expected = new Dictionary<string, string>
        {
            ["/.well-known/oauth-protected-resource/mcp"] = g.Url + "/mcp",
            ["/.well-known/oauth-protected-resource"] = g.Url + "/mcp",
            ["/.well-known/oauth-protected-resource/mcp/alpha"] = g.Url + "/mcp/alpha",
        };
        foreach (var (path, resource) in expected)
        {
            using var response = await anonymous.GetAsync(g.Url + path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
            using var metadata = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var root = metadata.RootElement;
            Assert.Equal(resource, root.GetProperty("resource").GetString());
            Assert.Equal([Issuer], root.GetProperty("authorization_servers").EnumerateArray().Select(e => e.GetString()));
            Assert.Equal(["header"], root.GetProperty("bearer_methods_supported").EnumerateArray().Select(e => e.GetString()));
            Assert.Equal(["mcp.tools", "openid"], root.GetProperty("scopes_supported").EnumerateArray().Select(e => e.GetString()));
        }

        // A client without a token learns where to look from the 401 (RFC 9728 §5.1), for /mcp and for one server.
        foreach (var (mcpPath, metadataPath) in new[] { ("/mcp", "/.well-known/oauth-protected-resource/mcp"), ("/mcp/alpha", "/.well-known/oauth-protected-resource/mcp/alpha") })
        {
            using var refused = await anonymous.PostAsync(g.Url + mcpPath, new StringContent("""{"jsonrpc":"2.0","id":1,"method":"tools/list"}""", Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            var challenge = Assert.Single(refused.Headers.WwwAuthenticate);
            Assert.Equal("Bearer", challenge.Scheme);
            Assert.Equal($"resource_metadata=\"{g.Url}{metadataPath}\", scope=\"mcp.tools openid\"", challenge.Parameter);
            using var followed = await anonymous.GetAsync(g.Url + metadataPath);
            Assert.Equal(HttpStatusCode.OK, followed.StatusCode);
        }
    }

    [Fact]
    public async Task Without_a_jwt_issuer_there_is_no_metadata_and_the_401_is_plain_bearer()
    {
        await using var g = await GatewayServer.StartAsync(Config(jwt: false));
        using var anonymous = new HttpClient();
        foreach (var path in new[] { "/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp" })
        {
            using var response = await anonymous.GetAsync(g.Url + path);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Contains("authorization server", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        using var refused = await anonymous.PostAsync(g.Url + "/mcp", new StringContent("""{"jsonrpc":"2.0","id":1,"method":"tools/list"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("Bearer", refused.Headers.WwwAuthenticate.ToString());
    }

    [Fact]
    public async Task A_jwt_caller_calls_with_a_token_exchanged_for_its_own_once_per_token()
    {
        await using var upstream = await NodeMcp.StartHttpServerAsync(name: "alpha");
        await using var idp = await TokenEndpoint.StartAsync();
        await using var g = await GatewayServer.StartAsync(Config(upstream.Url.ToString(), idp.Url));

        var dana = Jwt("dana");
        await using (var client = await ClientAsync(g, dana))
        {
            Assert.Contains("alpha-echo", (await client.ListToolsAsync()).Select(t => t.Name));
            for (var i = 0; i < 2; i++)
            {
                var result = await client.CallToolAsync("alpha-echo", new Dictionary<string, object?> { ["text"] = "hi" + i });
                Assert.True(result.IsError != true, Text(result));
                Assert.Equal("alpha: hi" + i, Text(result));
                var headers = await upstream.LastHeadersAsync();
                Assert.Equal("Bearer issued-1", headers["authorization"]);
                Assert.DoesNotContain(headers.Values, v => v.Contains(dana, StringComparison.Ordinal));
            }
        }
        // Two calls, one exchange: the issued token is reused until shortly before it expires.
        var exchange = Assert.Single(idp.Requests);
        Assert.Equal("urn:ietf:params:oauth:grant-type:token-exchange", exchange.Form["grant_type"]);
        Assert.Equal(dana, exchange.Form["subject_token"]);
        Assert.Equal("urn:ietf:params:oauth:token-type:access_token", exchange.Form["subject_token_type"]);
        Assert.Equal("alpha-api", exchange.Form["audience"]);
        Assert.Equal("alpha.read alpha.write", exchange.Form["scope"]);
        Assert.False(exchange.Form.ContainsKey("client_secret"));
        // client_secret_basic, each part form-urlencoded first (RFC 6749 §2.3.1): the ':' of the id is escaped.
        Assert.Equal("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("agw%3Agateway:" + ClientSecret)), exchange.Authorization);

        // Another user's token is exchanged for its own.
        await using (var client = await ClientAsync(g, Jwt("erin")))
        {
            var result = await client.CallToolAsync("alpha-echo", new Dictionary<string, object?> { ["text"] = "x" });
            Assert.True(result.IsError != true, Text(result));
            Assert.Equal("Bearer issued-2", (await upstream.LastHeadersAsync())["authorization"]);
        }
        Assert.Equal(2, idp.Requests.Count);
    }

    [Fact]
    public async Task A_caller_with_an_api_key_is_told_the_server_needs_a_user_token()
    {
        await using var upstream = await NodeMcp.StartHttpServerAsync(name: "alpha");
        await using var idp = await TokenEndpoint.StartAsync();
        await using var g = await GatewayServer.StartAsync(Config(upstream.Url.ToString(), idp.Url));
        var key = await g.GenerateKeyAsync("{}", Master);

        await using var client = await ClientAsync(g, key);
        var result = await client.CallToolAsync("alpha-echo", new Dictionary<string, object?> { ["text"] = "x" });
        Assert.True(result.IsError);
        Assert.Contains("'alpha' is called with each user's own token", Text(result), StringComparison.Ordinal);
        Assert.Contains("JWT", Text(result), StringComparison.Ordinal);
        Assert.Empty(idp.Requests);
        Assert.Equal(0, await upstream.RequestCountAsync("tools/call"));
    }

    [Fact]
    public async Task A_refused_exchange_is_a_tool_error_with_the_endpoints_reason_and_no_secret()
    {
        await using var upstream = await NodeMcp.StartHttpServerAsync(name: "alpha");
        await using var idp = await TokenEndpoint.StartAsync(refuse: true);
        await using var g = await GatewayServer.StartAsync(Config(upstream.Url.ToString(), idp.Url));

        var dana = Jwt("dana");
        await using var client = await ClientAsync(g, dana);
        var result = await client.CallToolAsync("alpha-echo", new Dictionary<string, object?> { ["text"] = "x" });
        Assert.True(result.IsError);
        var text = Text(result);
        Assert.Contains("HTTP 400", text, StringComparison.Ordinal);
        Assert.Contains("invalid_grant: the subject token is not allowed for alpha-api", text, StringComparison.Ordinal);
        Assert.DoesNotContain(dana, text, StringComparison.Ordinal);
        Assert.DoesNotContain(ClientSecret, text, StringComparison.Ordinal);
        Assert.Contains("[subject token]", text, StringComparison.Ordinal);
        Assert.Single(idp.Requests);
        Assert.Equal(0, await upstream.RequestCountAsync("tools/call"));
    }

    /// <summary>
    /// An authorization server's token endpoint on Kestrel: records each request's form and Authorization header, and
    /// issues issued-1, issued-2… (one per request), or refuses every request as RFC 6749 §5.2 has it (echoing the
    /// subject token in its description, as a careless endpoint might).
    /// </summary>
    private sealed class TokenEndpoint : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private TokenEndpoint(WebApplication app) => _app = app;

        public sealed record Received(Dictionary<string, string> Form, string Authorization);

        public ConcurrentQueue<Received> Queue { get; } = new();
        public IReadOnlyList<Received> Requests => [.. Queue];
        public string Url => GatewayApp.BoundAddresses(_app)[0] + "/oauth2/token";

        public static async Task<TokenEndpoint> StartAsync(bool refuse = false)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var app = builder.Build();
            var endpoint = new TokenEndpoint(app);
            app.MapPost("/oauth2/token", async (HttpRequest request) =>
            {
                var form = await request.ReadFormAsync();
                var received = new Received(form.ToDictionary(f => f.Key, f => f.Value.ToString()), request.Headers.Authorization.ToString());
                endpoint.Queue.Enqueue(received);
                if (refuse)
                    return Results.Json(new Dictionary<string, string>
                    {
                        ["error"] = "invalid_grant",
                        ["error_description"] = $"the subject token is not allowed for alpha-api ({received.Form["subject_token"]})",
                    }, statusCode: 400);
                return Results.Json(new Dictionary<string, object>
                {
                    ["access_token"] = "issued-" + endpoint.Queue.Count,
                    ["issued_token_type"] = "urn:ietf:params:oauth:token-type:access_token",
                    ["token_type"] = "Bearer",
                    ["expires_in"] = 3600,
                });
            });
            await app.StartAsync();
            return endpoint;
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
