using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.Runtime;
using AgenticGateway.Tests.Support;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace AgenticGateway.Tests.Mcp;

/// <summary>
/// Each kind of upstream behind /mcp: a LiteLLM config's mcp_servers block as LiteLLM documents it, an OpenAPI document,
/// resources and prompts federated, and a reload that adds a server.
/// </summary>
[Trait("Category", "integration")]
public class McpServersThroughGatewayTests
{
    private const string Master = "sk-master-mcp2";

    private static Task<McpClient> ClientAsync(GatewayServer gateway, string key = Master) => McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions
    {
        Endpoint = new Uri(gateway.Url + "/mcp"),
        TransportMode = HttpTransportMode.StreamableHttp,
        AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = "Bearer " + key },
    }));

    private static string Text(CallToolResult result) => string.Concat(result.Content.OfType<TextContentBlock>().Select(c => c.Text));

    [Fact]
    public async Task A_litellm_config_with_mcp_servers_as_litellm_documents_them_serves_their_tools()
    {
        await using var upstream = await NodeMcp.StartHttpServerAsync(name: "inventory");
        // LiteLLM's documented shape (docs.litellm.ai mcp auth guide, "Bearer token"): transport, auth_type and an
        // os.environ/ auth_value; beside it a model_list, general_settings.master_key and x-litellm-api-key.
        var yaml = $"""
            model_list:
              - model_name: gpt-4o
                litellm_params:
                  model: openai/gpt-4o
                  api_key: sk-xxxxxxx
            general_settings:
              master_key: {Master}
            environment_variables:
              INVENTORY_TOKEN: inv-token-123
            mcp_servers:
              inventory:
                url: "{upstream.Url}"
                transport: "http"
                auth_type: "bearer_token"
                auth_value: os.environ/INVENTORY_TOKEN
            """;
        await using var gateway = await GatewayServer.StartAsync(yaml);
        await using var client = await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = new Uri(gateway.Url + "/mcp"),
            TransportMode = HttpTransportMode.StreamableHttp,
            // LiteLLM's key header; Authorization is then free for the caller's own upstream token.
            AdditionalHeaders = new Dictionary<string, string> { ["x-litellm-api-key"] = "Bearer " + Master },
        }));
        Assert.Contains("inventory-echo", (await client.ListToolsAsync()).Select(t => t.Name));
        Assert.Equal("inventory: x", Text(await client.CallToolAsync("inventory-echo", new Dictionary<string, object?> { ["text"] = "x" })));
        var headers = await upstream.LastHeadersAsync();
        Assert.Equal("Bearer inv-token-123", headers["authorization"]);
        Assert.DoesNotContain(headers.Values, v => v.Contains(Master, StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_openapi_document_is_served_as_tools()
    {
        await using var store = await OpenApiUpstreamTests.PetStore.StartAsync();
        var spec = Path.Combine(AppContext.BaseDirectory, "Fixtures", "openapi", "petstore.yaml");
        await using var gateway = await GatewayServer.StartAsync($"""
            master_key: {Master}
            models:
              - {"{"}name: m, provider: mock{"}"}
            mcp:
              servers:
                pets:
                  type: openapi
                  spec_path: {JsonSerializer.Serialize(spec)}
                  url: {store.Address}/v1
                  headers: {"{"}X-Api-Key: pet-secret{"}"}
            """);
        await using var client = await ClientAsync(gateway);
        var names = (await client.ListToolsAsync()).Select(t => t.Name).ToList();
        Assert.Contains("pets-listpets", names);
        Assert.Contains("pets-showpetbyid", names);
        var list = await client.CallToolAsync("pets-listpets", new Dictionary<string, object?> { ["limit"] = 2 });
        Assert.NotEqual(true, list.IsError);
        Assert.Equal(2, JsonNode.Parse(Text(list))!.AsArray().Count);
        Assert.Equal("GET /v1/pets?limit=2", store.Last.Target);
        Assert.Equal("pet-secret", store.Last.Headers["X-Api-Key"]);
    }

    [Fact]
    public async Task Resources_and_prompts_are_federated_and_a_reload_adds_a_server()
    {
        await using var first = await NodeMcp.StartHttpServerAsync(name: "one");
        await using var second = await NodeMcp.StartHttpServerAsync(stateless: true, name: "two");
        var yaml = $"""
            master_key: {Master}
            models:
              - {"{"}name: m, provider: mock{"}"}
            mcp:
              servers:
                one:
                  url: {first.Url}
            """;
        await using var gateway = await GatewayServer.StartAsync(yaml);
        await using var client = await ClientAsync(gateway);
        var readme = await client.ReadResourceAsync("test://readme");
        Assert.Contains("readme", Assert.IsType<TextResourceContents>(Assert.Single(readme.Contents)).Text);
        Assert.Contains("one-greet", (await client.ListPromptsAsync()).Select(p => p.Name));
        var prompt = await client.GetPromptAsync("one-greet", new Dictionary<string, object?> { ["name"] = "Ann" });
        Assert.Equal("[one] Hello, Ann!", Assert.IsType<TextContentBlock>(Assert.Single(prompt.Messages).Content).Text);
        Assert.DoesNotContain((await client.ListToolsAsync()).Select(t => t.Name), n => n.StartsWith("two-", StringComparison.Ordinal));

        // A reload (what the config watcher does on a file change) adds the second server; the first keeps serving.
        var reloaded = AgenticGateway.Configuration.ConfigLoader.Load(yaml + $"""

                two:
                  url: {second.Url}
            """, "test.yaml", new Dictionary<string, string>());
        Assert.True(reloaded.Options is not null, string.Join("; ", reloaded.Errors));
        var runtimes = gateway.Services.GetRequiredService<RuntimeHolder>();
        runtimes.Swap(reloaded.Options! with { Storage = runtimes.Configured.Storage, Sandboxes = runtimes.Configured.Sandboxes });
        var names = (await client.ListToolsAsync()).Select(t => t.Name).ToList();
        Assert.Contains("two-echo", names);
        Assert.Contains("one-echo", names);
        Assert.Equal("two: r", Text(await client.CallToolAsync("two-echo", new Dictionary<string, object?> { ["text"] = "r" })));
    }
}
