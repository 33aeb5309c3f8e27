using System.ComponentModel;
using AgenticGateway.Hosting;
using AgenticGateway.Tests.Support;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace AgenticGateway.Tests.Guardrails.Tools;

/// <summary>
/// LiteLLM's MCP guardrail modes through /mcp: an in-process MCP server (the C# SDK over Streamable HTTP) behind the
/// gateway, presidio-compatible guardrails on tool arguments (pre_mcp_call, during_mcp_call) and results (post_mcp_call).
/// </summary>
[Trait("Category", "functional")]
public class McpToolGuardrailsTests : IAsyncLifetime
{
    private const string Master = "sk-master-guard-mcp";
    private WebApplication _upstream = null!;
    private string _upstreamUrl = null!;
    private static readonly List<string> Received = [];

    [McpServerToolType]
    private sealed class Tools
    {
        [McpServerTool(Name = "echo"), Description("Returns its text")]
        public static string Echo(string text)
        {
            lock (Received) Received.Add(text);
            return "echo: " + text;
        }

        [McpServerTool(Name = "owner"), Description("Returns the owner's contact")]
        public static string Owner() => "owner: ann@example.com, card 4111 1111 1111 1111";
    }

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddMcpServer().WithHttpTransport(o => o.Stateless = true).WithTools<Tools>();
        _upstream = builder.Build();
        _upstream.Urls.Add("http://127.0.0.1:0");
        _upstream.MapMcp("/mcp");
        await _upstream.StartAsync();
        _upstreamUrl = GatewayApp.BoundAddresses(_upstream)[0] + "/mcp";
    }

    public async Task DisposeAsync()
    {
        await _upstream.StopAsync();
        await _upstream.DisposeAsync();
    }

    private Task<GatewayServer> GatewayAsync(string guardrails) => GatewayServer.StartAsync($"""
        master_key: {Master}
        models:
          - {"{"}name: m, provider: mock{"}"}
        mcp:
          sandbox_server: false
          servers:
            up:
              url: {_upstreamUrl}
        guardrails:
        {guardrails}
        """);

    private static Task<McpClient> ClientAsync(GatewayServer gateway) => McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions
    {
        Endpoint = new Uri(gateway.Url + "/mcp"),
        TransportMode = HttpTransportMode.StreamableHttp,
        AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = "Bearer " + Master },
    }));

    private static string Text(CallToolResult result) => string.Concat(result.Content.OfType<TextContentBlock>().Select(c => c.Text));

    [Fact]
    public async Task Pre_mcp_call_masks_the_arguments_before_the_server_sees_them_and_blocks_a_card()
    {
        // LiteLLM's docs/my-website/docs/mcp_guardrail.md example.
        await using var gateway = await GatewayAsync("""
              - guardrail_name: "mcp-input-validation"
                litellm_params:
                  guardrail: presidio
                  mode: "pre_mcp_call"
                  pii_entities_config:
                    CREDIT_CARD: "BLOCK"
                    EMAIL_ADDRESS: "MASK"
                    PHONE_NUMBER: "MASK"
                  default_on: true
            """);
        await using var client = await ClientAsync(gateway);

        var masked = await client.CallToolAsync("up-echo", new Dictionary<string, object?> { ["text"] = "write to ann@example.com" });
        Assert.Equal("echo: write to <EMAIL_ADDRESS>", Text(masked));
        lock (Received) Assert.DoesNotContain(Received, r => r.Contains("ann@example.com", StringComparison.Ordinal));

        var count = Received.Count;
        var blocked = await client.CallToolAsync("up-echo", new Dictionary<string, object?> { ["text"] = "pay with 4111 1111 1111 1111" });
        Assert.True(blocked.IsError);
        Assert.Contains("The guardrail 'mcp-input-validation' blocked the arguments of up-echo", Text(blocked));
        Assert.DoesNotContain("4111", Text(blocked));
        Assert.Equal(count, Received.Count); // never sent
    }

    [Fact]
    public async Task Post_mcp_call_masks_what_a_tool_returns_before_the_model_reads_it()
    {
        await using var gateway = await GatewayAsync("""
              - guardrail_name: "mcp-results"
                litellm_params:
                  guardrail: presidio
                  mode: "post_mcp_call"
                  pii_entities_config:
                    EMAIL_ADDRESS: "MASK"
                    CREDIT_CARD: "MASK"
                  default_on: true
            """);
        await using var client = await ClientAsync(gateway);
        var result = await client.CallToolAsync("up-owner");
        Assert.NotEqual(true, result.IsError);
        Assert.Equal("owner: <EMAIL_ADDRESS>, card <CREDIT_CARD>", Text(result));
        // Arguments are not this mode's: they reach the server as sent.
        Assert.Equal("echo: <EMAIL_ADDRESS>", Text(await client.CallToolAsync("up-echo", new Dictionary<string, object?> { ["text"] = "bob@example.org" })));
        lock (Received) Assert.Contains("bob@example.org", Received);
    }

    [Fact]
    public async Task During_mcp_call_blocks_the_result_of_a_call_whose_arguments_it_refuses()
    {
        await using var gateway = await GatewayAsync("""
              - guardrail_name: "mcp-during"
                litellm_params:
                  guardrail: litellm_content_filter
                  mode: "during_mcp_call"
                  blocked_words:
                    - keyword: "exfiltrate"
                      action: "BLOCK"
                  default_on: true
            """);
        await using var client = await ClientAsync(gateway);
        var result = await client.CallToolAsync("up-echo", new Dictionary<string, object?> { ["text"] = "exfiltrate the data" });
        Assert.True(result.IsError);
        Assert.Contains("The guardrail 'mcp-during' blocked the arguments of up-echo", Text(result));
        Assert.Equal("echo: fine", Text(await client.CallToolAsync("up-echo", new Dictionary<string, object?> { ["text"] = "fine" })));
    }
}
