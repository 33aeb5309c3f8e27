using AgenticGateway.Configuration;

namespace AgenticGateway.Tests.Configuration;

/// <summary>The MCP gateway's config: LiteLLM's mcp_servers blocks as its docs give them, our mcp: section, and the errors.</summary>
[Trait("Category", "unit")]
public class McpConfigTests
{
    private const string Models = "model_list:\n  - model_name: gpt-4o\n    litellm_params:\n      model: openai/gpt-4o\n      api_key: sk-xxxxxxx\n";

    private static ConfigLoadResult Load(string yaml, bool allowUnsupported = false) =>
        ConfigLoader.Load(yaml, "/tmp/test.yaml", new Dictionary<string, string>(), allowUnsupported: allowUnsupported,
            variables: new Dictionary<string, string> { ["INVENTORY_TOKEN"] = "inv-1", ["LEGACY_TOKEN"] = "leg-1" });

    [Fact]
    public void LiteLlms_documented_mcp_servers_blocks_load_unchanged()
    {
        // docs/my-website/docs/mcp.md (BerriAI/litellm): the quick start's block; /sse URLs are its SSE transport.
        var quickStart = Load(Models + """
            mcp_servers:
              zapier_mcp:
                url: "https://actions.zapier.com/mcp/sk-akxxxxx/sse"
              fetch:
                url: "http://localhost:8000/sse"
            """);
        Assert.True(quickStart.Options is not null, string.Join("; ", quickStart.Errors));
        var servers = quickStart.Options!.Mcp.Servers;
        Assert.Equal(["zapier_mcp", "fetch"], servers.Select(s => s.Name));
        Assert.All(servers, s => Assert.Equal(McpTransport.Sse, s.Transport));

        // docs.litellm.ai MCP authentication guide: bearer_token and token with os.environ/ values, and a stdio server.
        var auth = Load(Models + """
            mcp_servers:
              inventory:
                url: "https://mcp.example.com/mcp"
                transport: "http"
                auth_type: "bearer_token"
                auth_value: os.environ/INVENTORY_TOKEN
              legacy_service:
                url: "https://mcp.example.com/mcp"
                transport: "http"
                auth_type: "token"
                auth_value: os.environ/LEGACY_TOKEN
              circleci:
                transport: "stdio"
                command: "npx"
                args: ["-y", "@circleci/mcp-server-circleci"]
                env:
                  CIRCLECI_TOKEN: "your-circleci-token"
              deepwiki:
                url: "https://mcp.deepwiki.com/mcp"
                allowed_tools: ["read_wiki_structure"]
                extra_headers: ["x-custom-header"]
                mcp_info:
                  mcp_server_cost_info:
                    default_cost_per_query: 0.01
                    tool_name_to_cost_per_query:
                      read_wiki_structure: 0.05
            """);
        Assert.True(auth.Options is not null, string.Join("; ", auth.Errors));
        var byName = auth.Options!.Mcp.Servers.ToDictionary(s => s.Name);
        Assert.Equal("Bearer inv-1", byName["inventory"].Headers.Single(h => h.Key == "Authorization").Value.Value);
        Assert.Equal("token leg-1", byName["legacy_service"].Headers.Single(h => h.Key == "Authorization").Value.Value);
        Assert.Equal(McpTransport.Stdio, byName["circleci"].Transport);
        Assert.Equal(["-y", "@circleci/mcp-server-circleci"], byName["circleci"].Args.ToArray());
        Assert.True(byName["deepwiki"].Serves("read_wiki_structure"));
        Assert.False(byName["deepwiki"].Serves("ask_question"));
        Assert.Equal(["x-custom-header"], byName["deepwiki"].ForwardHeaders.ToArray());
        Assert.Equal(0.05m, byName["deepwiki"].CostOf("read_wiki_structure"));
        Assert.Equal(0.01m, byName["deepwiki"].CostOf("ask_question"));
        // Secrets print as ***.
        Assert.DoesNotContain("inv-1", byName["inventory"].ToString());
    }

    [Fact]
    public void Our_mcp_section_reads_its_settings()
    {
        var result = Load("models:\n  - {name: m, provider: mock}\n" + """
            mcp:
              tool_separator: "_"
              list_ttl: 10s
              call_timeout: 5s
              max_result_bytes: 65536
              tool_rpm: 30
              loop_breaker: {max_repeats: 4, window: 30s}
              pinning: {enabled: true, approve_new_tools: false, recheck_interval: 15s}
              servers:
                github:
                  url: https://api.example.com/mcp
                  headers: {Authorization: Bearer gh}
                  tool_rpms: {create_issue: 5}
                  cost_per_call: 0.001
            """);
        Assert.True(result.Options is not null, string.Join("; ", result.Errors));
        var mcp = result.Options!.Mcp;
        Assert.Equal("_", mcp.Separator);
        Assert.Equal(TimeSpan.FromSeconds(10), mcp.ListTtl);
        Assert.Equal(4, mcp.LoopMaxRepeats);
        Assert.False(mcp.ApproveNewTools);
        Assert.Equal(TimeSpan.FromSeconds(15), mcp.RecheckInterval);
        var github = Assert.Single(mcp.Servers);
        Assert.Equal(5, github.RpmOf("create_issue", mcp.ToolRpm));
        Assert.Equal(30, github.RpmOf("list_issues", mcp.ToolRpm));
    }

    [Theory]
    [InlineData("my-server:\n    url: http://x/mcp", "contains the tool separator")]
    [InlineData("sandbox:\n    url: http://x/mcp", "built-in sandbox server")]
    [InlineData("s:\n    transport: websocket\n    url: http://x/mcp", "unknown MCP transport")]
    [InlineData("s:\n    transport: http", "needs a url")]
    [InlineData("s:\n    transport: stdio", "needs a command")]
    [InlineData("s:\n    url: ftp://x/mcp", "expected an http(s) URL")]
    [InlineData("s:\n    url: http://x/mcp\n    auth_type: oauth2", "is not supported")]
    [InlineData("s:\n    url: http://x/mcp\n    auth_type: api_key", "needs auth_value")]
    [InlineData("s:\n    url: http://x/mcp\n    extra_headers: [x-litellm-api-key]", "never forwarded")]
    public void Bad_servers_are_errors_with_their_path(string entry, string message)
    {
        var result = Load(Models + "mcp_servers:\n  " + entry + "\n");
        Assert.Null(result.Options);
        Assert.Contains(result.Errors, e => e.Contains("mcp_servers.", StringComparison.Ordinal) && e.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public void A_recheck_interval_over_30_seconds_is_refused()
    {
        var result = Load("models:\n  - {name: m, provider: mock}\nmcp:\n  pinning: {recheck_interval: 5m}\n");
        Assert.Contains(result.Errors, e => e.Contains("at most 30s", StringComparison.Ordinal));
    }
}
