using System.Net;
using AgenticGateway.Emulator;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Routing;

/// <summary>Each routing strategy end to end: a gateway in front of a slow and a fast emulator.</summary>
[Trait("Category", "functional")]
public class StrategyRoutingTests : IAsyncLifetime
{
    private EmulatorServer _slow = null!;
    private EmulatorServer _fast = null!;

    public async Task InitializeAsync()
    {
        _slow = await EmulatorServer.StartAsync(new MockSettings(TimeSpan.FromMilliseconds(60), TimeSpan.Zero, 0, null));
        _fast = await EmulatorServer.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _slow.DisposeAsync();
        await _fast.DisposeAsync();
    }

    private Task<GatewayServer> Gateway(string strategy, string slowExtra = "", string fastExtra = "") => GatewayServer.StartAsync($"""
        models:
          - name: m
            provider: openai_compatible
            api_base: {_slow.ApiBase}
            id: slow
        {slowExtra}
          - name: m
            provider: openai_compatible
            api_base: {_fast.ApiBase}
            id: fast
        {fastExtra}
        router:
          groups:
            m: {"{"}strategy: {strategy}{"}"}
        """);

    private static async Task Send(GatewayServer gw, int count, int parallel = 1)
    {
        for (var i = 0; i < count; i += parallel)
        {
            var batch = Enumerable.Range(0, Math.Min(parallel, count - i)).Select(async _ =>
            {
                using var r = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("m"));
                Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            });
            await Task.WhenAll(batch);
        }
    }

    [Fact]
    public async Task Round_robin_splits_evenly()
    {
        await using var gw = await Gateway("round-robin");
        await Send(gw, 10);
        Assert.Equal(5, _slow.Engine.RequestCount);
        Assert.Equal(5, _fast.Engine.RequestCount);
    }

    [Fact]
    public async Task Simple_shuffle_follows_weights()
    {
        await using var gw = await Gateway("simple-shuffle", "    weight: 0.001", "    weight: 1000");
        await Send(gw, 20, parallel: 4);
        Assert.True(_fast.Engine.RequestCount >= 19, $"fast {_fast.Engine.RequestCount}, slow {_slow.Engine.RequestCount}");
    }

    [Fact]
    public async Task Latency_based_moves_traffic_to_the_faster_deployment()
    {
        await using var gw = await Gateway("latency-based");
        await Send(gw, 20);
        // Each deployment is sampled, then the fast one takes the traffic.
        Assert.True(_slow.Engine.RequestCount <= 2, $"slow got {_slow.Engine.RequestCount}");
        Assert.True(_fast.Engine.RequestCount >= 18);
    }

    [Fact]
    public async Task Least_busy_avoids_the_deployment_with_requests_piling_up()
    {
        await using var gw = await Gateway("least-busy");
        // Eight clients, each sending requests back to back: the slow deployment accumulates requests in flight.
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Send(gw, 6)));
        Assert.True(_fast.Engine.RequestCount > _slow.Engine.RequestCount, $"fast {_fast.Engine.RequestCount}, slow {_slow.Engine.RequestCount}");
    }

    [Fact]
    public async Task Lowest_cost_sends_everything_to_the_cheaper_deployment()
    {
        await using var gw = await Gateway("lowest-cost", "    input_cost_per_token: 0.000001\n    output_cost_per_token: 0.000002", "    input_cost_per_token: 0.00001\n    output_cost_per_token: 0.00003");
        await Send(gw, 10, parallel: 2);
        Assert.Equal(10, _slow.Engine.RequestCount);
        Assert.Equal(0, _fast.Engine.RequestCount);
    }

    [Fact]
    public async Task Usage_based_balances_tokens_against_each_deployments_tpm()
    {
        await using var gw = await Gateway("usage-based", "    tpm: 1000000", "    tpm: 1000");
        await Send(gw, 12);
        // The slow deployment has a thousand times the tpm: its share of capacity used stays lowest.
        Assert.True(_slow.Engine.RequestCount >= 10, $"slow {_slow.Engine.RequestCount}, fast {_fast.Engine.RequestCount}");
    }
}
