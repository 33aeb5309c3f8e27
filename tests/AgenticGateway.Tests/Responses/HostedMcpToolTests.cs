using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Responses;

/// <summary>
/// OpenAI's <c>mcp</c> tool run by the gateway through its MCP gateway, with the caller's permissions: without approval,
/// with OpenAI's approval round trip (mcp_approval_request, then mcp_approval_response with previous_response_id), on
/// a translated deployment, and refused for a server the key may not use.
/// </summary>
[Trait("Category", "integration")]
public class HostedMcpToolTests
{
    private const string Master = "sk-mcp-responses";

    private static string Ask(string tool, object arguments) =>
        "Use the tool.\nmock_tool_call: " + JsonSerializer.Serialize(new { name = tool, arguments });

    private static async Task<(HttpStatusCode Status, JsonNode Body)> PostAsync(GatewayServer gateway, object body, string key = Master)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, gateway.Url + "/v1/responses") { Content = JsonContent.Create(body) };
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + key);
        var response = await gateway.Client.SendAsync(request);
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    private static async Task<(EmulatorServer, NodeMcpHttpServer, GatewayServer)> StartAsync(string serverExtra = "")
    {
        var upstream = await EmulatorServer.StartAsync();
        var mcp = await NodeMcp.StartHttpServerAsync(name: "inventory");
        var gateway = await GatewayServer.StartAsync($"""
            master_key: {Master}
            models:
              - {"{"}name: claude, provider: anthropic, model: claude-sonnet-4-5, api_base: "{upstream.Url}", api_key: k{"}"}
            mcp:
              servers:
                inventory:
                  url: "{mcp.Url}"
                  {serverExtra}
            """);
        return (upstream, mcp, gateway);
    }

    [Fact]
    public async Task A_tool_that_needs_no_approval_is_called_and_its_result_reaches_the_model()
    {
        var (upstream, mcp, gateway) = await StartAsync();
        await using var _1 = upstream;
        await using var _2 = mcp;
        await using var _3 = gateway;
        var (status, body) = await PostAsync(gateway, new
        {
            model = "claude",
            input = Ask("inventory__echo", new { text = "pears" }),
            tools = new object[] { new { type = "mcp", server_label = "inventory", require_approval = "never" } },
        });
        Assert.True(status == HttpStatusCode.OK, body.ToJsonString());
        var output = body["output"]!.AsArray();
        var list = output.Single(i => (string?)i!["type"] == "mcp_list_tools")!;
        Assert.Equal("inventory", (string?)list["server_label"]);
        Assert.Contains(list["tools"]!.AsArray(), t => (string?)t!["name"] == "echo");
        var call = output.Single(i => (string?)i!["type"] == "mcp_call")!;
        Assert.Equal("echo", (string?)call["name"]);
        Assert.Equal("inventory: pears", (string?)call["output"]);
        Assert.Null(call["error"]);
        Assert.Contains("Tool result: inventory: pears", (string?)output.Last(i => (string?)i!["type"] == "message")!["content"]![0]!["text"]);
    }

    [Fact]
    public async Task The_model_turns_and_a_priced_tool_are_in_the_spend_logs()
    {
        var (upstream, mcp, gateway) = await StartAsync("cost_per_call: 0.25");
        await using var _1 = upstream;
        await using var _2 = mcp;
        await using var _3 = gateway;
        var key = await gateway.GenerateKeyAsync("""{"max_budget": 5}""", Master);
        using var request = new HttpRequestMessage(HttpMethod.Post, gateway.Url + "/v1/responses")
        {
            Content = JsonContent.Create(new
            {
                model = "claude",
                input = Ask("inventory__echo", new { text = "kiwis" }),
                tools = new object[] { new { type = "mcp", server_label = "inventory", require_approval = "never" } },
            }),
        };
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + key);
        using var response = await gateway.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await gateway.FlushSpendAsync();
        var (_, logs) = await gateway.AdminAsync("/spend/logs?request_id=" + response.Headers.GetValues("x-request-id").Single(), null, Master);
        var rows = logs.EnumerateArray().ToList();
        Assert.Equal(2, rows.Count(r => r.GetProperty("call_type").GetString() == "chat"));
        var tool = rows.Single(r => r.GetProperty("call_type").GetString() == "call_mcp_tool");
        Assert.Equal(0.25, tool.GetProperty("spend").GetDouble(), 6);
        // The key's spend is the tool's price and both turns' tokens.
        var (_, info) = await gateway.AdminAsync("/key/info?key=" + key, null, Master);
        Assert.Equal(rows.Sum(r => r.GetProperty("spend").GetDouble()), info.GetProperty("info").GetProperty("spend").GetDouble(), 6);
    }

    [Fact]
    public async Task A_call_waits_for_the_clients_approval_and_runs_once_approved()
    {
        var (upstream, mcp, gateway) = await StartAsync();
        await using var _1 = upstream;
        await using var _2 = mcp;
        await using var _3 = gateway;
        object[] tools = [new { type = "mcp", server_label = "inventory" }];
        var (_, first) = await PostAsync(gateway, new { model = "claude", input = Ask("inventory__echo", new { text = "plums" }), tools });
        var request = first["output"]!.AsArray().Single(i => (string?)i!["type"] == "mcp_approval_request")!;
        Assert.Equal("echo", (string?)request["name"]);
        Assert.Equal("inventory", (string?)request["server_label"]);
        Assert.DoesNotContain(first["output"]!.AsArray(), i => (string?)i!["type"] == "mcp_call");

        var (status, second) = await PostAsync(gateway, new
        {
            model = "claude",
            previous_response_id = (string?)first["id"],
            input = new object[] { new { type = "mcp_approval_response", approval_request_id = (string?)request["id"], approve = true } },
            tools,
        });
        Assert.True(status == HttpStatusCode.OK, second.ToJsonString());
        var call = second["output"]!.AsArray().Single(i => (string?)i!["type"] == "mcp_call")!;
        Assert.Equal((string?)request["id"], (string?)call["approval_request_id"]);
        Assert.Equal("inventory: plums", (string?)call["output"]);
        // The tool list is not repeated in a conversation that already has it.
        Assert.DoesNotContain(second["output"]!.AsArray(), i => (string?)i!["type"] == "mcp_list_tools");
        Assert.Contains("Tool result: inventory: plums", (string?)second["output"]!.AsArray().Last(i => (string?)i!["type"] == "message")!["content"]![0]!["text"]);
    }

    [Fact]
    public async Task A_denied_call_is_not_run_and_the_model_is_told()
    {
        var (upstream, mcp, gateway) = await StartAsync();
        await using var _1 = upstream;
        await using var _2 = mcp;
        await using var _3 = gateway;
        object[] tools = [new { type = "mcp", server_label = "inventory" }];
        var (_, first) = await PostAsync(gateway, new { model = "claude", input = Ask("inventory__echo", new { text = "figs" }), tools });
        var request = first["output"]!.AsArray().Single(i => (string?)i!["type"] == "mcp_approval_request")!;
        var (_, second) = await PostAsync(gateway, new
        {
            model = "claude",
            previous_response_id = (string?)first["id"],
            input = new object[] { new { type = "mcp_approval_response", approval_request_id = (string?)request["id"], approve = false, reason = "not today" } },
            tools,
        });
        Assert.DoesNotContain(second["output"]!.AsArray(), i => (string?)i!["type"] == "mcp_call");
        Assert.Contains("not approve", (string?)second["output"]!.AsArray().Last(i => (string?)i!["type"] == "message")!["content"]![0]!["text"]);
    }

    [Fact]
    public async Task A_key_without_the_server_in_its_permissions_is_refused()
    {
        var (upstream, mcp, gateway) = await StartAsync();
        await using var _1 = upstream;
        await using var _2 = mcp;
        await using var _3 = gateway;
        var key = await gateway.GenerateKeyAsync("""{"object_permission":{"mcp_servers":["elsewhere"]}}""", Master);
        var (status, body) = await PostAsync(gateway, new
        {
            model = "claude",
            input = "hi",
            tools = new object[] { new { type = "mcp", server_label = "inventory", require_approval = "never" } },
        }, key);
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("permission_error", (string?)body["error"]!["type"]);
    }
}
