using System.Net;
using System.Net.Sockets;
using AgenticGateway.Tests.Support;
using static AgenticGateway.Tests.Edge.Middlewares.TrafficHarness;

namespace AgenticGateway.Tests.Edge.Middlewares;

/// <summary>
/// rateLimit with <c>redis</c>: two replicas (two builds, as two gateways would make) draw from one bucket in a real
/// Redis; a Redis that cannot be reached refuses with Traefik's 500.
/// </summary>
[Trait("Category", "integration")]
public class RateLimitRedisTests
{
    private static string Yaml(string endpoint) => $$"""
        http:
          middlewares:
            shared-ratelimit:
              rateLimit:
                average: 1
                period: 1h
                burst: 3
                sourceCriterion:
                  requestHeaderName: X-Tenant
                redis:
                  endpoints:
                    - "{{endpoint}}"
                  readTimeout: 2s
                  dialTimeout: 2s
        """;

    [Fact]
    public async Task Two_replicas_share_one_bucket()
    {
        var redis = await RedisInstance.SharedAsync();
        // A tenant of its own, so another run against the shared server starts with a full bucket.
        var tenant = Guid.NewGuid().ToString("N");
        var yaml = Yaml(redis.Endpoint);
        var replicaA = Build(yaml, Context(name: "shared-ratelimit@file"))(Answer(200, "ok"));
        var replicaB = Build(yaml, Context(name: "shared-ratelimit@file"))(Answer(200, "ok"));

        var statuses = new List<int>();
        for (var i = 0; i < 6; i++)
        {
            var http = Request(headers: ("X-Tenant", tenant));
            await (i % 2 == 0 ? replicaA : replicaB)(http);
            statuses.Add(http.Response.StatusCode);
            if (http.Response.StatusCode == 429)
            {
                Assert.Equal("Too Many Requests", Body(http));
                Assert.True(int.Parse(http.Response.Headers.RetryAfter.ToString()) > 3000, "an hour's refill is far away");
            }
        }
        Assert.Equal([200, 200, 200, 429, 429, 429], statuses);

        // Another tenant has its own bucket in the same Redis.
        var other = Request(headers: ("X-Tenant", tenant + "-other"));
        await replicaB(other);
        Assert.Equal(200, other.Response.StatusCode);
    }

    [Fact]
    public async Task An_unreachable_redis_refuses_with_traefiks_500()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var app = Build(Yaml($"127.0.0.1:{port}"))(Answer(200));
        var http = Request(headers: ("X-Tenant", "t"));
        await app(http).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(500, http.Response.StatusCode);
        Assert.Equal("Could not insert/update bucket\n", Body(http));
        Assert.Equal("nosniff", http.Response.Headers.XContentTypeOptions.ToString());
    }
}
