using System.Net;
using System.Text.Json;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Responses;

/// <summary>
/// Chat completions and Anthropic Messages through the gateway to a deployment served only through the Responses API
/// (LiteLLM's <c>openai/responses/...</c>), on the emulator's Responses endpoint: streamed and not, with a tool round trip.
/// </summary>
[Trait("Category", "functional")]
public class UpstreamResponsesEndToEndTests : IAsyncLifetime
{
    private const string Key = "test-provider-key";
    private const string Master = "sk-gateway-master";
    private EmulatorServer _upstream = null!;
    private GatewayServer _gateway = null!;

    public async Task InitializeAsync()
    {
        _upstream = await EmulatorServer.StartAsync(apiKey: Key);
        _gateway = await GatewayServer.StartAsync($"""
            model_list:
              - model_name: bridge
                litellm_params:
                  model: openai/responses/gpt-5-codex
                  api_base: "{_upstream.Url}/v1"
                  api_key: {Key}
            general_settings:
              master_key: {Master}
            router_settings:
              num_retries: 0
            """);
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(string path, string json)
    {
        using var response = await _gateway.PostJsonAsync(path, json, configure: r =>
        {
            r.Headers.Authorization = new("Bearer", Master);
            if (path == "/v1/messages") r.Headers.Add("anthropic-version", "2023-06-01");
        });
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    private async Task<string> StreamTextAsync(string path, string json)
    {
        using var response = await _gateway.PostJsonAsync(path, json, configure: r =>
        {
            r.Headers.Authorization = new("Bearer", Master);
            if (path == "/v1/messages") r.Headers.Add("anthropic-version", "2023-06-01");
        });
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        return text;
    }

    /// <summary>What the gateway sent upstream: to the Responses endpoint, as a Responses body.</summary>
    private JsonElement UpstreamBody()
    {
        var last = _upstream.Engine.LastRequest!;
        Assert.Equal("/v1/responses", last.Path);
        Assert.Equal("Bearer " + Key, last.Headers["authorization"]);
        var body = JsonDocument.Parse(last.Body).RootElement.Clone();
        Assert.Equal("gpt-5-codex", body.GetProperty("model").GetString());
        Assert.False(body.GetProperty("store").GetBoolean());
        Assert.False(body.TryGetProperty("messages", out _));
        return body;
    }

    [Fact]
    public async Task A_chat_completion_reaches_the_responses_api_and_answers_as_chat()
    {
        var (status, body) = await PostAsync("/v1/chat/completions", """{"model":"bridge","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Say hello"}],"max_tokens":100}""");
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        var sent = UpstreamBody();
        Assert.Equal("Be brief.", sent.GetProperty("instructions").GetString());
        Assert.Equal(100, sent.GetProperty("max_output_tokens").GetInt32());
        Assert.Equal("chat.completion", body.GetProperty("object").GetString());
        Assert.StartsWith("chatcmpl-resp_", body.GetProperty("id").GetString(), StringComparison.Ordinal);
        var choice = body.GetProperty("choices")[0];
        var content = choice.GetProperty("message").GetProperty("content").GetString()!;
        Assert.False(string.IsNullOrWhiteSpace(content));
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(content.Split(' ').Length, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task A_streamed_chat_completion_reaches_the_responses_api_and_streams_chat_chunks()
    {
        var text = await StreamTextAsync("/v1/chat/completions", """{"model":"bridge","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Say hello"}]}""");
        Assert.True(UpstreamBody().GetProperty("stream").GetBoolean());
        var events = text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(e => e["data: ".Length..]).ToList();
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events.SkipLast(1).Select(e => JsonDocument.Parse(e).RootElement.Clone()).ToList();
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        var content = string.Concat(chunks.Where(c => c.GetProperty("choices").GetArrayLength() > 0)
            .Select(c => c.GetProperty("choices")[0].GetProperty("delta")).Where(d => d.TryGetProperty("content", out _)).Select(d => d.GetProperty("content").GetString()));
        Assert.False(string.IsNullOrWhiteSpace(content));
        Assert.Equal("stop", chunks.Last(c => c.GetProperty("choices").GetArrayLength() > 0).GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        var usage = chunks[^1].GetProperty("usage");
        Assert.Equal(content.Split(' ').Length, usage.GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task A_tool_round_trip_goes_through_function_call_items()
    {
        const string Tools = """[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}]""";
        var (status, body) = await PostAsync("/v1/chat/completions", $$$"""
            {"model":"bridge","tools":{{{Tools}}},"messages":[{"role":"user","content":"Weather?\nmock_tool_call: {\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}"}]}
            """);
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        var sentTool = UpstreamBody().GetProperty("tools")[0];
        Assert.Equal("get_weather", sentTool.GetProperty("name").GetString());
        Assert.False(sentTool.GetProperty("strict").GetBoolean());
        var choice = body.GetProperty("choices")[0];
        Assert.Equal("tool_calls", choice.GetProperty("finish_reason").GetString());
        var call = choice.GetProperty("message").GetProperty("tool_calls")[0];
        Assert.Equal("""{"city": "Paris"}""", call.GetProperty("function").GetProperty("arguments").GetString());
        var id = call.GetProperty("id").GetString();

        (status, body) = await PostAsync("/v1/chat/completions", $$$"""
            {"model":"bridge","tools":{{{Tools}}},"messages":[
              {"role":"user","content":"Weather?"},
              {"role":"assistant","content":null,"tool_calls":[{"id":"{{{id}}}","type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"Paris\"}"}}]},
              {"role":"tool","tool_call_id":"{{{id}}}","content":"18C and sunny"}]}
            """);
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        var input = UpstreamBody().GetProperty("input");
        Assert.Equal(["message", "function_call", "function_call_output"], input.EnumerateArray().Select(i => i.GetProperty("type").GetString()));
        Assert.Equal("Tool result: 18C and sunny", body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
    }

    [Fact]
    public async Task An_anthropic_messages_request_reaches_the_responses_api_and_answers_as_anthropic()
    {
        var (status, body) = await PostAsync("/v1/messages", """{"model":"bridge","max_tokens":200,"system":"Be brief.","messages":[{"role":"user","content":"Say hello"}]}""");
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        Assert.Equal("Be brief.", UpstreamBody().GetProperty("instructions").GetString());
        Assert.Equal("message", body.GetProperty("type").GetString());
        Assert.Equal("assistant", body.GetProperty("role").GetString());
        Assert.Equal("end_turn", body.GetProperty("stop_reason").GetString());
        var text = body.GetProperty("content")[0].GetProperty("text").GetString()!;
        Assert.False(string.IsNullOrWhiteSpace(text));
        Assert.Equal(text.Split(' ').Length, body.GetProperty("usage").GetProperty("output_tokens").GetInt32());

        var stream = await StreamTextAsync("/v1/messages", """{"model":"bridge","max_tokens":200,"stream":true,"messages":[{"role":"user","content":"Say hello"}]}""");
        Assert.True(UpstreamBody().GetProperty("stream").GetBoolean());
        Assert.Contains("event: message_start", stream, StringComparison.Ordinal);
        Assert.Contains("event: content_block_delta", stream, StringComparison.Ordinal);
        Assert.Contains("event: message_stop", stream, StringComparison.Ordinal);
    }

    [Fact]
    public async Task What_the_responses_api_cannot_express_and_its_errors_come_back_in_openais_shape()
    {
        var (status, body) = await PostAsync("/v1/chat/completions", """{"model":"bridge","n":2,"messages":[{"role":"user","content":"hi"}]}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("n", body.GetProperty("error").GetProperty("param").GetString());

        _upstream.Fail("context_window", model: "gpt-5-codex");
        (status, body) = await PostAsync("/v1/chat/completions", """{"model":"bridge","messages":[{"role":"user","content":"hi"}]}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("maximum context length", body.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }
}
