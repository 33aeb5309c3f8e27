using AgenticGateway.Configuration;

namespace AgenticGateway.Tests.Configuration;

/// <summary>
/// Per-user OAuth settings: LiteLLM's oauth2_token_exchange server fields (its MCPServer: token_exchange_endpoint or
/// token_url, audience, subject_token_type, client_id, client_secret, scopes, token_endpoint_auth_method), our
/// mcp.scopes_supported, and the errors.
/// </summary>
[Trait("Category", "unit")]
public class McpOAuthConfigTests
{
    private const string Models = "model_list:\n  - model_name: gpt-4o\n    litellm_params:\n      model: openai/gpt-4o\n      api_key: sk-xxxxxxx\n";

    private static ConfigLoadResult Load(string yaml) =>
        ConfigLoader.Load(yaml, "/tmp/test.yaml", new Dictionary<string, string>(),
            variables: new Dictionary<string, string> { ["OBO_SECRET"] = "s3cret" });

    [Fact]
    public void A_litellm_token_exchange_server_loads_with_its_fields_and_litellms_client_secret_post()
    {
        var result = Load(Models + """
            mcp_servers:
              github:
                url: "https://mcp.example.com/mcp"
                transport: "http"
                auth_type: "oauth2_token_exchange"
                token_exchange_endpoint: "https://idp.example.com/oauth2/token"
                audience: "github-mcp"
                subject_token_type: "urn:ietf:params:oauth:token-type:jwt"
                client_id: "litellm-gateway"
                client_secret: os.environ/OBO_SECRET
                scopes: ["repo", "read:org"]
            """);
        Assert.True(result.Options is not null, string.Join("; ", result.Errors));
        Assert.Empty(result.Warnings);
        var exchange = Assert.Single(result.Options!.Mcp.Servers).TokenExchange;
        Assert.NotNull(exchange);
        Assert.Equal(new Uri("https://idp.example.com/oauth2/token"), exchange.Endpoint);
        Assert.Equal("github-mcp", exchange.Audience);
        Assert.Equal("urn:ietf:params:oauth:token-type:jwt", exchange.SubjectTokenType);
        Assert.Equal("litellm-gateway", exchange.ClientId);
        Assert.Equal("s3cret", exchange.ClientSecret.Value);
        Assert.Equal(["repo", "read:org"], exchange.Scopes.AsEnumerable());
        Assert.False(exchange.BasicAuth);
    }

    [Fact]
    public void Our_schema_defaults_to_client_secret_basic_and_the_access_token_type()
    {
        var result = Load("""
            models:
              - {name: m, provider: mock}
            mcp:
              scopes_supported: [mcp.tools]
              servers:
                alpha:
                  url: http://localhost:9/mcp
                  auth_type: oauth2_token_exchange
                  token_url: http://localhost:9/token
                  client_id: agw
                  client_secret: s3cret
                  resource: https://alpha.example.com/
            """);
        Assert.True(result.Options is not null, string.Join("; ", result.Errors));
        Assert.Equal(["mcp.tools"], result.Options!.Mcp.ScopesSupported.AsEnumerable());
        var exchange = Assert.Single(result.Options.Mcp.Servers).TokenExchange!;
        Assert.True(exchange.BasicAuth);
        Assert.Equal(McpTokenExchange.AccessTokenType, exchange.SubjectTokenType);
        Assert.Equal("https://alpha.example.com/", exchange.Resource);
        Assert.Null(exchange.Audience);
    }

    [Theory]
    [InlineData("    client_id: a\n    client_secret: b", "needs token_exchange_endpoint")]
    [InlineData("    token_exchange_endpoint: http://idp/token\n    client_id: a", "needs client_id and client_secret")]
    [InlineData("    token_exchange_endpoint: ftp://idp/token\n    client_id: a\n    client_secret: b", "expected an http(s) URL")]
    [InlineData("    token_exchange_endpoint: http://idp/token\n    client_id: a\n    client_secret: b\n    token_endpoint_auth_method: private_key_jwt", "client_secret_basic or client_secret_post")]
    [InlineData("    token_exchange_endpoint: http://idp/token\n    client_id: a\n    client_secret: b\n    subject_token_type: jwt", "token type URI")]
    public void Incomplete_token_exchange_settings_are_errors(string fields, string message)
    {
        var result = Load(Models + "mcp_servers:\n  s:\n    url: http://x/mcp\n    auth_type: oauth2_token_exchange\n" + fields + "\n");
        Assert.Null(result.Options);
        Assert.Contains(result.Errors, e => e.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public void A_stdio_server_cannot_take_an_exchanged_token()
    {
        var result = Load(Models + "mcp_servers:\n  s:\n    command: node\n    auth_type: oauth2_token_exchange\n    token_exchange_endpoint: http://idp/token\n    client_id: a\n    client_secret: b\n");
        Assert.Contains(result.Errors, e => e.Contains("needs an http or sse MCP server", StringComparison.Ordinal));
    }

    [Fact]
    public void A_scope_that_cannot_be_quoted_in_a_challenge_is_refused()
    {
        var result = Load("models:\n  - {name: m, provider: mock}\nmcp:\n  scopes_supported: ['a\"b']\n");
        Assert.Contains(result.Errors, e => e.Contains("is not an OAuth scope", StringComparison.Ordinal));
    }
}
