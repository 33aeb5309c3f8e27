using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Responses;

/// <summary>
/// OpenAI's code_interpreter run by the gateway in the caller's bubblewrap sandbox, for a model that calls it (the
/// emulator is told which code to send): on the Responses API (JSON and stream) and on chat completions, for an
/// OpenAI-shaped and a translated (Anthropic) deployment, with the sandbox time and the tokens in the spend logs.
/// </summary>
[Trait("Category", "sandbox")]
public class HostedCodeInterpreterTests : IAsyncLifetime
{
    private const string Master = "sk-code-master";
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
              - {"{"}name: claude, provider: anthropic, model: claude-sonnet-4-5, api_base: "{_upstream.Url}", api_key: k{"}"}
            sandboxes:
              pools: {"{"}python: {"{"}min_ready: 1, max_total: 10{"}"}{"}"}
            """);
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    private async Task<(HttpStatusCode Status, string Text, HttpResponseMessage Response)> PostAsync(string path, object body, string key = Master)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, _gateway.Url + path) { Content = JsonContent.Create(body) };
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + key);
        var response = await _gateway.Client.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), response);
    }

    [Theory]
    [InlineData("gpt-4o")]
    [InlineData("claude")]
    public async Task The_model_calls_code_interpreter_and_the_gateway_runs_it_in_a_sandbox(string model)
    {
        var key = await _gateway.GenerateKeyAsync("""{"max_budget": 5}""", Master);
        var (status, text, response) = await PostAsync("/v1/responses", new
        {
            model,
            input = Ask("print(6 * 7)"),
            tools = new object[] { new { type = "code_interpreter", container = new { type = "auto" } } },
        }, key);
        Assert.True(status == HttpStatusCode.OK, text);
        var body = JsonNode.Parse(text)!;
        Assert.Equal("completed", (string?)body["status"]);
        var output = body["output"]!.AsArray();
        var call = output.Single(i => (string?)i!["type"] == "code_interpreter_call")!;
        Assert.Equal("print(6 * 7)", (string?)call["code"]);
        Assert.Equal("completed", (string?)call["status"]);
        Assert.StartsWith("cntr_", (string?)call["container_id"]);
        Assert.Contains("42", (string?)call["outputs"]![0]!["logs"]);
        // The model got the result back and answered with it.
        var message = output.Last(i => (string?)i!["type"] == "message")!;
        Assert.Contains("Tool result: 42", (string?)message["content"]![0]!["text"]);
        Assert.True(output.IndexOf(call) < output.IndexOf(message));
        // Two model turns, both in the usage.
        Assert.True((int)body["usage"]!["input_tokens"]! > 0);

        await _gateway.FlushSpendAsync();
        var (_, logs) = await _gateway.AdminAsync("/spend/logs?request_id=" + response.Headers.GetValues("x-request-id").Single(), null, Master);
        var callTypes = logs.EnumerateArray().Select(l => l.GetProperty("call_type").GetString()).ToList();
        Assert.Equal(2, callTypes.Count(t => t != "code_interpreter"));
        Assert.Contains("code_interpreter", callTypes);
    }

    [Fact]
    public async Task A_streamed_response_has_the_code_interpreter_events()
    {
        var (status, text, _) = await PostAsync("/v1/responses", new
        {
            model = "claude",
            input = Ask("x = 40\nprint(x + 2)"),
            tools = new object[] { new { type = "code_interpreter", container = new { type = "auto" } } },
            stream = true,
        });
        Assert.Equal(HttpStatusCode.OK, status);
        var events = ResponsesApiTests.ParseEvents(text);
        var types = events.Select(e => e.Type).ToList();
        Assert.Equal("response.created", types[0]);
        Assert.Equal("response.completed", types[^1]);
        for (var i = 0; i < events.Count; i++) Assert.Equal(i, (int)events[i].Data["sequence_number"]!);
        var order = new[]
        {
            "response.code_interpreter_call.in_progress", "response.code_interpreter_call_code.delta", "response.code_interpreter_call_code.done",
            "response.code_interpreter_call.interpreting", "response.code_interpreter_call.completed", "response.output_text.delta",
        };
        var at = order.Select(t => types.IndexOf(t)).ToList();
        Assert.All(at, i => Assert.True(i > 0));
        Assert.Equal(at.Order(), at);
        var completed = events[^1].Data["response"]!;
        Assert.Contains("42", (string?)completed["output"]!.AsArray().Single(i => (string?)i!["type"] == "code_interpreter_call")!["outputs"]![0]!["logs"]);
    }

    [Fact]
    public async Task A_container_keeps_its_state_between_responses_and_is_its_owners_alone()
    {
        var (_, first, _) = await PostAsync("/v1/responses", new
        {
            model = "claude",
            input = Ask("secret = 41"),
            tools = new object[] { new { type = "code_interpreter", container = new { type = "auto" } } },
        });
        var container = (string)JsonNode.Parse(first)!["output"]!.AsArray().Single(i => (string?)i!["type"] == "code_interpreter_call")!["container_id"]!;
        var (_, second, _) = await PostAsync("/v1/responses", new
        {
            model = "claude",
            input = Ask("print(secret + 1)"),
            tools = new object[] { new { type = "code_interpreter", container } },
        });
        Assert.Contains("42", (string?)JsonNode.Parse(second)!["output"]!.AsArray().Single(i => (string?)i!["type"] == "code_interpreter_call")!["outputs"]![0]!["logs"]);

        var other = await _gateway.GenerateKeyAsync("{}", Master);
        var (status, theirs, _) = await PostAsync("/v1/responses", new
        {
            model = "claude",
            input = Ask("print(secret)"),
            tools = new object[] { new { type = "code_interpreter", container } },
        }, other);
        // Another key's container is not found: the call fails, the secret is never read.
        Assert.Equal(HttpStatusCode.OK, status);
        var refused = JsonNode.Parse(theirs)!["output"]!.AsArray().Single(i => (string?)i!["type"] == "code_interpreter_call")!;
        Assert.Equal("failed", (string?)refused["status"]);
        Assert.Null(refused["outputs"]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Chat_completions_run_code_interpreter_as_litellm_offers_it(bool stream)
    {
        var (status, text, _) = await PostAsync("/v1/chat/completions", new
        {
            model = "claude",
            messages = new object[] { new { role = "user", content = Ask("print(6 * 7)") } },
            tools = new object[] { new { type = "code_interpreter" } },
            stream,
        });
        Assert.True(status == HttpStatusCode.OK, text);
        JsonNode message;
        if (stream)
        {
            var chunks = text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(l => l["data: ".Length..]).ToList();
            Assert.Equal("[DONE]", chunks[^1]);
            var content = string.Concat(chunks.SkipLast(1).Select(c => (string?)JsonNode.Parse(c)!["choices"]?[0]?["delta"]?["content"]));
            Assert.Contains("Tool result: 42", content);
            message = JsonNode.Parse(chunks[0])!["choices"]![0]!["delta"]!;
        }
        else
        {
            message = JsonNode.Parse(text)!["choices"]![0]!["message"]!;
            Assert.Contains("Tool result: 42", (string?)message["content"]);
        }
        var results = message["provider_specific_fields"]!["code_interpreter_results"]!.AsArray();
        Assert.Equal("code_interpreter_call", (string?)results[0]!["type"]);
        Assert.Contains("42", (string?)results[0]!["outputs"]![0]!["logs"]);
    }
}
