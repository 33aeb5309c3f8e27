using Microsoft.AspNetCore.Http;
using static AgenticGateway.Tests.Edge.Middlewares.TrafficHarness;

namespace AgenticGateway.Tests.Edge.Middlewares;

/// <summary>Traefik's buffering: whole bodies before the service and before the client, their limits, and retryExpression.</summary>
[Trait("Category", "unit")]
public class BufferingTests
{
    [Fact]
    public async Task The_documented_limit_lets_a_request_through_read_whole_with_its_length()
    {
        string? seen = null;
        long? length = null;
        var app = Build("""
            http:
              middlewares:
                limit:
                  buffering:
                    maxRequestBodyBytes: 2000000
            """)(async http =>
        {
            length = http.Request.ContentLength;
            seen = await new StreamReader(http.Request.Body).ReadToEndAsync();
            await Answer(200, "ok")(http);
        });
        var http = Request("POST", body: "hello");
        http.Request.ContentLength = null;
        http.Request.Headers.TransferEncoding = "chunked";
        await app(http);
        Assert.Equal("hello", seen);
        Assert.Equal(5, length);
        Assert.False(http.Request.Headers.ContainsKey("Transfer-Encoding"));
        Assert.Equal("ok", Body(http));
        Assert.Equal(2, http.Response.ContentLength);
    }

    [Fact]
    public async Task A_request_over_the_limit_gets_413_whether_it_declares_its_length_or_not()
    {
        const string yaml = """
            http:
              middlewares:
                limit:
                  buffering:
                    maxRequestBodyBytes: 10
                    memRequestBodyBytes: 4
            """;
        var calls = 0;
        var app = Build(yaml)(http => { calls++; return Answer(200)(http); });
        var declared = Request("POST", body: new string('x', 20));
        await app(declared);
        Assert.Equal(413, declared.Response.StatusCode);
        Assert.Equal("Request Entity Too Large", Body(declared));

        var chunked = Request("POST", body: new string('x', 20));
        chunked.Request.ContentLength = null;
        await app(chunked);
        Assert.Equal(413, chunked.Response.StatusCode);
        Assert.Equal(0, calls);
    }

    [Fact]
    public async Task A_response_over_the_limit_gets_500_and_none_of_it_reaches_the_client()
    {
        var app = Build("""
            http:
              middlewares:
                limit:
                  buffering:
                    maxResponseBodyBytes: 5
                    memResponseBodyBytes: 2
            """)(async http =>
        {
            http.Response.Headers["X-Backend"] = "yes";
            await Answer(200, "0123456789")(http);
        });
        var http = Request();
        await app(http);
        Assert.Equal(500, http.Response.StatusCode);
        Assert.Equal("Internal Server Error", Body(http));
        Assert.False(http.Response.Headers.ContainsKey("X-Backend"));
    }

    [Fact]
    public async Task Nothing_reaches_the_client_before_the_answer_is_complete()
    {
        var outer = new MemoryStream();
        long atFlush = -1;
        var http = Request();
        http.Response.Body = outer;
        await Build("""
            http:
              middlewares:
                b:
                  buffering: {}
            """)(async h =>
        {
            await h.Response.WriteAsync("part one ");
            await h.Response.Body.FlushAsync();
            atFlush = outer.Length;
            await h.Response.WriteAsync("part two");
        })(http);
        Assert.Equal(0, atFlush);
        Assert.Equal("part one part two", System.Text.Encoding.UTF8.GetString(outer.ToArray()));
    }

    [Fact]
    public async Task The_retry_expression_replays_the_request_until_it_no_longer_holds()
    {
        var bodies = new List<string>();
        var app = Build("""
            http:
              middlewares:
                b:
                  buffering:
                    retryExpression: "IsNetworkError() && Attempts() <= 2"
            """)(async http =>
        {
            bodies.Add(await new StreamReader(http.Request.Body).ReadToEndAsync());
            http.Response.Headers["X-Attempt"] = bodies.Count.ToString();
            await Answer(bodies.Count < 5 ? 502 : 200, "attempt " + bodies.Count)(http);
        });
        var http = Request("POST", body: "payload");
        await app(http);
        // Tries 1 and 2 matched; the third did not (Attempts() is 3), so its 502 is the answer.
        Assert.Equal(["payload", "payload", "payload"], bodies);
        Assert.Equal(502, http.Response.StatusCode);
        Assert.Equal("attempt 3", Body(http));
        Assert.Equal("3", http.Response.Headers["X-Attempt"].ToString());
    }

    [Fact]
    public async Task The_retry_expression_can_look_at_the_method_and_status()
    {
        var calls = 0;
        var app = Build("""
            http:
              middlewares:
                b:
                  buffering:
                    retryExpression: "RequestMethod() == \"GET\" && ResponseCode() >= 500 && Attempts() < 3"
            """)(http => { calls++; return Answer(503)(http); });
        await app(Request("POST", body: "x"));
        Assert.Equal(1, calls);
        calls = 0;
        await app(Request());
        Assert.Equal(3, calls);
    }

    [Fact]
    public void A_bad_retry_expression_is_an_error()
    {
        var (built, errors) = TryBuild("""
            http:
              middlewares:
                b:
                  buffering:
                    retryExpression: "Attempts() < 2.5"
            """);
        Assert.Null(built);
        Assert.Contains(errors, e => e.EndsWith("buffering.retryExpression: column 14: Attempts() returns a whole number, so compare it with a whole number (such as 100), not '2.5' in 'Attempts() < 2.5'", StringComparison.Ordinal));
    }
}
