using System.Net;
using System.Text.Json;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Translation;

/// <summary>
/// Every translated provider end to end: an OpenAI-format client, the gateway, the provider's wire format spoken by
/// the emulator (which checks what it receives the way the provider does: auth, signatures, role order, tool pairing).
/// </summary>
[Trait("Category", "functional")]
public class ProviderEndToEndTests : IAsyncLifetime
{
    internal const string Key = "test-provider-key";
    private EmulatorServer _upstream = null!;
    private GatewayServer _gateway = null!;

    public static TheoryData<string> ChatModels => new() { "claude", "gemini", "vertex-gemini", "vertex-claude", "bedrock" };

    public async Task InitializeAsync()
    {
        _upstream = await EmulatorServer.StartAsync(apiKey: Key);
        _gateway = await GatewayServer.StartAsync(Config(_upstream.Url));
    }

    internal static string Config(string url, string extra = "") => $"""
        master_key: sk-gateway-master
        models:
          - {"{"}name: claude, provider: anthropic, model: claude-sonnet-4-5, api_base: "{url}", api_key: {Key}{"}"}
          - {"{"}name: gemini, provider: gemini, model: gemini-2.5-flash, api_base: "{url}", api_key: {Key}{"}"}
          - {"{"}name: vertex-gemini, provider: vertex_ai, model: gemini-2.5-flash, api_base: "{url}", api_key: {Key}, vertex_project: demo-project, vertex_location: us-central1{"}"}
          - {"{"}name: vertex-claude, provider: vertex_ai, model: "claude-sonnet-4-5@20250929", api_base: "{url}", api_key: {Key}, vertex_project: demo-project, vertex_location: us-east5{"}"}
          - {"{"}name: bedrock, provider: bedrock, model: "anthropic.claude-3-5-sonnet-20240620-v1:0", api_base: "{url}", aws_region_name: us-east-1, aws_access_key_id: AKIDEXAMPLE, aws_secret_access_key: {Key}{"}"}
          - {"{"}name: cohere, provider: cohere, model: command-r, api_base: "{url}", api_key: {Key}{"}"}
          - {"{"}name: gpt, provider: openai_compatible, model: gpt-4o, api_base: "{url}/v1", api_key: {Key}{"}"}
          - {"{"}name: gemini-embed, provider: gemini, model: text-embedding-004, api_base: "{url}", api_key: {Key}{"}"}
          - {"{"}name: titan-embed, provider: bedrock, model: "amazon.titan-embed-text-v2:0", api_base: "{url}", aws_region_name: us-east-1, aws_access_key_id: AKIDEXAMPLE, aws_secret_access_key: {Key}{"}"}
          - {"{"}name: cohere-embed, provider: bedrock, model: "cohere.embed-english-v3", api_base: "{url}", aws_region_name: us-east-1, aws_access_key_id: AKIDEXAMPLE, aws_secret_access_key: {Key}{"}"}
        router:
          num_retries: 0
        {extra}
        """;

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    private const string WeatherTool = """{"type":"function","function":{"name":"get_weather","description":"Weather for a city","parameters":{"type":"object","properties":{"city":{"type":"string"},"unit":{"type":"string","enum":["c","f"]}},"required":["city"]}}}""";
    private const string TimeTool = """{"type":"function","function":{"name":"get_time","description":"Time in a city","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}""";

    private async Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> PostAsync(string path, string json)
    {
        var response = await _gateway.PostJsonAsync(path, json, configure: r => r.Headers.Authorization = new("Bearer", "sk-gateway-master"));
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone(), response);
    }

    private async Task<List<JsonElement>> StreamAsync(string json)
    {
        using var response = await _gateway.PostJsonAsync("/v1/chat/completions", json, configure: r => r.Headers.Authorization = new("Bearer", "sk-gateway-master"));
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = await Sse.ReadEventsAsync(response);
        Assert.Equal("[DONE]", events[^1]);
        return events.SkipLast(1).Select(e => JsonDocument.Parse(e).RootElement.Clone()).ToList();
    }

    [Theory]
    [MemberData(nameof(ChatModels))]
    public async Task Chat_answers_in_openai_format(string model)
    {
        var (status, body, response) = await PostAsync("/v1/chat/completions", $$$"""{"model":"{{{model}}}","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Say hello"}],"max_tokens":50,"temperature":0.2,"stop":["\n\n"]}""");
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        Assert.Equal("chat.completion", body.GetProperty("object").GetString());
        Assert.StartsWith("chatcmpl-", body.GetProperty("id").GetString());
        var choice = body.GetProperty("choices")[0];
        Assert.Equal("assistant", choice.GetProperty("message").GetProperty("role").GetString());
        Assert.False(string.IsNullOrWhiteSpace(choice.GetProperty("message").GetProperty("content").GetString()));
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        var usage = body.GetProperty("usage");
        Assert.True(usage.GetProperty("prompt_tokens").GetInt64() > 0);
        Assert.True(usage.GetProperty("completion_tokens").GetInt64() > 0);
        Assert.Equal(usage.GetProperty("prompt_tokens").GetInt64() + usage.GetProperty("completion_tokens").GetInt64(), usage.GetProperty("total_tokens").GetInt64());
        Assert.Equal(model.StartsWith("vertex", StringComparison.Ordinal) ? "vertex_ai" : model == "claude" ? "anthropic" : model, response.Headers.GetValues("x-agw-provider").Single());
        // Cost is known from the provider's usage.
        Assert.True(response.Headers.Contains("x-agw-response-cost"));
    }

    [Theory]
    [MemberData(nameof(ChatModels))]
    public async Task Chat_streams_in_openai_chunks_with_usage(string model)
    {
        var chunks = await StreamAsync($$$"""{"model":"{{{model}}}","messages":[{"role":"user","content":"Tell me a story"}],"stream":true,"stream_options":{"include_usage":true}}""");
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        Assert.Equal("assistant", chunks[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());
        var text = string.Concat(chunks.Where(c => c.GetProperty("choices").GetArrayLength() > 0)
            .Select(c => c.GetProperty("choices")[0].GetProperty("delta"))
            .Where(d => d.TryGetProperty("content", out var t) && t.ValueKind == JsonValueKind.String)
            .Select(d => d.GetProperty("content").GetString()));
        Assert.False(string.IsNullOrWhiteSpace(text));
        Assert.True(chunks.Count > 3, "the answer arrives in several chunks");
        var finish = chunks.Where(c => c.GetProperty("choices").GetArrayLength() > 0 && c.GetProperty("choices")[0].TryGetProperty("finish_reason", out var f) && f.ValueKind == JsonValueKind.String).ToList();
        Assert.Single(finish);
        Assert.Equal("stop", finish[0].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        var last = chunks[^1];
        Assert.Equal(0, last.GetProperty("choices").GetArrayLength());
        Assert.True(last.GetProperty("usage").GetProperty("completion_tokens").GetInt64() > 0);
    }

    [Theory]
    [MemberData(nameof(ChatModels))]
    public async Task Tool_calls_come_back_as_openai_tool_calls(string model)
    {
        var (status, body, _) = await PostAsync("/v1/chat/completions", $$$"""{"model":"{{{model}}}","messages":[{"role":"user","content":"Weather in Paris?"}],"tools":[{{{WeatherTool}}},{{{TimeTool}}}],"tool_choice":{"type":"function","function":{"name":"get_weather"} } }""");
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        var choice = body.GetProperty("choices")[0];
        Assert.Equal("tool_calls", choice.GetProperty("finish_reason").GetString());
        var call = choice.GetProperty("message").GetProperty("tool_calls")[0];
        Assert.Equal("function", call.GetProperty("type").GetString());
        Assert.False(string.IsNullOrEmpty(call.GetProperty("id").GetString()));
        Assert.Equal("get_weather", call.GetProperty("function").GetProperty("name").GetString());
        using var args = JsonDocument.Parse(call.GetProperty("function").GetProperty("arguments").GetString()!);
        Assert.Equal(JsonValueKind.String, args.RootElement.GetProperty("city").ValueKind);
    }

    [Theory]
    [MemberData(nameof(ChatModels))]
    public async Task Streamed_tool_arguments_arrive_in_order_and_parse(string model)
    {
        var chunks = await StreamAsync($$$"""{"model":"{{{model}}}","messages":[{"role":"user","content":"Weather in Paris?"}],"tools":[{{{WeatherTool}}}],"tool_choice":"required","stream":true}""");
        var deltas = chunks.Where(c => c.GetProperty("choices").GetArrayLength() > 0)
            .Select(c => c.GetProperty("choices")[0].GetProperty("delta"))
            .Where(d => d.TryGetProperty("tool_calls", out _))
            .SelectMany(d => d.GetProperty("tool_calls").EnumerateArray()).ToList();
        Assert.NotEmpty(deltas);
        Assert.All(deltas, d => Assert.Equal(0, d.GetProperty("index").GetInt32()));
        Assert.Equal("get_weather", deltas[0].GetProperty("function").GetProperty("name").GetString());
        Assert.False(string.IsNullOrEmpty(deltas[0].GetProperty("id").GetString()));
        var arguments = string.Concat(deltas.Select(d => d.GetProperty("function").TryGetProperty("arguments", out var a) ? a.GetString() : ""));
        using var args = JsonDocument.Parse(arguments);
        Assert.Equal(JsonValueKind.String, args.RootElement.GetProperty("city").ValueKind);
        var finish = chunks.Last(c => c.GetProperty("choices").GetArrayLength() > 0).GetProperty("choices")[0].GetProperty("finish_reason").GetString();
        Assert.Equal("tool_calls", finish);
        // No usage chunk unless the client asked for one.
        Assert.DoesNotContain(chunks, c => c.GetProperty("choices").GetArrayLength() == 0);
    }

    [Theory]
    [MemberData(nameof(ChatModels))]
    public async Task Tool_results_go_back_paired_with_their_calls(string model)
    {
        // The emulator refuses (as the providers do) a tool result without its call, and turns that do not alternate.
        var (status, body, _) = await PostAsync("/v1/chat/completions", $$$"""
            {"model":"{{{model}}}","tools":[{{{WeatherTool}}},{{{TimeTool}}}],"messages":[
              {"role":"system","content":"You help."},
              {"role":"user","content":"Weather and time in Paris?"},
              {"role":"assistant","content":null,"tool_calls":[
                {"id":"call_a1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
                {"id":"call_b2","type":"function","function":{"name":"get_time","arguments":"{\"city\":\"Paris\"}"}}]},
              {"role":"tool","tool_call_id":"call_a1","content":"{\"temp\":21}"},
              {"role":"tool","tool_call_id":"call_b2","content":"14:05"},
              {"role":"user","content":"Thanks, summarise."}]}
            """);
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        Assert.Equal("stop", body.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Theory]
    [MemberData(nameof(ChatModels))]
    public async Task Images_reach_the_provider_in_its_own_shape(string model)
    {
        const string pixel = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
        var (status, body, _) = await PostAsync("/v1/chat/completions", $$$"""{"model":"{{{model}}}","messages":[{"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,{{{pixel}}}"}}]}]}""");
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        // The provider's JSON may escape characters of the base64 text (e.g. '+' as \u002B).
        var sent = System.Text.RegularExpressions.Regex.Unescape(_upstream.Engine.LastRequest!.Body);
        Assert.True(sent.Contains(pixel, StringComparison.Ordinal), sent);
        Assert.DoesNotContain("image_url", sent);
    }

    [Theory]
    [InlineData("claude", 429, 429)]
    [InlineData("claude", 529, 503)]
    [InlineData("gemini", 429, 429)]
    [InlineData("gemini", 503, 503)]
    [InlineData("vertex-gemini", 429, 429)]
    [InlineData("bedrock", 429, 429)]
    [InlineData("bedrock", 503, 503)]
    [InlineData("claude", 400, 400)]
    [InlineData("gemini", 400, 400)]
    [InlineData("bedrock", 400, 400)]
    public async Task Provider_errors_become_openai_errors_with_the_providers_message(string model, int upstreamStatus, int expected)
    {
        _upstream.Fail($"status={upstreamStatus}", model: UpstreamModelOf(model));
        var (status, body, _) = await PostAsync("/v1/chat/completions", $$$"""{"model":"{{{model}}}","messages":[{"role":"user","content":"hi"}]}""");
        Assert.Equal(expected, (int)status);
        var error = body.GetProperty("error");
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("type").GetString()));
    }

    [Fact]
    public async Task An_overloaded_anthropic_deployment_falls_back_to_another_provider()
    {
        await using var gateway = await GatewayServer.StartAsync(Config(_upstream.Url, "  fallbacks: [{claude: [gemini]}]"));
        _upstream.Fail("status=529", model: "claude-sonnet-4-5");
        var response = await gateway.PostJsonAsync("/v1/chat/completions", """{"model":"claude","messages":[{"role":"user","content":"hi"}]}""", configure: r => r.Headers.Authorization = new("Bearer", "sk-gateway-master"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("gemini", response.Headers.GetValues("x-agw-provider").Single());
        Assert.Equal("1", response.Headers.GetValues("x-agw-fallbacks").Single());
    }

    [Theory]
    [InlineData("gemini-embed")]
    [InlineData("titan-embed")]
    [InlineData("cohere-embed")]
    public async Task Embeddings_come_back_as_an_openai_list(string model)
    {
        var input = model == "titan-embed" ? "\"hello world\"" : """["hello world","goodbye"]""";
        var (status, body, _) = await PostAsync("/v1/embeddings", $$$"""{"model":"{{{model}}}","input":{{{input}}}}""");
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        Assert.Equal("list", body.GetProperty("object").GetString());
        var data = body.GetProperty("data");
        Assert.Equal(input.StartsWith('[') ? 2 : 1, data.GetArrayLength());
        Assert.Equal("embedding", data[0].GetProperty("object").GetString());
        Assert.True(data[0].GetProperty("embedding").GetArrayLength() > 0);
    }

    [Theory]
    [InlineData("gemini-embed")]
    [InlineData("cohere-embed")]
    public async Task Base64_embeddings_are_little_endian_floats(string model)
    {
        var (status, body, _) = await PostAsync("/v1/embeddings", $$$"""{"model":"{{{model}}}","input":["hello"],"encoding_format":"base64"}""");
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        var bytes = Convert.FromBase64String(body.GetProperty("data")[0].GetProperty("embedding").GetString()!);
        Assert.True(bytes.Length > 0 && bytes.Length % 4 == 0);
        Assert.All(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes).ToArray(), f => Assert.True(float.IsFinite(f)));
    }

    [Theory]
    [InlineData("claude")]
    [InlineData("vertex-claude")]
    public async Task Embeddings_on_a_provider_without_them_are_a_clear_400(string model)
    {
        var (status, body, _) = await PostAsync("/v1/embeddings", $$$"""{"model":"{{{model}}}","input":"hello"}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("embeddings", body.GetProperty("error").GetProperty("message").GetString(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_gemini_safety_stop_is_content_filter_never_stop()
    {
        var (status, body, _) = await PostAsync("/v1/chat/completions", """{"model":"gemini","messages":[{"role":"user","content":"please say unsafe-demo"}]}""");
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        Assert.Equal("content_filter", body.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task A_request_a_provider_cannot_express_is_refused_with_a_400_naming_the_field()
    {
        var (status, body, _) = await PostAsync("/v1/chat/completions", """{"model":"claude","messages":[{"role":"user","content":"hi"}],"n":3}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("n", body.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(0, _upstream.Engine.RequestsFor("claude-sonnet-4-5"));
    }

    [Fact]
    public async Task Messages_pass_through_to_anthropic_with_unknown_fields_and_the_clients_beta_header()
    {
        using var response = await _gateway.PostJsonAsync("/v1/messages",
            """{"model":"claude","max_tokens":50,"messages":[{"role":"user","content":"hi"}],"future_field":{"kept":true}}""",
            configure: r => { r.Headers.Add("x-api-key", "sk-gateway-master"); r.Headers.Add("anthropic-version", "2023-06-01"); r.Headers.Add("anthropic-beta", "some-beta-2099-01-01"); });
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        using var body = JsonDocument.Parse(text);
        Assert.Equal("message", body.RootElement.GetProperty("type").GetString());
        var sent = _upstream.Engine.LastRequest!;
        Assert.Equal("/v1/messages", sent.Path);
        Assert.Contains("\"future_field\":{\"kept\":true}", sent.Body);
        Assert.Contains("\"model\":\"claude-sonnet-4-5\"", sent.Body);
        Assert.Equal("some-beta-2099-01-01", sent.Headers["anthropic-beta"]);
        Assert.Equal(Key, sent.Headers["x-api-key"]);
    }

    [Fact]
    public async Task Anthropic_errors_reach_anthropic_clients_in_anthropics_shape()
    {
        _upstream.Fail("status=429,retry_after=3", model: "claude-sonnet-4-5");
        using var response = await _gateway.PostJsonAsync("/v1/messages", """{"model":"claude","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}""",
            configure: r => r.Headers.Add("x-api-key", "sk-gateway-master"));
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("error", body.RootElement.GetProperty("type").GetString());
        Assert.Equal("rate_limit_error", body.RootElement.GetProperty("error").GetProperty("type").GetString());

        // The same failure for an OpenAI-format client comes in OpenAI's shape.
        _upstream.Fail("status=429,retry_after=3", model: "claude-sonnet-4-5");
        var (status, openAi, _) = await PostAsync("/v1/chat/completions", """{"model":"claude","messages":[{"role":"user","content":"hi"}]}""");
        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.Equal("rate_limit_error", openAi.GetProperty("error").GetProperty("type").GetString());
    }

    [Theory]
    [InlineData("gemini")]
    [InlineData("bedrock")]
    [InlineData("gpt")]
    public async Task A_messages_stream_on_another_provider_reports_the_providers_usage(string model)
    {
        var request = $$$"""{"model":"{{{model}}}","max_tokens":60,"messages":[{"role":"user","content":"count the stars"}]}""";
        using var whole = await _gateway.PostJsonAsync("/v1/messages", request, configure: r => r.Headers.Add("x-api-key", "sk-gateway-master"));
        using var message = JsonDocument.Parse(await whole.Content.ReadAsStringAsync());
        var expected = message.RootElement.GetProperty("usage").GetProperty("output_tokens").GetInt64();
        Assert.True(expected > 0);

        using var streamed = await _gateway.PostJsonAsync("/v1/messages", request[..^1] + ",\"stream\":true}", configure: r => r.Headers.Add("x-api-key", "sk-gateway-master"));
        // Anthropic events are "event: <type>" then "data: <json>".
        var events = (await streamed.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(e => e.Split('\n').FirstOrDefault(l => l.StartsWith("data:", StringComparison.Ordinal))?["data:".Length..].Trim())
            .OfType<string>().ToList();
        var delta = events.Select(e => JsonDocument.Parse(e).RootElement).Single(e => e.GetProperty("type").GetString() == "message_delta");
        Assert.Equal(expected, delta.GetProperty("usage").GetProperty("output_tokens").GetInt64());
        Assert.Equal("end_turn", delta.GetProperty("delta").GetProperty("stop_reason").GetString());
    }

    [Fact]
    public async Task A_messages_stream_that_breaks_on_a_translated_provider_ends_with_an_anthropic_error_event()
    {
        _upstream.Fail("cut=3", model: "gemini-2.5-flash");
        using var response = await _gateway.PostJsonAsync("/v1/messages", """{"model":"gemini","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"tell me a long story"}]}""",
            configure: r => r.Headers.Add("x-api-key", "sk-gateway-master"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("event: message_start", text);
        Assert.Contains("event: error", text);
        Assert.DoesNotContain("event: message_stop", text);
    }

    internal static string UpstreamModelOf(string model) => model switch
    {
        "claude" => "claude-sonnet-4-5",
        "gemini" or "vertex-gemini" => "gemini-2.5-flash",
        "vertex-claude" => "claude-sonnet-4-5@20250929",
        "bedrock" => "anthropic.claude-3-5-sonnet-20240620-v1:0",
        _ => model,
    };

    /// <summary>
    /// A field of a type a translator does not take, or a name given twice, is the client's 400 (as the provider would
    /// answer), not a 500 or an upstream failure that could cool the deployment down.
    /// </summary>
    [Theory]
    [InlineData("bedrock", "/v1/chat/completions", """{"model":"bedrock","messages":[{"role":"user","content":"hi"}],"response_format":{"type":123}}""")]
    [InlineData("bedrock", "/v1/chat/completions", """{"model":"bedrock","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":-1}}}]}""")]
    [InlineData("gemini-embed", "/v1/embeddings", """{"user":1,"model":"gemini-embed","input":["a"],"user":"u"}""")]
    [InlineData("claude", "/v1/messages", """{"model":"claude","max_tokens":16,"messages":[{"role":"user","content":"hi"}],"output_config":""}""")]
    public async Task A_body_a_provider_cannot_read_is_a_400(string model, string path, string json)
    {
        var (status, body, _) = await PostAsync(path, json);
        Assert.True(status == HttpStatusCode.BadRequest, $"{model}: {(int)status} {body}");
        Assert.Equal("invalid_request_error", body.GetProperty("error").GetProperty("type").GetString());
    }
}
