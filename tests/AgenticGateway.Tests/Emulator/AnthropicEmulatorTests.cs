using System.Buffers;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.Configuration;
using AgenticGateway.Providers.Anthropic;
using AgenticGateway.Providers.Translation;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Emulator;

/// <summary>
/// The emulator's Anthropic dialect, driven through the Anthropic translator: OpenAI request → translated request →
/// emulator → translated response, for Anthropic's own API and Claude on Vertex AI, streamed and not.
/// </summary>
[Trait("Category", "functional")]
public class AnthropicEmulatorTests : IAsyncLifetime
{
    private const string Key = "sk-ant-emulator";
    private EmulatorServer _mock = null!;
    private readonly HttpClient _http = new();

    public async Task InitializeAsync() => _mock = await EmulatorServer.StartAsync(apiKey: Key);

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _mock.DisposeAsync();
    }

    private ProviderCall Call(bool stream = false, bool includeUsage = false, bool vertex = false, string? key = Key)
    {
        var deployment = new DeploymentOptions
        {
            Id = "emulated",
            ModelName = "claude",
            Provider = vertex ? "vertex_ai" : "anthropic",
            Model = vertex ? "claude-sonnet-4-5@20250929" : "claude-sonnet-4-5",
            ApiBase = new Uri(_mock.Url),
            ApiKey = new Secret(key),
            Cloud = vertex ? new CloudOptions { VertexProject = "proj", VertexLocation = "us-east5" } : CloudOptions.None,
        };
        return new ProviderCall(deployment, deployment.Model, stream, includeUsage, "req-emu");
    }

    private static AnthropicTranslator Translator(bool vertex = false, string token = Key) =>
        vertex ? AnthropicTranslator.ForVertex(_ => ValueTask.FromResult(token)) : new AnthropicTranslator();

    private async Task<HttpResponseMessage> SendAsync(AnthropicTranslator translator, string openAiBody, ProviderCall call, string? fault = null)
    {
        var translated = await translator.BuildChatRequestAsync(Encoding.UTF8.GetBytes(openAiBody), call, CancellationToken.None);
        Assert.True(translated.Error is null, translated.Error?.Message);
        var request = translated.Request!;
        if (fault is not null) request.Headers.Add("x-mock-fault", fault);
        return await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }

    private async Task<JsonNode> CompleteAsync(string openAiBody, bool vertex = false)
    {
        var translator = Translator(vertex);
        var call = Call(vertex: vertex);
        using var response = await SendAsync(translator, openAiBody, call);
        var body = await response.Content.ReadAsByteArrayAsync();
        Assert.True(response.IsSuccessStatusCode, Encoding.UTF8.GetString(body));
        var output = translator.TranslateChatResponse(body, call, out var usage);
        var node = JsonNode.Parse(output)!;
        Assert.Equal(usage!.Value.PromptTokens, (long)node["usage"]!["prompt_tokens"]!);
        return node;
    }

    /// <summary>Streams through the translator as the bytes arrive, in whatever pieces the socket delivers.</summary>
    private async Task<(List<JsonNode?> Chunks, string Raw)> StreamAsync(string openAiBody, bool vertex = false, bool includeUsage = true, string? fault = null)
    {
        var translator = Translator(vertex);
        var call = Call(stream: true, includeUsage: includeUsage, vertex: vertex);
        using var response = await SendAsync(translator, openAiBody, call, fault);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var stream = translator.CreateChatStream(call);
        var output = new ArrayBufferWriter<byte>();
        await using var body = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[37];
        int n;
        while ((n = await body.ReadAsync(buffer)) > 0) stream.Feed(buffer.AsSpan(0, n), output);
        stream.Complete(output);
        var raw = Encoding.UTF8.GetString(output.WrittenSpan);
        var chunks = raw.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(e => e["data: ".Length..]).Where(e => e != "[DONE]").Select(e => JsonNode.Parse(e)).ToList();
        Assert.EndsWith("data: [DONE]\n\n", raw, StringComparison.Ordinal);
        return (chunks, raw);
    }

    private const string Weather = """{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}},"required":["city","days"]}}}""";
    private const string Time = """{"type":"function","function":{"name":"get_time","parameters":{"type":"object","properties":{"zone":{"enum":["UTC","CET"]}},"required":["zone"]}}}""";

    [Fact]
    public async Task Text_round_trips_with_usage_matching_the_content()
    {
        var a = await CompleteAsync("""{"model":"claude","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"What is a gateway?"}]}""");
        var b = await CompleteAsync("""{"model":"claude","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"What is a gateway?"}]}""");
        var choice = a["choices"]![0]!;
        var text = (string)choice["message"]!["content"]!;
        Assert.False(string.IsNullOrWhiteSpace(text));
        Assert.Equal(text, (string)b["choices"]![0]!["message"]!["content"]!);
        Assert.Equal("stop", (string)choice["finish_reason"]!);
        Assert.StartsWith("chatcmpl-msg_", (string)a["id"]!, StringComparison.Ordinal);
        Assert.Equal(text.Split(' ').Length, (int)a["usage"]!["completion_tokens"]!);
        Assert.True((int)a["usage"]!["prompt_tokens"]! > 0);
    }

    [Fact]
    public async Task Text_streams_with_role_first_then_content_finish_and_usage()
    {
        var (chunks, _) = await StreamAsync("""{"model":"claude","messages":[{"role":"user","content":"Hello"}],"stream":true}""");
        Assert.Equal("assistant", (string)chunks[0]!["choices"]![0]!["delta"]!["role"]!);
        var text = string.Concat(chunks.Select(c => (string?)c!["choices"]!.AsArray().FirstOrDefault()?["delta"]?["content"]));
        var full = await CompleteAsync("""{"model":"claude","messages":[{"role":"user","content":"Hello"}]}""");
        Assert.Equal((string)full["choices"]![0]!["message"]!["content"]!, text);
        Assert.Equal("stop", (string)chunks[^2]!["choices"]![0]!["finish_reason"]!);
        Assert.Empty(chunks[^1]!["choices"]!.AsArray());
        Assert.Equal((int)full["usage"]!["completion_tokens"]!, (int)chunks[^1]!["usage"]!["completion_tokens"]!);
    }

    [Fact]
    public async Task Tool_call_arguments_stream_in_several_fragments_and_match_the_schema()
    {
        var (chunks, _) = await StreamAsync($$"""{"model":"claude","messages":[{"role":"user","content":"Weather?"}],"tools":[{{Weather}}],"stream":true}""");
        var calls = chunks.SelectMany(c => c!["choices"]!.AsArray()).Select(ch => ch!["delta"]?["tool_calls"]?[0]).Where(t => t is not null).ToList();
        Assert.Equal("get_weather", (string)calls[0]!["function"]!["name"]!);
        Assert.StartsWith("toolu_", (string)calls[0]!["id"]!, StringComparison.Ordinal);
        var fragments = calls.Skip(1).Select(t => (string)t!["function"]!["arguments"]!).ToList();
        Assert.True(fragments.Count > 2, $"only {fragments.Count} fragments");
        var args = JsonNode.Parse(string.Concat(fragments))!;
        Assert.Equal("mock-city", (string)args["city"]!);
        Assert.Equal(42, (int)args["days"]!);
        Assert.Equal("tool_calls", (string)chunks[^2]!["choices"]![0]!["finish_reason"]!);
    }

    [Fact]
    public async Task Tool_choice_required_calls_tools_in_parallel_and_named_calls_the_named_one()
    {
        var parallel = await CompleteAsync($$"""{"model":"claude","messages":[{"role":"user","content":"Go"}],"tools":[{{Weather}},{{Time}}],"tool_choice":"required"}""");
        var calls = parallel["choices"]![0]!["message"]!["tool_calls"]!.AsArray();
        Assert.Equal(["get_weather", "get_time"], calls.Select(c => (string)c!["function"]!["name"]!));
        Assert.Equal("tool_calls", (string)parallel["choices"]![0]!["finish_reason"]!);

        var single = await CompleteAsync($$"""{"model":"claude","messages":[{"role":"user","content":"Go"}],"tools":[{{Weather}},{{Time}}],"tool_choice":"required","parallel_tool_calls":false}""");
        Assert.Single(single["choices"]![0]!["message"]!["tool_calls"]!.AsArray());

        var named = await CompleteAsync($$"""{"model":"claude","messages":[{"role":"user","content":"Go"}],"tools":[{{Weather}},{{Time}}],"tool_choice":{"type":"function","function":{"name":"get_time"} """ + "}}");
        var call = named["choices"]![0]!["message"]!["tool_calls"]![0]!;
        Assert.Equal("get_time", (string)call["function"]!["name"]!);
        Assert.Equal("UTC", (string)JsonNode.Parse((string)call["function"]!["arguments"]!)!["zone"]!);

        var none = await CompleteAsync($$"""{"model":"claude","messages":[{"role":"user","content":"Go"}],"tools":[{{Weather}}],"tool_choice":"none"}""");
        Assert.Null(none["choices"]![0]!["message"]!["tool_calls"]);
    }

    [Fact]
    public async Task Tool_results_go_back_and_get_a_text_answer()
    {
        var first = await CompleteAsync($$"""{"model":"claude","messages":[{"role":"user","content":"Go"}],"tools":[{{Weather}},{{Time}}],"tool_choice":"required"}""");
        var message = first["choices"]![0]!["message"]!;
        var conversation = new JsonArray { new JsonObject { ["role"] = "user", ["content"] = "Go" }, message.DeepClone() };
        foreach (var call in message["tool_calls"]!.AsArray())
            conversation.Add(new JsonObject { ["role"] = "tool", ["tool_call_id"] = call!["id"]!.DeepClone(), ["content"] = "sunny" });
        var body = new JsonObject { ["model"] = "claude", ["messages"] = conversation, ["tools"] = new JsonArray(JsonNode.Parse(Weather), JsonNode.Parse(Time)) };
        var second = await CompleteAsync(body.ToJsonString());
        Assert.Equal("stop", (string)second["choices"]![0]!["finish_reason"]!);
        Assert.False(string.IsNullOrEmpty((string?)second["choices"]![0]!["message"]!["content"]));
    }

    [Fact]
    public async Task Thinking_comes_back_signed_and_can_be_sent_back()
    {
        var first = await CompleteAsync($$"""{"model":"claude","messages":[{"role":"user","content":"Weather?"}],"tools":[{{Weather}}],"reasoning_effort":"low"}""");
        var message = first["choices"]![0]!["message"]!;
        Assert.False(string.IsNullOrEmpty((string?)message["reasoning_content"]));
        Assert.False(string.IsNullOrEmpty((string?)message["thinking_blocks"]![0]!["signature"]));

        var conversation = new JsonArray { new JsonObject { ["role"] = "user", ["content"] = "Weather?" }, message.DeepClone(),
            new JsonObject { ["role"] = "tool", ["tool_call_id"] = message["tool_calls"]![0]!["id"]!.DeepClone(), ["content"] = "rain" } };
        var body = new JsonObject { ["model"] = "claude", ["messages"] = conversation, ["tools"] = new JsonArray(JsonNode.Parse(Weather)), ["reasoning_effort"] = "low" };
        var second = await CompleteAsync(body.ToJsonString());
        Assert.Equal("stop", (string)second["choices"]![0]!["finish_reason"]!);

        var (chunks, _) = await StreamAsync("""{"model":"claude","messages":[{"role":"user","content":"Think"}],"reasoning_effort":"low","stream":true}""");
        var deltas = chunks.SelectMany(c => c!["choices"]!.AsArray()).Select(ch => ch!["delta"]!).ToList();
        Assert.Contains(deltas, d => !string.IsNullOrEmpty((string?)d["reasoning_content"]));
        Assert.Contains(deltas, d => !string.IsNullOrEmpty((string?)d["thinking_blocks"]?[0]?["signature"]));
    }

    [Fact]
    public async Task Max_tokens_stops_with_length_and_json_schema_output_parses()
    {
        var cut = await CompleteAsync("""{"model":"claude","messages":[{"role":"user","content":"Essay"}],"max_tokens":3}""");
        Assert.Equal("length", (string)cut["choices"]![0]!["finish_reason"]!);
        Assert.Equal(3, (int)cut["usage"]!["completion_tokens"]!);

        var json = await CompleteAsync("""{"model":"claude","messages":[{"role":"user","content":"Extract"}],"response_format":{"type":"json_schema","json_schema":{"name":"p","schema":{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"]}}}}""");
        Assert.True((bool)JsonNode.Parse((string)json["choices"]![0]!["message"]!["content"]!)!["ok"]!);
    }

    [Fact]
    public async Task Cache_control_reports_cached_prompt_tokens()
    {
        var node = await CompleteAsync("""{"model":"claude","messages":[{"role":"system","content":[{"type":"text","text":"A long shared prefix for caching purposes","cache_control":{"type":"ephemeral"}}]},{"role":"user","content":"Hi"}]}""");
        var usage = node["usage"]!;
        Assert.True((int)usage["prompt_tokens_details"]!["cached_tokens"]! > 0);
        Assert.Equal((int)usage["cache_read_input_tokens"]!, (int)usage["prompt_tokens_details"]!["cached_tokens"]!);
    }

    [Theory]
    [InlineData("status=529", 529, 503, "overloaded_error")]
    [InlineData("status=429,retry_after=2", 429, 429, "rate_limit_error")]
    [InlineData("status=500", 500, 500, "api_error")]
    [InlineData("status=400", 400, 400, "invalid_request_error")]
    [InlineData("context_window", 400, 400, "invalid_request_error")]
    public async Task Faults_answer_in_anthropic_error_shape(string fault, int httpStatus, int classified, string type)
    {
        var translator = Translator();
        using var response = await SendAsync(translator, """{"model":"claude","messages":[{"role":"user","content":"Hi"}]}""", Call(), fault);
        Assert.Equal(httpStatus, (int)response.StatusCode);
        var error = translator.ReadError((int)response.StatusCode, await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(classified, error.Status);
        Assert.Equal(type, error.Code);
        Assert.False(string.IsNullOrEmpty(error.Message));
        if (httpStatus == 429) Assert.Equal(TimeSpan.FromSeconds(2), response.Headers.RetryAfter!.Delta);
    }

    [Fact]
    public async Task Wrong_key_is_an_authentication_error_for_both_dialects()
    {
        var translator = Translator();
        using var direct = await SendAsync(translator, """{"model":"claude","messages":[{"role":"user","content":"Hi"}]}""", Call(key: "wrong"));
        Assert.Equal(HttpStatusCode.Unauthorized, direct.StatusCode);
        Assert.Equal("authentication_error", translator.ReadError(401, await direct.Content.ReadAsByteArrayAsync()).Code);

        using var vertex = await SendAsync(Translator(vertex: true, token: "wrong"), """{"model":"claude","messages":[{"role":"user","content":"Hi"}]}""", Call(vertex: true));
        Assert.Equal(HttpStatusCode.Unauthorized, vertex.StatusCode);
    }

    [Fact]
    public async Task A_broken_stream_ends_with_an_overloaded_error_event()
    {
        var ex = await Assert.ThrowsAsync<ProviderStreamException>(() => StreamAsync("""{"model":"claude","messages":[{"role":"user","content":"Hi"}],"stream":true}""", fault: "cut=4"));
        Assert.Equal(503, ex.Error.Status);
        Assert.Equal("overloaded_error", ex.Error.Code);
    }

    [Fact]
    public async Task Content_policy_fault_is_a_refusal_mapped_to_content_filter()
    {
        var translator = Translator();
        var call = Call();
        using var response = await SendAsync(translator, """{"model":"claude","messages":[{"role":"user","content":"Hi"}]}""", call, "content_policy");
        var node = JsonNode.Parse(translator.TranslateChatResponse(await response.Content.ReadAsByteArrayAsync(), call, out _))!;
        Assert.Equal("content_filter", (string)node["choices"]![0]!["finish_reason"]!);
    }

    [Fact]
    public async Task Vertex_rawPredict_and_streamRawPredict_round_trip()
    {
        var node = await CompleteAsync("""{"model":"claude","messages":[{"role":"user","content":"Hi"}]}""", vertex: true);
        Assert.Equal("claude-sonnet-4-5@20250929", (string)node["model"]!);
        var last = _mock.Engine.LastRequest!;
        Assert.EndsWith("/v1/projects/proj/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict", Uri.UnescapeDataString(last.Path), StringComparison.Ordinal);
        Assert.DoesNotContain("\"model\"", last.Body, StringComparison.Ordinal);

        var (chunks, _) = await StreamAsync("""{"model":"claude","messages":[{"role":"user","content":"Hi"}],"stream":true}""", vertex: true);
        Assert.Equal("stop", (string)chunks[^2]!["choices"]![0]!["finish_reason"]!);
        Assert.EndsWith(":streamRawPredict", _mock.Engine.LastRequest!.Path, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Count_tokens_answers_input_tokens()
    {
        foreach (var vertex in new[] { false, true })
        {
            var translated = await Translator(vertex).BuildCountTokensRequestAsync(Encoding.UTF8.GetBytes("""{"model":"claude","messages":[{"role":"user","content":"one two three"}],"max_tokens":5,"temperature":1}"""), Call(vertex: vertex), null, CancellationToken.None);
            using var response = await _http.SendAsync(translated.Request!);
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, body);
            Assert.Equal(6, JsonNode.Parse(body)!["input_tokens"]!.GetValue<int>()); // 3 words + 3 per message
        }
    }

    [Theory]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"Hi"}]}""", "max_tokens: Field required")]
    [InlineData("""{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]}""", "roles must alternate")]
    [InlineData("""{"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":"a"}]}""", "first message must use the \"user\" role")]
    [InlineData("""{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"x","content":"r"}]}]}""", "unexpected `tool_use_id`")]
    [InlineData("""{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"a"},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{}}]},{"role":"user","content":"b"}]}""", "without `tool_result`")]
    [InlineData("""{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"a"},{"role":"assistant","content":[{"type":"thinking","thinking":"x"}]}]}""", "signature: Field required")]
    public async Task Invalid_messages_bodies_get_anthropic_400s(string body, string message)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, _mock.Url + "/v1/messages") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("x-api-key", Key);
        request.Headers.Add("anthropic-version", "2023-06-01");
        using var response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("error", doc.RootElement.GetProperty("type").GetString());
        Assert.Equal("invalid_request_error", doc.RootElement.GetProperty("error").GetProperty("type").GetString());
        Assert.Contains(message, doc.RootElement.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Raw_stream_events_come_in_the_documented_order()
    {
        var request = new HttpRequestMessage(HttpMethod.Post, _mock.Url + "/v1/messages")
        {
            Content = new StringContent("""{"model":"m","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"Hi"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("x-api-key", Key);
        request.Headers.Add("anthropic-version", "2023-06-01");
        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var names = text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(e => e.Split('\n')[0]["event: ".Length..]).Distinct().ToList();
        Assert.Equal(["message_start", "content_block_start", "ping", "content_block_delta", "content_block_stop", "message_delta", "message_stop"], names);
    }
}
