using AgenticGateway.Edge;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;
using static AgenticGateway.Tests.Edge.Middlewares.TrafficHarness;

namespace AgenticGateway.Tests.Edge.Middlewares;

/// <summary>
/// Traefik's retry: a try the load balancer could not deliver (EdgeRequest.ProxyFailed) or whose status is listed is
/// made again, nothing of it reaching the client; an answer is never retried once it is not retryable.
/// </summary>
[Trait("Category", "unit")]
public class RetryTests
{
    private const string Documented = """
        http:
          middlewares:
            test-retry:
              retry:
                attempts: 4
                initialInterval: 100ms
                timeout: 60s
                maxRequestBodyBytes: 1024
                status:
                  - "400"
                  - "500-599"
                disableRetryOnNetworkError: true
                retryNonIdempotentMethod: true
        """;

    /// <summary>A backend that fails to be reached (as the load balancer reports it) the first <paramref name="failures"/> times.</summary>
    private static RequestDelegate Unreachable(int failures, List<string> calls) => async http =>
    {
        calls.Add(http.Edge()!.Attempt.ToString());
        if (calls.Count <= failures)
        {
            http.Edge()!.ProxyFailed = true;
            http.Response.Headers["X-Try"] = calls.Count.ToString();
            await TrafficHarness.Answer(502, "Bad Gateway")(http);
            return;
        }
        await TrafficHarness.Answer(200, "ok")(http);
    };

    [Fact]
    public async Task A_network_error_is_retried_and_the_client_sees_only_the_answer()
    {
        var calls = new List<string>();
        var app = Build("""
            http:
              middlewares:
                retry:
                  retry:
                    attempts: 4
            """)(Unreachable(2, calls));
        var http = Request();
        await app(http);
        Assert.Equal(["0", "1", "2"], calls);
        Assert.Equal(200, http.Response.StatusCode);
        Assert.Equal("ok", Body(http));
        // The failed tries' headers went with them.
        Assert.False(http.Response.Headers.ContainsKey("X-Try"));
    }

    [Fact]
    public async Task The_last_attempt_answers_whatever_it_gets()
    {
        var calls = new List<string>();
        var app = Build("""
            http:
              middlewares:
                retry:
                  retry:
                    attempts: 3
            """)(Unreachable(10, calls));
        var http = Request();
        await app(http);
        Assert.Equal(3, calls.Count);
        Assert.Equal(502, http.Response.StatusCode);
        Assert.Equal("Bad Gateway", Body(http));
    }

    [Fact]
    public async Task A_server_that_answered_is_not_retried_without_status()
    {
        var calls = 0;
        var app = Build("""
            http:
              middlewares:
                retry:
                  retry:
                    attempts: 3
            """)(http => { calls++; return Answer(500, "boom")(http); });
        var http = Request();
        await app(http);
        Assert.Equal(1, calls);
        Assert.Equal(500, http.Response.StatusCode);
        Assert.Equal("boom", Body(http));
    }

    [Fact]
    public async Task The_documented_status_ranges_retry_a_post_with_its_body_replayed()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var bodies = new List<string>();
        var app = Build(Documented, Context(clock))(async http =>
        {
            bodies.Add(await new StreamReader(http.Request.Body).ReadToEndAsync());
            await Answer(bodies.Count < 3 ? 503 : 201, bodies.Count < 3 ? "busy" : "created")(http);
        });
        var http = Request("POST", body: "{\"n\":1}");
        var pending = app(http);
        // Waits grow from 100ms (±50%) to twice that: advancing the clock lets each through.
        for (var i = 0; i < 20 && !pending.IsCompleted; i++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(100));
            await Task.Yield();
            await Task.Delay(5);
        }
        await pending.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(["{\"n\":1}", "{\"n\":1}", "{\"n\":1}"], bodies);
        Assert.Equal(201, http.Response.StatusCode);
        Assert.Equal("created", Body(http));
    }

    [Fact]
    public async Task The_backoff_waits_at_least_half_the_initial_interval()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var calls = new List<string>();
        var app = Build("""
            http:
              middlewares:
                retry:
                  retry:
                    attempts: 2
                    initialInterval: 1s
            """, Context(clock))(Unreachable(1, calls));
        var pending = app(Request());
        await Task.Delay(50);
        Assert.Single(calls);
        clock.Advance(TimeSpan.FromMilliseconds(400));
        await Task.Delay(50);
        Assert.Single(calls);
        clock.Advance(TimeSpan.FromMilliseconds(1200));
        await pending.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(2, calls.Count);
    }

    [Fact]
    public async Task Status_retries_skip_non_idempotent_methods_unless_asked()
    {
        var calls = 0;
        var app = Build("""
            http:
              middlewares:
                retry:
                  retry:
                    attempts: 3
                    status: ["500-599"]
            """)(http => { calls++; return Answer(503, "busy")(http); });
        var post = Request("POST", body: "x");
        await app(post);
        Assert.Equal(1, calls);
        Assert.Equal("busy", Body(post));

        calls = 0;
        var get = Request();
        await app(get);
        Assert.Equal(3, calls);
        Assert.Equal(503, get.Response.StatusCode);
    }

    [Fact]
    public async Task A_body_over_the_limit_is_sent_whole_and_only_network_errors_are_retried()
    {
        var bodies = new List<string>();
        var app = Build("""
            http:
              middlewares:
                retry:
                  retry:
                    attempts: 3
                    maxRequestBodyBytes: 4
                    status: ["500"]
            """)(async http =>
        {
            bodies.Add(await new StreamReader(http.Request.Body).ReadToEndAsync());
            await Answer(500)(http);
        });
        await app(Request("PUT", body: "0123456789"));
        Assert.Equal(["0123456789"], bodies);
    }

    [Fact]
    public void Missing_attempts_and_network_retries_disabled_without_status_are_errors()
    {
        var (built, errors) = TryBuild("""
            http:
              middlewares:
                retry:
                  retry:
                    disableRetryOnNetworkError: true
            """);
        Assert.Null(built);
        Assert.Contains(errors, e => e.Contains("attempts: is required"));
        Assert.Contains(errors, e => e.Contains("disableRetryOnNetworkError needs status"));
    }
}
