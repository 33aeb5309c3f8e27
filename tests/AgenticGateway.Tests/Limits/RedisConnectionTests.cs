using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using AgenticGateway.Configuration;
using AgenticGateway.Limits;
using AgenticGateway.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace AgenticGateway.Tests.Limits;

/// <summary>
/// The connection to Redis is made in the background and kept by the client's own reconnects: neither start-up nor a
/// request waits for it, and Redis counts as down (fail-open or fail-closed) until it answers.
/// </summary>
// Integration: one test starts a real Redis after the gateway (the others need only a silent TCP listener).
[Trait("Category", "integration")]
public class RedisConnectionTests
{
    private const string Master = "sk-master-key-for-redis-connection-tests";

    private static readonly string Config = $"""
        master_key: {Master}
        models:
          - {"{"}name: gpt-4o, provider: mock{"}"}
        """;

    /// <summary>A TCP server that accepts connections and never answers: a Redis handshake against it hangs until the connect timeout.</summary>
    private static TcpListener SilentServer()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return listener;
    }

    [Fact]
    public async Task Creating_the_connection_does_not_wait_for_a_redis_that_never_answers()
    {
        using var silent = SilentServer();
        var endpoint = $"127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}";
        var accepted = silent.AcceptTcpClientAsync();

        var clock = Stopwatch.StartNew();
        using var redis = new RedisConnection(endpoint, failOpen: false, TimeSpan.FromMilliseconds(500), NullLogger<RedisConnection>.Instance);
        var constructed = clock.Elapsed;

        // The handshake is under way (the client connected) and unanswered, yet the constructor has long returned:
        // a blocking connect would have waited out the whole connect timeout.
        using var client = await accepted.WaitAsync(TimeSpan.FromSeconds(10));
        var connectTimeout = TimeSpan.FromMilliseconds(RedisConnection.Parse(endpoint).ConnectTimeout);
        Assert.True(constructed < connectTimeout, $"the constructor took {constructed.TotalMilliseconds:F0} ms, the connect timeout is {connectTimeout.TotalMilliseconds:F0} ms");
        Assert.False(redis.IsUp);
        Assert.ThrowsAny<StackExchange.Redis.RedisException>(() => redis.Database);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task While_redis_is_not_connected_a_limited_request_is_answered_at_once_from_local_counters_or_refused(bool failOpen)
    {
        using var silent = SilentServer();
        var endpoint = $"127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}";
        // The accept loop keeps adding while the client reconnects, so the list it fills must take concurrent adds.
        var held = new System.Collections.Concurrent.ConcurrentQueue<TcpClient>();
        var accepting = Task.Run(async () => { while (true) held.Enqueue(await silent.AcceptTcpClientAsync()); });
        await using var g = await GatewayServer.StartAsync(Config, waitForRedis: false,
            storage: s => s with { RedisUrl = new Secret(endpoint), RedisFailOpen = failOpen, RedisTimeout = TimeSpan.FromSeconds(30) });
        var key = await g.GenerateKeyAsync("""{"rpm_limit": 1000}""", Master);

        // Redis never answers, and the call timeout is 30 s: an answer well inside it did not wait for Redis.
        var clock = Stopwatch.StartNew();
        using (var r = await g.ChatAsync(key))
        {
            await r.Content.ReadAsByteArrayAsync();
            Assert.Equal(failOpen ? HttpStatusCode.OK : HttpStatusCode.ServiceUnavailable, r.StatusCode);
        }
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"the request took {clock.Elapsed.TotalSeconds:F1} s");
        var (_, health) = await g.AdminAsync("/health", null, Master);
        Assert.Equal("down", health.GetProperty("redis").GetProperty("status").GetString());
        silent.Stop();
        while (held.TryDequeue(out var c)) c.Dispose();
    }

    [Fact]
    public async Task A_redis_that_starts_after_the_gateway_is_connected_and_shared_once_it_answers()
    {
        await using var redis = await RedisInstance.StartAsync();
        await redis.StopAsync();
        await using var g = await GatewayServer.StartAsync(Config, waitForRedis: false,
            storage: s => s with { RedisUrl = new Secret("redis://" + redis.Endpoint), RedisFailOpen = false });
        var key = await g.GenerateKeyAsync("""{"rpm_limit": 1000}""", Master);
        using (var refused = await g.ChatAsync(key)) Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);

        await redis.RestartAsync();
        var connection = g.Services.GetRequiredService<RedisConnection>();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!connection.IsUp && DateTime.UtcNow < deadline) await Task.Delay(50);
        Assert.True(connection.IsUp, "the gateway did not connect to Redis within 20 s of it starting");
        using (var admitted = await g.ChatAsync(key)) Assert.Equal(HttpStatusCode.OK, admitted.StatusCode);
        // The request was counted in Redis, the shared store (which restarted empty).
        Assert.True((long)await connection.Database.ExecuteAsync("DBSIZE") > 0, "nothing was counted in Redis");
    }
}
