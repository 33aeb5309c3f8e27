using System.Text;
using System.Text.Json;
using AgenticGateway.Tests.Support;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace AgenticGateway.Tests.Pipeline;

/// <summary>
/// A body Kestrel refuses to deliver (broken chunked framing, one that stops arriving) is the client's error, answered
/// in the API's shape: 400 or 408, never a 500.
/// </summary>
[Trait("Category", "functional")]
public class RequestBodyTests : IAsyncLifetime
{
    private const string Key = "sk-body-master";
    private GatewayServer _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayServer.StartAsync($$"""
        master_key: {{Key}}
        models:
          - {name: gpt-4o, provider: mock}
        """, kestrel: k => k.Limits.MinRequestBodyDataRate = new MinDataRate(240, TimeSpan.FromSeconds(2)));

    public Task DisposeAsync() => _gateway.DisposeAsync().AsTask();

    private async Task<RawHttp.Response> SendAsync(string path, string framing, string body)
    {
        var request = $"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {Key}\r\nContent-Type: application/json\r\nConnection: close\r\n{framing}\r\n{body}";
        var exchange = await RawHttp.SendAsync(new Uri(_gateway.Url), [new(Encoding.ASCII.GetBytes(request))], halfClose: false, TimeSpan.FromSeconds(30));
        Assert.False(exchange.TimedOut, "no answer");
        return Assert.Single(exchange.Responses);
    }

    /// <summary>The error's (status, type, code), from OpenAI's shape or Anthropic's (which has no code).</summary>
    private static (int Status, string Type, string? Code) Error(RawHttp.Response response, bool anthropic)
    {
        var root = JsonDocument.Parse(response.Body).RootElement;
        if (anthropic)
        {
            Assert.Equal("error", root.GetProperty("type").GetString());
            return (response.Status, root.GetProperty("error").GetProperty("type").GetString()!, null);
        }
        var error = root.GetProperty("error");
        return (response.Status, error.GetProperty("type").GetString()!, error.GetProperty("code").GetString());
    }

    [Theory]
    [InlineData("/v1/chat/completions", "zz\r\n{}\r\n0\r\n\r\n")] // not hex
    [InlineData("/v1/chat/completions", "fffffffffffffffffff\r\n{}\r\n0\r\n\r\n")] // too large for an int: Kestrel's IOException
    [InlineData("/v1/embeddings", "2\r\n{}XX0\r\n\r\n")] // no CRLF after the data
    [InlineData("/key/generate", "zz\r\n{}\r\n0\r\n\r\n")]
    [InlineData("/key/generate", "fffffffffffffffffff\r\n{}\r\n0\r\n\r\n")]
    public async Task Broken_chunked_framing_is_a_400_in_openai_shape(string path, string chunks)
    {
        var response = await SendAsync(path, "Transfer-Encoding: chunked\r\n", chunks);
        Assert.Equal((400, "invalid_request_error", "malformed_body"), Error(response, anthropic: false));
    }

    [Theory]
    [InlineData("/v1/messages")]
    [InlineData("/v1/messages/count_tokens")]
    public async Task Broken_chunked_framing_on_the_messages_api_is_a_400_in_anthropic_shape(string path)
    {
        var response = await SendAsync(path, "Transfer-Encoding: chunked\r\n", "zz\r\n{}\r\n0\r\n\r\n");
        Assert.Equal((400, "invalid_request_error", null), Error(response, anthropic: true));
    }

    [Theory]
    [InlineData("/v1/chat/completions", false)]
    [InlineData("/v1/messages", true)]
    [InlineData("/key/generate", false)]
    public async Task A_body_that_stops_arriving_is_a_408(string path, bool anthropic)
    {
        var response = await SendAsync(path, "Content-Length: 500\r\n", """{"model":""");
        var (status, type, code) = Error(response, anthropic);
        Assert.Equal(408, status);
        Assert.Equal("invalid_request_error", type);
        if (!anthropic) Assert.Equal("request_timeout", code);
    }

    [Theory]
    [InlineData("1e308")]
    [InlineData("Infinity")]
    [InlineData("NaN")]
    [InlineData("-1")]
    public async Task A_timeout_header_out_of_range_leaves_the_configured_timeout(string value)
    {
        var chat = Chat.Request("gpt-4o");
        var response = await SendAsync("/v1/chat/completions", $"x-agw-timeout: {value}\r\nContent-Length: {chat.Length}\r\n", chat);
        Assert.Equal(200, response.Status);
    }
}
