using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using static AgenticGateway.Tests.Edge.Middlewares.TrafficHarness;

namespace AgenticGateway.Tests.Edge.Middlewares;

/// <summary>
/// Traefik's grpcWeb: gRPC-Web (binary and text) in, gRPC to the service, and the answer's trailers back as the
/// body's last frame; CORS for the allowed origins.
/// </summary>
[Trait("Category", "unit")]
public class GrpcWebTests
{
    private const string Documented = """
        http:
          middlewares:
            test-grpcweb:
              grpcWeb:
                allowOrigins:
                  - "https://app.example"
        """;

    private static readonly byte[] RequestMessage = [0, 0, 0, 0, 3, 0x0A, 0x01, 0x41];
    private static readonly byte[] ReplyMessage = [0, 0, 0, 0, 4, 0x0A, 0x02, 0x68, 0x69];

    private sealed record Seen(string? ContentType, string Protocol, byte[] Body);

    /// <summary>A gRPC service as the load balancer relays one: headers, a message, then trailers.</summary>
    private static RequestDelegate Service(List<Seen> seen, bool trailersOnly = false) => async http =>
    {
        var body = new MemoryStream();
        await http.Request.Body.CopyToAsync(body);
        seen.Add(new Seen(http.Request.ContentType, http.Request.Protocol, body.ToArray()));
        http.Response.ContentType = "application/grpc+proto";
        http.Response.Headers["X-Server"] = "greeter";
        var trailers = http.Features.Get<IHttpResponseTrailersFeature>()!.Trailers;
        if (!trailersOnly) await http.Response.Body.WriteAsync(ReplyMessage);
        trailers["grpc-status"] = trailersOnly ? "5" : "0";
        trailers["grpc-message"] = trailersOnly ? "not found" : "";
    };

    private static byte[] TrailerFrame(string block)
    {
        var payload = Encoding.ASCII.GetBytes(block);
        return [0x80, 0, 0, 0, (byte)payload.Length, .. payload];
    }

    [Fact]
    public async Task A_binary_grpc_web_call_goes_on_as_grpc_and_its_trailers_come_back_in_the_body()
    {
        var seen = new List<Seen>();
        var http = Request("POST", "/greet.Greeter/SayHello", headers: [("Content-Type", "application/grpc-web+proto"), ("Origin", "https://app.example")]);
        http.Request.Body = new MemoryStream(RequestMessage);
        http.Request.ContentLength = RequestMessage.Length;
        await Build(Documented)(Service(seen))(http);

        var call = Assert.Single(seen);
        Assert.Equal("application/grpc+proto", call.ContentType);
        Assert.Equal("HTTP/2", call.Protocol);
        Assert.Equal(RequestMessage, call.Body);

        Assert.Equal("application/grpc-web+proto", http.Response.ContentType);
        Assert.Equal("https://app.example", http.Response.Headers.AccessControlAllowOrigin.ToString());
        Assert.Equal("true", http.Response.Headers.AccessControlAllowCredentials.ToString());
        var exposed = http.Response.Headers.AccessControlExposeHeaders.ToString();
        Assert.Contains("x-server", exposed);
        Assert.Contains("grpc-status", exposed);
        Assert.Equal([.. ReplyMessage, .. TrailerFrame("grpc-message: \r\ngrpc-status: 0\r\n")], BodyBytes(http));
    }

    [Fact]
    public async Task The_text_form_is_base64_both_ways()
    {
        var seen = new List<Seen>();
        var http = Request("POST", "/greet.Greeter/SayHello", headers: ("Content-Type", "application/grpc-web-text"));
        var encoded = Encoding.ASCII.GetBytes(Convert.ToBase64String(RequestMessage));
        http.Request.Body = new MemoryStream(encoded);
        await Build(Documented)(Service(seen))(http);

        Assert.Equal(RequestMessage, Assert.Single(seen).Body);
        Assert.Equal("application/grpc", seen[0].ContentType);
        Assert.Equal("application/grpc-web-text+proto", http.Response.ContentType);
        var decoded = Convert.FromBase64String(Body(http));
        Assert.Equal([.. ReplyMessage, .. TrailerFrame("grpc-message: \r\ngrpc-status: 0\r\n")], decoded);
        // An origin not allowed gets no CORS grant.
        Assert.False(http.Response.Headers.ContainsKey("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task A_trailers_only_answer_carries_its_status_in_the_headers()
    {
        var http = Request("POST", "/greet.Greeter/SayHello", headers: ("Content-Type", "application/grpc-web"));
        http.Request.Body = new MemoryStream(RequestMessage);
        await Build(Documented)(Service([], trailersOnly: true))(http);
        Assert.Equal("5", http.Response.Headers["grpc-status"].ToString());
        Assert.Equal("not found", http.Response.Headers["grpc-message"].ToString());
        Assert.Empty(BodyBytes(http));
    }

    [Fact]
    public async Task A_preflight_for_grpc_web_is_answered_at_the_edge_for_allowed_origins()
    {
        var calls = 0;
        var app = Build(Documented)(http => { calls++; return Task.CompletedTask; });
        var allowed = Request("OPTIONS", "/greet.Greeter/SayHello", headers:
            [("Origin", "https://app.example"), ("Access-Control-Request-Method", "POST"), ("Access-Control-Request-Headers", "content-type,x-grpc-web,x-user-agent")]);
        await app(allowed);
        Assert.Equal(204, allowed.Response.StatusCode);
        Assert.Equal("https://app.example", allowed.Response.Headers.AccessControlAllowOrigin.ToString());
        Assert.Equal("POST", allowed.Response.Headers.AccessControlAllowMethods.ToString());
        Assert.Equal("content-type,x-grpc-web,x-user-agent", allowed.Response.Headers.AccessControlAllowHeaders.ToString());
        Assert.Equal("600", allowed.Response.Headers.AccessControlMaxAge.ToString());

        var refused = Request("OPTIONS", "/greet.Greeter/SayHello", headers:
            [("Origin", "https://evil.example"), ("Access-Control-Request-Method", "POST"), ("Access-Control-Request-Headers", "x-grpc-web")]);
        await app(refused);
        Assert.Equal(204, refused.Response.StatusCode);
        Assert.False(refused.Response.Headers.ContainsKey("Access-Control-Allow-Origin"));
        Assert.Equal(0, calls);
    }

    [Fact]
    public async Task Other_requests_pass_untouched()
    {
        var seen = new List<Seen>();
        var http = Request("POST", "/api", body: "{}", headers: ("Content-Type", "application/json"));
        await Build(Documented)(async h =>
        {
            seen.Add(new Seen(h.Request.ContentType, h.Request.Protocol, []));
            await Answer(200, "plain")(h);
        })(http);
        Assert.Equal("application/json", seen[0].ContentType);
        Assert.Equal("plain", Body(http));
        Assert.False(http.Response.Headers.ContainsKey("Access-Control-Expose-Headers"));
    }
}
