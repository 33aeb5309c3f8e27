using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Guardrails.Tools;

/// <summary>
/// sandbox_output guardrails on the hosted code interpreter (bubblewrap): what the model reads back and what the
/// client gets in the code_interpreter_call item are the masked output, and a blocked output reaches neither.
/// </summary>
[Trait("Category", "sandbox")]
public class CodeInterpreterOutputGuardrailsTests : IAsyncLifetime
{
    private const string Master = "sk-ci-guard-master";
    private EmulatorServer _upstream = null!;
    private GatewayServer _gateway = null!;

    private static string Ask(string code) =>
        "Work it out.\nmock_tool_call: " + JsonSerializer.Serialize(new { name = "code_interpreter", arguments = new { code } });

    public async Task InitializeAsync()
    {
        _upstream = await EmulatorServer.StartAsync();
        _gateway = await GatewayServer.StartAsync($"""
            master_key: {Master}
            models:
              - {"{"}name: gpt-4o, provider: openai, api_base: "{_upstream.ApiBase}", api_key: k{"}"}
            sandboxes:
              pools: {"{"}python: {"{"}min_ready: 1, max_total: 10{"}"}{"}"}
            guardrails:
              - guardrail_name: sandbox-pii
                litellm_params:
                  guardrail: presidio
                  mode: sandbox_output
                  pii_entities_config:
                    EMAIL_ADDRESS: MASK
                    CREDIT_CARD: BLOCK
                  default_on: true
            """);
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    private async Task<(JsonNode Body, string Text, string RequestId)> RespondAsync(string code)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, _gateway.Url + "/v1/responses")
        {
            Content = JsonContent.Create(new { model = "gpt-4o", input = Ask(code), tools = new object[] { new { type = "code_interpreter", container = new { type = "auto" } } } }),
        };
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + Master);
        using var response = await _gateway.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return (JsonNode.Parse(text)!, text, response.Headers.GetValues("x-request-id").Single());
    }

    [Fact]
    public async Task The_model_and_the_client_read_the_masked_output()
    {
        var (body, text, requestId) = await RespondAsync("print('ann' + '@example.com')");
        var output = body["output"]!.AsArray();
        var call = output.Single(i => (string?)i!["type"] == "code_interpreter_call")!;
        Assert.Equal("completed", (string?)call["status"]);
        Assert.Equal("<EMAIL_ADDRESS>\n", (string?)call["outputs"]![0]!["logs"]);
        var message = output.Last(i => (string?)i!["type"] == "message")!;
        Assert.Contains("<EMAIL_ADDRESS>", (string?)message["content"]![0]!["text"]);
        Assert.DoesNotContain("ann@example.com", text);

        // The run's spend log carries the decision.
        await _gateway.FlushSpendAsync();
        var (_, logs) = await _gateway.AdminAsync("/spend/logs?request_id=" + requestId, null, Master);
        var run = logs.EnumerateArray().Single(l => l.GetProperty("call_type").GetString() == "code_interpreter");
        Assert.Contains("sandbox-pii", run.GetProperty("metadata").GetProperty("guardrail_information").ToString());
    }

    [Fact]
    public async Task A_blocked_output_reaches_neither_the_model_nor_the_client()
    {
        var (body, text, _) = await RespondAsync("print('4111 ' + '1111 ' * 2 + '1111')");
        var output = body["output"]!.AsArray();
        var call = output.Single(i => (string?)i!["type"] == "code_interpreter_call")!;
        Assert.Equal("failed", (string?)call["status"]);
        Assert.DoesNotContain("4111 1111 1111 1111", text);
        // The model was told the guardrail refused the output (its answer echoes the tool result).
        var message = output.Last(i => (string?)i!["type"] == "message")!;
        Assert.Contains("sandbox-pii", (string?)message["content"]![0]!["text"]);
    }
}
