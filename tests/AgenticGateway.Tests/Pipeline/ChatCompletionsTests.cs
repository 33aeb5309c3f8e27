using System.Net;
using System.Text.Json;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Pipeline;

/// <summary>The OpenAI endpoints end to end: gateway and emulator on real Kestrel servers.</summary>
[Trait("Category", "functional")]
public class ChatCompletionsTests : IAsyncLifetime
{
    private EmulatorServer _upstream = null!;
    private GatewayServer _gateway = null!;

    public async Task InitializeAsync()
    {
        _upstream = await EmulatorServer.StartAsync(apiKey: "sk-upstream");
        _gateway = await GatewayServer.StartAsync($"""
            models:
              - name: gpt-4o
                provider: openai_compatible
                model: upstream-gpt
                api_base: {_upstream.ApiBase}
                api_key: sk-upstream
                headers: {"{"}X-Custom-Header: custom-value{"}"}
              - name: counted
                provider: openai_compatible
                api_base: {_upstream.ApiBase}
                api_key: sk-upstream
                stream_usage: true
              - name: text-embedding-3-small
                provider: openai_compatible
                api_base: {_upstream.ApiBase}
                api_key: sk-upstream
              - name: instruct
                provider: openai_compatible
                api_base: {_upstream.ApiBase}
                api_key: sk-upstream
              - name: "openai/*"
                provider: openai_compatible
                model: "*"
                api_base: {_upstream.ApiBase}
                api_key: sk-upstream
            aliases:
              smart: gpt-4o
              nano: openai/gpt-4.1-nano
            router:
              num_retries: 0
              fallbacks: [{"{"}counted: [openai/gpt-4.1-mini]{"}"}]
            """);
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    [Fact]
    public async Task Non_stream_chat_returns_the_upstream_answer_with_routing_headers()
    {
        using var response = await _gateway.PostJsonAsync("/v1/chat/completions", Chat.Request("gpt-4o"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var doc = await GatewayServer.JsonAsync(response);
        Assert.Equal("chat.completion", doc.RootElement.GetProperty("object").GetString());
        Assert.Equal("upstream-gpt", doc.RootElement.GetProperty("model").GetString());
        Assert.False(string.IsNullOrEmpty(doc.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()));
        Assert.True(doc.RootElement.GetProperty("usage").GetProperty("total_tokens").GetInt32() > 0);
        Assert.Equal("openai_compatible", response.Headers.GetValues("x-agw-provider").Single());
        Assert.Equal("gpt-4o", response.Headers.GetValues("x-agw-model-group").Single());
        Assert.Equal("1", response.Headers.GetValues("x-agw-attempts").Single());
        Assert.True(double.Parse(response.Headers.GetValues("x-agw-overhead-ms").Single(), System.Globalization.CultureInfo.InvariantCulture) >= 0);
        Assert.StartsWith("req_", response.Headers.GetValues("x-request-id").Single(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_fields_and_their_formatting_reach_the_provider_unchanged_with_only_the_model_replaced()
    {
        var body = """{"model":"gpt-4o", "messages":[{"role":"user","content":"hi","x_part":{"deep":[1,2.50,"é"]}}],"vendor_extension":{"keep":true},"logit_bias":{"50256":-100}}""";
        using var response = await _gateway.PostJsonAsync("/v1/chat/completions", body, configure: r => r.Headers.Add("x-request-id", "trace-me-123"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var seen = _upstream.Engine.LastRequest!;
        Assert.Equal(body.Replace("\"model\":\"gpt-4o\"", "\"model\":\"upstream-gpt\"", StringComparison.Ordinal), seen.Body);
        Assert.Equal("/v1/chat/completions", seen.Path);
        Assert.Equal("Bearer sk-upstream", seen.Headers["authorization"]);
        Assert.Equal("custom-value", seen.Headers["x-custom-header"]);
        Assert.Equal("trace-me-123", seen.Headers["x-request-id"]);
        Assert.Equal("trace-me-123", response.Headers.GetValues("x-request-id").Single());
    }

    [Fact]
    public async Task Streaming_forwards_sse_chunks_and_the_usage_chunk()
    {
        using var response = await _gateway.PostJsonAsync("/v1/chat/completions", Chat.Request("gpt-4o", stream: true, extra: ",\"stream_options\":{\"include_usage\":true}"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        var events = await Sse.ReadEventsAsync(response);
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        var text = string.Concat(chunks.Where(c => c.GetProperty("choices").GetArrayLength() > 0)
            .Select(c => c.GetProperty("choices")[0].GetProperty("delta"))
            .Where(d => d.TryGetProperty("content", out _))
            .Select(d => d.GetProperty("content").GetString()));
        var usage = chunks[^1].GetProperty("usage");
        Assert.Empty(chunks[^1].GetProperty("choices").EnumerateArray());
        Assert.Equal(text.Split(' ').Length, usage.GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task Tools_tool_choice_and_response_format_pass_through()
    {
        var tools = ""","tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}],"tool_choice":"required","response_format":{"type":"text"}""";
        using var response = await _gateway.PostJsonAsync("/v1/chat/completions", Chat.Request("gpt-4o", extra: tools));
        using var doc = await GatewayServer.JsonAsync(response);
        var choice = doc.RootElement.GetProperty("choices")[0];
        Assert.Equal("tool_calls", choice.GetProperty("finish_reason").GetString());
        var call = choice.GetProperty("message").GetProperty("tool_calls")[0];
        Assert.Equal("get_weather", call.GetProperty("function").GetProperty("name").GetString());
        Assert.Equal("mock-city", JsonDocument.Parse(call.GetProperty("function").GetProperty("arguments").GetString()!).RootElement.GetProperty("city").GetString());
    }

    [Fact]
    public async Task Aliases_and_routes_without_v1_prefix_work()
    {
        using var response = await _gateway.PostJsonAsync("/chat/completions", Chat.Request("smart"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("gpt-4o", response.Headers.GetValues("x-agw-model-group").Single());
    }

    [Fact]
    public async Task Wildcard_passes_the_model_through()
    {
        using var response = await _gateway.PostJsonAsync("/v1/chat/completions", Chat.Request("openai/gpt-4.1-nano"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("\"model\":\"gpt-4.1-nano\"", _upstream.Engine.LastRequest!.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_alias_or_a_fallback_into_a_wildcard_group_sends_the_model_it_names()
    {
        using (var aliased = await _gateway.PostJsonAsync("/v1/chat/completions", Chat.Request("nano")))
        {
            Assert.Equal(HttpStatusCode.OK, aliased.StatusCode);
            Assert.Contains("\"model\":\"gpt-4.1-nano\"", _upstream.Engine.LastRequest!.Body, StringComparison.Ordinal);
        }
        _upstream.Fail("status=500", model: "counted");
        using var fellBack = await _gateway.PostJsonAsync("/v1/chat/completions", Chat.Request("counted"));
        Assert.Equal(HttpStatusCode.OK, fellBack.StatusCode);
        Assert.Equal("1", fellBack.Headers.GetValues("x-agw-fallbacks").Single());
        Assert.Contains("\"model\":\"gpt-4.1-mini\"", _upstream.Engine.LastRequest!.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Embeddings_float_and_base64()
    {
        using var floats = await _gateway.PostJsonAsync("/v1/embeddings", """{"model":"text-embedding-3-small","input":["a","b"],"dimensions":8}""");
        using var f = await GatewayServer.JsonAsync(floats);
        Assert.Equal(2, f.RootElement.GetProperty("data").GetArrayLength());
        Assert.Equal(8, f.RootElement.GetProperty("data")[0].GetProperty("embedding").GetArrayLength());

        using var b64 = await _gateway.PostJsonAsync("/v1/embeddings", """{"model":"text-embedding-3-small","input":"a","dimensions":8,"encoding_format":"base64"}""");
        using var b = await GatewayServer.JsonAsync(b64);
        var bytes = Convert.FromBase64String(b.RootElement.GetProperty("data")[0].GetProperty("embedding").GetString()!);
        Assert.Equal(32, bytes.Length);
        // The same input embeds the same way in both encodings.
        var first = BitConverter.ToSingle(bytes, 0);
        Assert.Equal(f.RootElement.GetProperty("data")[0].GetProperty("embedding")[0].GetSingle(), first, 5);
    }

    [Fact]
    public async Task Legacy_completions_non_stream_and_stream()
    {
        using var response = await _gateway.PostJsonAsync("/v1/completions", """{"model":"instruct","prompt":"Say this is a test","max_tokens":5}""");
        using var doc = await GatewayServer.JsonAsync(response);
        Assert.Equal("text_completion", doc.RootElement.GetProperty("object").GetString());
        Assert.Equal(5, doc.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());

        using var stream = await _gateway.PostJsonAsync("/v1/completions", """{"model":"instruct","prompt":"Say this is a test","stream":true}""");
        var events = await Sse.ReadEventsAsync(stream);
        Assert.Equal("[DONE]", events[^1]);
        Assert.True(events.Count > 3);
    }

    [Fact]
    public async Task Models_list_and_get()
    {
        using var doc = JsonDocument.Parse(await _gateway.Client.GetStringAsync("/v1/models"));
        var ids = doc.RootElement.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()).ToList();
        Assert.Contains("gpt-4o", ids);
        Assert.Contains("smart", ids);
        Assert.DoesNotContain("openai/*", ids);

        using var one = JsonDocument.Parse(await _gateway.Client.GetStringAsync("/v1/models/gpt-4o"));
        Assert.Equal("model", one.RootElement.GetProperty("object").GetString());
        using var missing = await _gateway.Client.GetAsync("/models/nope");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task Unknown_model_is_a_404_listing_what_exists()
    {
        using var response = await _gateway.PostJsonAsync("/v1/chat/completions", Chat.Request("gpt-5-ultra"));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        using var doc = await GatewayServer.JsonAsync(response);
        var error = doc.RootElement.GetProperty("error");
        Assert.Equal("model_not_found", error.GetProperty("code").GetString());
        Assert.Contains("gpt-4o", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Malformed_json_is_a_400_saying_where()
    {
        using var response = await _gateway.PostJsonAsync("/v1/chat/completions", "{\"model\":\"gpt-4o\",\n\"messages\":[{]}");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var doc = await GatewayServer.JsonAsync(response);
        Assert.Contains("line 2", doc.RootElement.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal("invalid_request_error", doc.RootElement.GetProperty("error").GetProperty("type").GetString());
    }

    [Fact]
    public async Task Upstream_bad_request_is_passed_on_as_is()
    {
        using var response = await _gateway.PostJsonAsync("/v1/chat/completions", Chat.Request("gpt-4o", extra: ",\"mock_fault\":\"status=400,message=Invalid value for temperature\""));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var doc = await GatewayServer.JsonAsync(response);
        Assert.Equal("Invalid value for temperature", doc.RootElement.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task Streams_are_asked_for_usage_and_the_extra_chunk_is_removed_before_the_client_sees_it()
    {
        using var response = await _gateway.PostJsonAsync("/v1/chat/completions", Chat.Request("counted", stream: true));
        var events = await Sse.ReadEventsAsync(response);
        Assert.Contains("\"stream_options\":{\"include_usage\":true}", _upstream.Engine.LastRequest!.Body, StringComparison.Ordinal);
        Assert.Equal("[DONE]", events[^1]);
        Assert.DoesNotContain(events, e => e.Contains("\"choices\":[]", StringComparison.Ordinal));
        Assert.All(events[..^1], e => Assert.True(JsonDocument.Parse(e).RootElement.GetProperty("choices").GetArrayLength() > 0));
        // The gateway still counted the tokens.
        var metrics = await _gateway.Client.GetStringAsync("/metrics");
        Assert.Contains("llm_tokens_total{provider=\"openai_compatible\",model=\"counted\",direction=\"output\"}", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Streams_to_providers_without_stream_usage_are_sent_unchanged()
    {
        var body = Chat.Request("gpt-4o", stream: true);
        using var response = await _gateway.PostJsonAsync("/v1/chat/completions", body);
        await Sse.ReadEventsAsync(response);
        Assert.DoesNotContain("stream_options", _upstream.Engine.LastRequest!.Body, StringComparison.Ordinal);
    }
}
