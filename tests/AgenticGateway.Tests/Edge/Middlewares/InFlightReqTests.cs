using AgenticGateway.Edge.Middlewares;
using static AgenticGateway.Tests.Edge.Middlewares.TrafficHarness;

namespace AgenticGateway.Tests.Edge.Middlewares;

/// <summary>Traefik's inFlightReq: requests of one source in progress at once, counted until they end.</summary>
[Trait("Category", "unit")]
public class InFlightReqTests
{
    [Fact]
    public async Task One_request_over_the_amount_of_the_same_host_gets_429_until_one_ends()
    {
        var release = new TaskCompletionSource();
        var app = Build("""
            http:
              middlewares:
                test-inflightreq:
                  inFlightReq:
                    amount: 1
            """)(async http => { await release.Task; http.Response.StatusCode = 200; });

        var first = Request(host: "a.example");
        var running = app(first);
        Assert.False(running.IsCompleted);

        var second = Request(host: "a.example");
        await app(second);
        Assert.Equal(429, second.Response.StatusCode);
        Assert.Equal("max connections reached: 1", Body(second));

        // Another host is another source (the default criterion is the Host).
        var other = Request(host: "b.example");
        var otherRunning = app(other);
        Assert.False(otherRunning.IsCompleted);

        release.SetResult();
        await running;
        await otherRunning;
        var third = Request(host: "a.example");
        await app(third);
        Assert.Equal(200, third.Response.StatusCode);
    }

    [Fact]
    public async Task A_failing_request_still_gives_its_place_back()
    {
        var app = Build("""
            http:
              middlewares:
                one:
                  inFlightReq:
                    amount: 1
                    sourceCriterion:
                      ipStrategy:
                        depth: 1
            """)(_ => throw new InvalidOperationException("backend blew up"));
        await Assert.ThrowsAsync<InvalidOperationException>(() => app(Request(headers: ("X-Forwarded-For", "1.2.3.4"))));
        await Assert.ThrowsAsync<InvalidOperationException>(() => app(Request(headers: ("X-Forwarded-For", "1.2.3.4"))));
    }
}
