using System.Text;
using System.Text.Json;
using AgenticGateway.Pipeline;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Hosting;

/// <summary>
/// The rewrite of Kestrel's own empty error responses: only an error status line with headers that declare an empty
/// body, and nothing after them, gets a body (end to end in Api.ErrorShapeTests).
/// </summary>
[Trait("Category", "unit")]
public class RejectionBodiesTests
{
    [Fact]
    public void An_unsupported_http_version_is_answered_as_the_400_it_is()
    {
        var result = RejectionBodies.WithBody("HTTP/1.1 505 HTTP Version Not Supported\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8);
        Assert.NotNull(result);
        var (parsed, malformed) = RawHttp.Parse(result);
        Assert.False(malformed);
        var single = Assert.Single(parsed);
        Assert.Equal(400, single.Status);
        Assert.Equal("http_version_not_supported", JsonDocument.Parse(single.Body).RootElement.GetProperty("error").GetProperty("code").GetString());
    }

    [Theory]
    [InlineData("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\nDate: x\r\n\r\n", true)]
    [InlineData("HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", true)]
    [InlineData("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nDate: x\r\n\r\n", false)] // a HEAD request's: no Content-Length, no body
    [InlineData("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\nextra", false)]
    [InlineData("HTTP/1.1 400 Bad Request\r\nContent-Length: 05\r\n\r\n", false)]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false)]
    [InlineData("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n", false)]
    public void Only_an_empty_error_response_gets_a_body(string response, bool rewritten)
    {
        var result = RejectionBodies.WithBody(Encoding.ASCII.GetBytes(response));
        Assert.Equal(rewritten, result is not null);
        if (result is null) return;
        var (parsed, malformed) = RawHttp.Parse(result);
        Assert.False(malformed);
        var single = Assert.Single(parsed);
        Assert.Equal(int.Parse(response[9..12]), single.Status);
        Assert.Equal("close", single.Header("Connection"));
        var error = JsonDocument.Parse(single.Body).RootElement.GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal(single.Body.Length, int.Parse(single.Header("Content-Length")!));
    }
}
