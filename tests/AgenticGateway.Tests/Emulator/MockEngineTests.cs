using System.Net;
using System.Text.Json;
using AgenticGateway.Emulator;
using AgenticGateway.Tests.Support;
using AgenticGateway.Configuration;

namespace AgenticGateway.Tests.Emulator;

/// <summary>The emulator on its own: the wire format and behaviour tests and benchmarks rely on.</summary>
[Trait("Category", "functional")]
public class MockEngineTests : IAsyncLifetime
{
    private EmulatorServer _mock = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _mock = await EmulatorServer.StartAsync();
        _client = new HttpClient { BaseAddress = new Uri(_mock.Url) };
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _mock.DisposeAsync();
    }

    private async Task<JsonDocument> Post(string path, string json, string? fault = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json") };
        if (fault is not null) request.Headers.Add("x-mock-fault", fault);
        if (path.EndsWith("/messages", StringComparison.Ordinal)) request.Headers.Add("anthropic-version", "2023-06-01");
        using var response = await _client.SendAsync(request);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task The_same_request_gets_the_same_answer_and_usage_matches_the_content()
    {
        using var a = await Post("/v1/chat/completions", Chat.Request("m", content: "What is a gateway?"));
        using var b = await Post("/v1/chat/completions", Chat.Request("m", content: "What is a gateway?"));
        using var c = await Post("/v1/chat/completions", Chat.Request("m", content: "Something else entirely"));
        string Text(JsonDocument d) => d.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
        Assert.Equal(Text(a), Text(b));
        Assert.NotEqual(Text(a), Text(c));
        var usage = a.RootElement.GetProperty("usage");
        Assert.Equal(Text(a).Split(' ').Length, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(3 + 3 + 5, usage.GetProperty("prompt_tokens").GetInt32()); // priming + message + "What is a gateway ?"
    }

    [Fact]
    public async Task Identical_requests_get_the_same_answer_under_different_ids()
    {
        // Providers give every response its own id; the gateway's spend logs are looked up by it.
        using var a = await Post("/v1/chat/completions", Chat.Request("m", content: "Same question"));
        using var b = await Post("/v1/chat/completions", Chat.Request("m", content: "Same question"));
        string Id(JsonDocument d) => d.RootElement.GetProperty("id").GetString()!;
        Assert.StartsWith("chatcmpl-mock", Id(a), StringComparison.Ordinal);
        Assert.NotEqual(Id(a), Id(b));
        Assert.Equal(a.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString(),
            b.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        using var c = await Post("/v1/completions", """{"model":"m","prompt":"Same"}""");
        using var d = await Post("/v1/completions", """{"model":"m","prompt":"Same"}""");
        Assert.NotEqual(Id(c), Id(d));
        using var e = await Post("/v1/messages", """{"model":"m","max_tokens":20,"messages":[{"role":"user","content":"Same"}]}""");
        using var f = await Post("/v1/messages", """{"model":"m","max_tokens":20,"messages":[{"role":"user","content":"Same"}]}""");
        Assert.NotEqual(Id(e), Id(f));
    }

    [Fact]
    public async Task The_emulator_says_where_it_listens_when_it_starts()
    {
        // `agw mock` prints these lines once started (its logging is off): the bound address and the OpenAI base URL.
        var app = MockServer.Build("http://127.0.0.1:0", default);
        await app.StartAsync();
        try
        {
            var url = AgenticGateway.Hosting.GatewayApp.BoundAddresses(app)[0];
            Assert.Equal([$"agw-mock listening on {url} (OpenAI base URL {url}/v1)"], MockServer.ListeningLines(app));
        }
        finally { await app.StopAsync(); await app.DisposeAsync(); }
        // Listening on every interface (agw mock --port N), the base URL is the one a local client dials.
        var open = MockServer.Build("http://0.0.0.0:0", default);
        await open.StartAsync();
        try
        {
            var port = new Uri(AgenticGateway.Hosting.GatewayApp.BoundAddresses(open)[0]).Port;
            Assert.EndsWith($"(OpenAI base URL http://127.0.0.1:{port}/v1)", Assert.Single(MockServer.ListeningLines(open)), StringComparison.Ordinal);
        }
        finally { await open.StopAsync(); await open.DisposeAsync(); }
    }

    [Fact]
    public async Task Max_tokens_truncates_with_finish_reason_length()
    {
        using var doc = await Post("/v1/chat/completions", Chat.Request("m", extra: ",\"max_tokens\":3"));
        var choice = doc.RootElement.GetProperty("choices")[0];
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(3, doc.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task N_logprobs_and_mock_response()
    {
        using var doc = await Post("/v1/chat/completions", Chat.Request("m", extra: ",\"n\":2,\"logprobs\":true,\"top_logprobs\":2,\"mock_response\":\"Exactly this.\""));
        var choices = doc.RootElement.GetProperty("choices");
        Assert.Equal(2, choices.GetArrayLength());
        Assert.Equal("Exactly this.", choices[1].GetProperty("message").GetProperty("content").GetString());
        var tokens = choices[0].GetProperty("logprobs").GetProperty("content");
        Assert.Equal(["Exactly", " this", "."], tokens.EnumerateArray().Select(t => t.GetProperty("token").GetString()));
        Assert.Equal(2, tokens[0].GetProperty("top_logprobs").GetArrayLength());
    }

    [Fact]
    public async Task Json_schema_response_format_returns_matching_json()
    {
        using var doc = await Post("/v1/chat/completions", Chat.Request("m", extra: ""","response_format":{"type":"json_schema","json_schema":{"name":"r","schema":{"type":"object","properties":{"ok":{"type":"boolean"},"tags":{"type":"array","items":{"type":"string"}},"level":{"enum":["low","high"]}},"required":["ok","tags","level"]}}}"""));
        var content = doc.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
        using var parsed = JsonDocument.Parse(content);
        Assert.True(parsed.RootElement.GetProperty("ok").GetBoolean());
        Assert.Equal("low", parsed.RootElement.GetProperty("level").GetString());
    }

    [Theory]
    [InlineData("status=500", 500)]
    [InlineData("status=503", 503)]
    [InlineData("status=429,retry_after=3", 429)]
    [InlineData("context_window", 400)]
    public async Task Faults_return_openai_shaped_errors(string fault, int status)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(Chat.Request("m"), System.Text.Encoding.UTF8, "application/json") };
        request.Headers.Add("x-mock-fault", fault);
        using var response = await _client.SendAsync(request);
        Assert.Equal(status, (int)response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.False(string.IsNullOrEmpty(doc.RootElement.GetProperty("error").GetProperty("message").GetString()));
        if (status == 429) Assert.Equal(TimeSpan.FromSeconds(3), response.Headers.RetryAfter!.Delta);
    }

    [Fact]
    public async Task Malformed_fault_returns_broken_json()
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(Chat.Request("m"), System.Text.Encoding.UTF8, "application/json") };
        request.Headers.Add("x-mock-fault", "malformed");
        using var response = await _client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync();
        Assert.ThrowsAny<JsonException>(() => JsonDocument.Parse(body));
    }

    [Fact]
    public async Task Time_to_first_token_and_token_rate_are_honoured()
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(Chat.Request("m", stream: true, extra: ",\"max_tokens\":5"), System.Text.Encoding.UTF8, "application/json") };
        request.Headers.Add("x-mock-ttft-ms", "200");
        request.Headers.Add("x-mock-tokens-per-second", "20");
        var started = DateTime.UtcNow;
        using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var events = await Sse.ReadEventsAsync(response);
        var elapsed = DateTime.UtcNow - started;
        Assert.Equal("[DONE]", events[^1]);
        // 200 ms to the first token, then 4 gaps of 50 ms.
        Assert.InRange(elapsed.TotalMilliseconds, 380, 3000);
    }

    [Fact]
    public async Task Control_api_scripts_faults_and_reports_stats()
    {
        using var script = await _client.PostAsync("/mock/faults", new StringContent("""{"fault":"status=502","count":2,"model":"x"}"""));
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        for (var i = 0; i < 3; i++)
        {
            using var r = await _client.PostAsync("/v1/chat/completions", new StringContent(Chat.Request("x")));
            Assert.Equal(i < 2 ? HttpStatusCode.BadGateway : HttpStatusCode.OK, r.StatusCode);
        }
        using var stats = JsonDocument.Parse(await _client.GetStringAsync("/mock/stats"));
        Assert.Equal(3, stats.RootElement.GetProperty("by_model").GetProperty("x").GetInt32());
        using var bad = await _client.PostAsync("/mock/faults", new StringContent("""{"fault":"explode"}"""));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
    }

    [Theory]
    [InlineData("status=429,retry_after=2", "Status", 429)]
    [InlineData("retry_after=2", "Status", 429)]
    [InlineData("cut=4", "Cut", 0)]
    [InlineData("reset", "Reset", 0)]
    [InlineData("timeout,delay=10ms", "Timeout", 0)]
    public void Fault_specs_parse(string spec, string kind, int status)
    {
        Assert.True(MockFault.TryParse(spec, out var fault, out var error), error);
        Assert.Equal(kind, fault.Kind.ToString());
        Assert.Equal(status, fault.Status);
    }

    [Fact]
    public void Bad_fault_specs_are_rejected_with_a_reason()
    {
        Assert.False(MockFault.TryParse("status=200", out _, out var error));
        Assert.Contains("status=200", error, StringComparison.Ordinal);
    }

    /// <summary>As OpenAI does: a field of the wrong type is a 400, not a failure the gateway takes for an outage.</summary>
    [Theory]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":""}]}""")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"\ud800"}]}""")]
    [InlineData("""{"model":"m","messages":[{"role":5,"content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}]}""")]
    public async Task A_body_with_fields_of_the_wrong_type_is_a_400(string json)
    {
        using var response = await _client.PostAsync("/v1/chat/completions", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("invalid_request_error", doc.RootElement.GetProperty("error").GetProperty("type").GetString());
    }
}
