using System.Net;
using System.Text;
using System.Text.Json;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Api;

/// <summary>
/// Errors the handlers do not write themselves still leave in the API's error shape: routing's 404 and 405, an
/// exception, and the 400/408/414/431 Kestrel writes before the application sees the request.
/// </summary>
[Trait("Category", "functional")]
public class ErrorShapeTests : IAsyncLifetime
{
    private const string Key = "sk-shape-master";
    private GatewayServer _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayServer.StartAsync($$"""
        master_key: {{Key}}
        models:
          - {name: gpt-4o, provider: mock}
        """,
        kestrel: k => k.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(1),
        routes: app =>
        {
            app.MapGet("/test/throws", (Func<string>)(() => throw new InvalidOperationException("a bug")));
            app.MapPost("/v1/messages/test-throws", (Func<string>)(() => throw new InvalidOperationException("a bug")));
        });

    public Task DisposeAsync() => _gateway.DisposeAsync().AsTask();

    private Task<RawHttp.Exchange> SendAsync(string request, TimeSpan? timeout = null) =>
        RawHttp.SendAsync(new Uri(_gateway.Url), [new(Encoding.Latin1.GetBytes(request))], halfClose: false, timeout ?? TimeSpan.FromSeconds(20));

    private static JsonElement OpenAiError(RawHttp.Response response)
    {
        Assert.StartsWith("application/json", response.Header("Content-Type"));
        var error = JsonDocument.Parse(response.Body).RootElement.GetProperty("error");
        Assert.Equal(JsonValueKind.String, error.GetProperty("message").ValueKind);
        Assert.Equal(JsonValueKind.String, error.GetProperty("type").ValueKind);
        Assert.True(error.TryGetProperty("param", out _));
        Assert.True(error.TryGetProperty("code", out _));
        return error;
    }

    [Theory]
    [InlineData("GARBAGE\r\n\r\n", 400)]
    [InlineData("G@T /v1/models HTTP/1.1\r\nHost: x\r\n\r\n", 400)]
    [InlineData("GET /v1/models HTTP/1.1\r\n\r\n", 400)] // no Host
    [InlineData("GET /v1/models HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n", 400)]
    [InlineData("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400)]
    [InlineData("TRACE * HTTP/1.1\r\nHost: x\r\n\r\n", 405)]
    [InlineData("POST localhost:80 HTTP/1.1\r\nHost: x\r\n\r\n", 405)]
    [InlineData("GET /v1/models HTTP/2.0\r\nHost: x\r\n\r\n", 400)]
    public async Task Requests_kestrel_refuses_get_an_openai_error_body(string request, int status)
    {
        var exchange = await SendAsync(request);
        var response = Assert.Single(exchange.Responses);
        Assert.Equal(status, response.Status);
        OpenAiError(response);
        Assert.Equal("close", response.Header("Connection"));
    }

    [Fact]
    public async Task A_request_line_too_long_is_a_414_and_headers_too_large_a_431_both_with_a_body()
    {
        var longLine = Assert.Single((await SendAsync($"GET /v1/models?q={new string('a', 10_000)} HTTP/1.1\r\nHost: x\r\n\r\n")).Responses);
        Assert.Equal(414, longLine.Status);
        Assert.Equal("uri_too_long", OpenAiError(longLine).GetProperty("code").GetString());

        var bigHeader = Assert.Single((await SendAsync($"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: {new string('b', 40_000)}\r\n\r\n")).Responses);
        Assert.Equal(431, bigHeader.Status);
        var manyHeaders = Assert.Single((await SendAsync($"GET /v1/models HTTP/1.1\r\nHost: x\r\n{string.Concat(Enumerable.Range(0, 150).Select(i => $"X-{i}: v\r\n"))}\r\n")).Responses);
        Assert.Equal(431, manyHeaders.Status);
        Assert.Equal("headers_too_large", OpenAiError(manyHeaders).GetProperty("code").GetString());
    }

    [Fact]
    public async Task Headers_that_stop_arriving_get_a_408_with_a_body()
    {
        var exchange = await SendAsync("GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthoriz");
        var response = Assert.Single(exchange.Responses);
        Assert.Equal(408, response.Status);
        Assert.Equal("request_timeout", OpenAiError(response).GetProperty("code").GetString());
    }

    [Fact]
    public async Task Pipelined_answers_before_a_refused_request_are_untouched()
    {
        var chat = """{"model":"gpt-4o","messages":[{"role":"user","content":"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"}]}""";
        var exchange = await SendAsync(
            $"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {Key}\r\nContent-Length: {chat.Length}\r\n\r\n{chat}"
            + $"GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {Key}\r\n\r\n"
            + "NOT HTTP AT ALL\r\n\r\n");
        Assert.False(exchange.Malformed, RawHttp.Printable(exchange.Raw));
        Assert.Equal([200, 200, 400], exchange.Responses.Select(r => r.Status));
        Assert.Equal("chat.completion", JsonDocument.Parse(exchange.Responses[0].Body).RootElement.GetProperty("object").GetString());
        Assert.Equal("list", JsonDocument.Parse(exchange.Responses[1].Body).RootElement.GetProperty("object").GetString());
        OpenAiError(exchange.Responses[2]);
    }

    [Fact]
    public async Task A_stream_passes_through_unchanged()
    {
        var chat = """{"model":"gpt-4o","messages":[{"role":"user","content":"tell me about HTTP/1.1 400 Bad Request"}],"stream":true}""";
        var exchange = await SendAsync($"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {Key}\r\nConnection: close\r\nContent-Length: {chat.Length}\r\n\r\n{chat}");
        var response = Assert.Single(exchange.Responses);
        Assert.Equal(200, response.Status);
        Assert.StartsWith("text/event-stream", response.Header("Content-Type"));
        Assert.EndsWith("data: [DONE]\n\n", response.Text);
    }

    [Theory]
    [InlineData("GET", "/nothing-here.txt")]
    [InlineData("POST", "/v1/models/gpt-4.1")]
    [InlineData("PUT", "/v1/sandboxes/sb.1")]
    [InlineData("GET", "/v1/chat/completions/..%2f")]
    public async Task A_path_no_route_takes_is_a_404_with_a_body(string method, string path)
    {
        // A last segment that looks like a file name is not taken by the fallback route: routing's own empty 404.
        using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = new StringContent("{}") };
        request.Headers.Authorization = new("Bearer", Key);
        using var response = await _gateway.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("unknown_url", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task An_unknown_path_under_the_messages_api_gets_an_anthropic_404()
    {
        using var response = await _gateway.Client.GetAsync("/v1/messages/nope");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("error", body.GetProperty("type").GetString());
        Assert.Equal("not_found_error", body.GetProperty("error").GetProperty("type").GetString());
    }

    [Fact]
    public async Task An_unhandled_exception_is_a_500_in_the_shape_of_the_path_with_the_request_id()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/test/throws");
        request.Headers.Add("x-request-id", "req-fixed-1");
        using var response = await _gateway.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal("internal_error", error.GetProperty("code").GetString());
        Assert.Contains("req-fixed-1", error.GetProperty("message").GetString());
        Assert.DoesNotContain("a bug", error.GetProperty("message").GetString());
        Assert.Equal("req-fixed-1", response.Headers.GetValues("x-request-id").Single());

        using var messages = await _gateway.Client.PostAsync("/v1/messages/test-throws", new StringContent("{}"));
        Assert.Equal(HttpStatusCode.InternalServerError, messages.StatusCode);
        var anthropic = JsonDocument.Parse(await messages.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("api_error", anthropic.GetProperty("error").GetProperty("type").GetString());
    }
}
