using AgenticGateway.Edge.Middlewares;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;
using static AgenticGateway.Tests.Edge.Middlewares.TrafficHarness;

namespace AgenticGateway.Tests.Edge.Middlewares;

/// <summary>Traefik's rateLimit on one node: the token bucket's burst, refill, short waits and refusals, and its sources.</summary>
[Trait("Category", "unit")]
public class RateLimitTests
{
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);

    private async Task<DefaultHttpContext> SendAsync(RequestDelegate app, params (string, string)[] headers)
    {
        var http = Request(headers: headers);
        await app(http);
        return http;
    }

    [Fact]
    public async Task The_documented_average_and_burst_admit_the_burst_at_once_then_refuse_with_retry_after()
    {
        // Traefik's example: "an average of 100 requests per second is allowed. In addition, a burst of 200 requests is allowed."
        var app = Build("""
            http:
              middlewares:
                test-ratelimit:
                  rateLimit:
                    average: 100
                    burst: 200
            """, Context(_clock))(Answer(200, "ok"));
        for (var i = 0; i < 200; i++) Assert.Equal(200, (await SendAsync(app)).Response.StatusCode);

        var refused = await SendAsync(app);
        Assert.Equal(429, refused.Response.StatusCode);
        Assert.Equal("Too Many Requests", Body(refused));
        Assert.Equal("1", refused.Response.Headers.RetryAfter.ToString());
        Assert.Equal("10ms", refused.Response.Headers["X-Retry-In"].ToString());

        // A tenth of a second refills ten tokens.
        _clock.Advance(TimeSpan.FromMilliseconds(100));
        for (var i = 0; i < 10; i++) Assert.Equal(200, (await SendAsync(app)).Response.StatusCode);
        Assert.Equal(429, (await SendAsync(app)).Response.StatusCode);
    }

    [Fact]
    public async Task A_rate_below_one_per_second_takes_a_longer_period_and_says_when_to_come_back()
    {
        var app = Build("""
            http:
              middlewares:
                slow:
                  rateLimit:
                    average: 1
                    period: 1m
            """, Context(_clock))(Answer(200));
        Assert.Equal(200, (await SendAsync(app)).Response.StatusCode);
        var refused = await SendAsync(app);
        Assert.Equal(429, refused.Response.StatusCode);
        Assert.Equal("60", refused.Response.Headers.RetryAfter.ToString());
        Assert.Equal("1m0s", refused.Response.Headers["X-Retry-In"].ToString());
        _clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(200, (await SendAsync(app)).Response.StatusCode);
    }

    [Fact]
    public async Task A_wait_within_half_a_token_interval_is_served_late_instead_of_refused()
    {
        // 10/s: a token every 100ms; a request may wait up to 50ms for one.
        var app = Build("""
            http:
              middlewares:
                shaped:
                  rateLimit:
                    average: 10
                    burst: 1
            """, Context(_clock))(Answer(200));
        Assert.Equal(200, (await SendAsync(app)).Response.StatusCode);
        _clock.Advance(TimeSpan.FromMilliseconds(60));
        var http = Request();
        var pending = app(http);
        Assert.False(pending.IsCompleted);
        _clock.Advance(TimeSpan.FromMilliseconds(40));
        await pending.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(200, http.Response.StatusCode);
    }

    [Fact]
    public async Task Each_value_of_the_source_header_has_its_own_bucket()
    {
        var app = Build("""
            http:
              middlewares:
                per-user:
                  rateLimit:
                    average: 1
                    period: 1h
                    sourceCriterion:
                      requestHeaderName: X-User
            """, Context(_clock))(Answer(200));
        Assert.Equal(200, (await SendAsync(app, ("X-User", "alice"))).Response.StatusCode);
        Assert.Equal(429, (await SendAsync(app, ("X-User", "alice"))).Response.StatusCode);
        Assert.Equal(200, (await SendAsync(app, ("X-User", "bob"))).Response.StatusCode);
    }

    [Fact]
    public async Task Average_zero_means_no_rate_limiting()
    {
        var app = Build("""
            http:
              middlewares:
                off:
                  rateLimit:
                    burst: 1
            """, Context(_clock))(Answer(200));
        for (var i = 0; i < 50; i++) Assert.Equal(200, (await SendAsync(app)).Response.StatusCode);
    }

    [Fact]
    public void Two_source_criteria_at_once_and_unknown_fields_are_errors()
    {
        var (built, errors) = TryBuild("""
            http:
              middlewares:
                bad:
                  rateLimit:
                    average: 10
                    averag: 5
                    sourceCriterion:
                      requestHost: true
                      requestHeaderName: X-User
            """);
        Assert.Null(built);
        Assert.Contains(errors, e => e.Contains("mutually exclusive"));
        Assert.Contains(errors, e => e.Contains("unknown field 'averag'"));
    }

    [Theory]
    // Traefik's ipStrategy tables (rateLimit and inFlightReq documentation).
    [InlineData("depth: 1", "10.0.0.1,11.0.0.1,12.0.0.1,13.0.0.1", "13.0.0.1")]
    [InlineData("depth: 3", "10.0.0.1,11.0.0.1,12.0.0.1,13.0.0.1", "11.0.0.1")]
    [InlineData("depth: 5", "10.0.0.1,11.0.0.1,12.0.0.1,13.0.0.1", "")]
    [InlineData("excludedIPs: [12.0.0.1, 13.0.0.1]", "10.0.0.1,11.0.0.1,12.0.0.1,13.0.0.1", "11.0.0.1")]
    [InlineData("excludedIPs: [15.0.0.1, 13.0.0.1]", "10.0.0.1,11.0.0.1,12.0.0.1,13.0.0.1", "12.0.0.1")]
    [InlineData("excludedIPs: [10.0.0.1, 13.0.0.1]", "10.0.0.1,11.0.0.1,12.0.0.1,13.0.0.1", "12.0.0.1")]
    [InlineData("excludedIPs: [15.0.0.1, 16.0.0.1]", "10.0.0.1,11.0.0.1,12.0.0.1,13.0.0.1", "13.0.0.1")]
    [InlineData("excludedIPs: [10.0.0.1, 11.0.0.1]", "10.0.0.1,11.0.0.1", "")]
    [InlineData("excludedIPs: [12.0.0.0/8]", "10.0.0.2,11.0.0.1,12.0.0.1", "11.0.0.1")]
    [InlineData("{depth: 1, ipv6Subnet: 64}", "::abcd:1111:2222:3333", "::")]
    [InlineData("{depth: 1, ipv6Subnet: 80}", "::abcd:1111:2222:3333", "::abcd:0:0:0")]
    [InlineData("{depth: 1, ipv6Subnet: 96}", "::abcd:1111:2222:3333", "::abcd:1111:0:0")]
    public void The_ip_strategy_picks_the_documented_client_ip(string strategy, string forwardedFor, string expected)
    {
        var errors = new List<string>();
        var node = Node(strategy.StartsWith('{') ? strategy : "{" + strategy + "}");
        var picked = ClientIpStrategy.Read(new AgenticGateway.Edge.EdgeOptions(node, errors));
        Assert.Empty(errors);
        Assert.Equal(expected, picked.ClientIp(Request(headers: ("X-Forwarded-For", forwardedFor))));
    }

    [Fact]
    public void Without_an_ip_strategy_the_connection_address_is_the_source()
    {
        var http = Request();
        http.Connection.RemoteIpAddress = System.Net.IPAddress.Parse("::ffff:192.0.2.7");
        Assert.Equal("192.0.2.7", ClientIpStrategy.RemoteAddress.ClientIp(http));
    }

    [Theory]
    [InlineData(10, "10ms")]
    [InlineData(1500, "1.5s")]
    [InlineData(60_000, "1m0s")]
    [InlineData(3_723_500, "1h2m3.5s")]
    [InlineData(0.25, "250µs")]
    public void Retry_in_is_written_as_go_writes_a_duration(double milliseconds, string expected) =>
        Assert.Equal(expected, GoDurationText.Format(TimeSpan.FromMilliseconds(milliseconds)));

    [Fact]
    public void Every_documented_redis_option_is_accepted()
    {
        // Traefik's example with every option (the TLS files are only read when a connection is made).
        var (built, errors) = TryBuild("""
            http:
              middlewares:
                test-ratelimit:
                  rateLimit:
                    average: 100
                    period: 1s
                    burst: 200
                    redis:
                      endpoints:
                        - "redis-primary.example.com:6379"
                        - "redis-replica.example.com:6379"
                      username: "ratelimit-user"
                      password: "secure-password"
                      db: 2
                      poolSize: 50
                      minIdleConns: 10
                      maxActiveConns: 200
                      readTimeout: 3s
                      writeTimeout: 3s
                      dialTimeout: 5s
                      tls:
                        ca: "/etc/ssl/redis-ca.crt"
                        cert: "/etc/ssl/redis-client.crt"
                        key: "/etc/ssl/redis-client.key"
                        insecureSkipVerify: false
            """);
        Assert.Empty(errors);
        Assert.NotNull(built);
    }
}
