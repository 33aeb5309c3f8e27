using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;
using static AgenticGateway.Tests.Edge.Middlewares.TrafficHarness;

namespace AgenticGateway.Tests.Edge.Middlewares;

/// <summary>
/// Traefik's circuitBreaker: the documented expressions open it over the recent requests, the fallback answers while
/// open, recovery lets traffic back progressively, and expressions Traefik refuses are refused with their column.
/// </summary>
[Trait("Category", "unit")]
public class CircuitBreakerTests
{
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);

    private static async Task<int> SendAsync(RequestDelegate app)
    {
        var http = Request();
        await app(http);
        return http.Response.StatusCode;
    }

    [Fact]
    public async Task Network_errors_over_the_ratio_open_it_then_it_recovers_and_closes()
    {
        var status = 502;
        var calls = 0;
        var app = Build("""
            http:
              middlewares:
                test-cb:
                  circuitBreaker:
                    expression: "NetworkErrorRatio() > 0.30"
            """, Context(_clock))(http => { calls++; return Answer(status)(http); });

        Assert.Equal(502, await SendAsync(app));
        var open = Request();
        await app(open);
        Assert.Equal(503, open.Response.StatusCode);
        Assert.Equal("Service Unavailable", Body(open));
        Assert.Equal(1, calls);

        // After the fallback duration (10s) it recovers: at first it lets almost nothing through.
        status = 200;
        _clock.Advance(TimeSpan.FromSeconds(10.1));
        Assert.Equal(503, await SendAsync(app));
        // Halfway through the recovery a quarter of the requests pass.
        _clock.Advance(TimeSpan.FromSeconds(5));
        var passed = 0;
        for (var i = 0; i < 40; i++) if (await SendAsync(app) == 200) passed++;
        Assert.InRange(passed, 5, 20);
        // After the recovery duration it is closed again.
        _clock.Advance(TimeSpan.FromSeconds(6));
        for (var i = 0; i < 10; i++) Assert.Equal(200, await SendAsync(app));
    }

    [Fact]
    public async Task Response_code_ratio_with_a_request_threshold_and_a_custom_fallback_code()
    {
        var app = Build("""
            http:
              middlewares:
                cb:
                  circuitBreaker:
                    expression: "ResponseCodeRatio(500, 600, 0, 600) > 0.30 && RequestThreshold() >= 5"
                    responseCode: 418
                    checkPeriod: 1s
            """, Context(_clock))(Answer(500));
        // Under the threshold every request still goes through, failing or not.
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(500, await SendAsync(app));
            _clock.Advance(TimeSpan.FromMilliseconds(1100));
        }
        Assert.Equal(500, await SendAsync(app));
        var open = Request();
        await app(open);
        Assert.Equal(418, open.Response.StatusCode);
        Assert.Equal("I'm a teapot", Body(open));
    }

    [Fact]
    public async Task The_median_latency_over_the_documented_threshold_opens_it()
    {
        var app = Build("""
            http:
              middlewares:
                latency-check:
                  circuitBreaker:
                    expression: "LatencyAtQuantileMS(50.0) > 100"
            """, Context(_clock))(http =>
        {
            _clock.Advance(TimeSpan.FromMilliseconds(150));
            return Answer(200)(http);
        });
        Assert.Equal(200, await SendAsync(app));
        Assert.Equal(503, await SendAsync(app));
    }

    [Fact]
    public async Task Fast_answers_keep_it_closed()
    {
        var app = Build("""
            http:
              middlewares:
                latency-check:
                  circuitBreaker:
                    expression: "LatencyAtQuantileMS(50.0) > 100 || NetworkErrorRatio() > 0.5"
                    checkPeriod: 10ms
            """, Context(_clock))(http =>
        {
            _clock.Advance(TimeSpan.FromMilliseconds(20));
            return Answer(200)(http);
        });
        for (var i = 0; i < 30; i++) Assert.Equal(200, await SendAsync(app));
    }

    [Theory]
    [InlineData("", "column 1: expected a function")]
    [InlineData("LatencyAtQuantileMS(50) > 100", "column 21: argument 1 of LatencyAtQuantileMS() is a decimal number")]
    [InlineData("NetworkErrorRatio() > 1", "column 23: NetworkErrorRatio() returns a decimal number")]
    [InlineData("LatencyAtQuantileMS(50.0) > 100.5", "returns a whole number")]
    [InlineData("Ratio() > 0.5", "column 1: unknown function 'Ratio'")]
    [InlineData("NetworkErrorRatio() > 0.5 &&", "expected a function")]
    [InlineData("(NetworkErrorRatio() > 0.5", "expected ')'")]
    [InlineData("NetworkErrorRatio()", "is a value, not a condition")]
    [InlineData("ResponseCodeRatio(500, 600) > 0.5", "takes 4 argument(s), got 2")]
    public void Expressions_traefik_refuses_are_errors_with_their_column(string expression, string expected)
    {
        var (built, errors) = TryBuild($$"""
            http:
              middlewares:
                cb:
                  circuitBreaker:
                    expression: '{{expression}}'
            """);
        Assert.Null(built);
        Assert.Contains(errors, e => e.Contains("circuitBreaker.expression: ") && e.Contains(expected));
    }
}
