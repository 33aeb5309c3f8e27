using AgenticGateway.Routing;
using static AgenticGateway.Tests.Routing.RoutingTestData;
using AgenticGateway.Configuration;

namespace AgenticGateway.Tests.Routing;

[Trait("Category", "unit")]
public class StrategyTests
{
    [Fact]
    public void Simple_shuffle_follows_weights()
    {
        var group = new ModelGroup("g", [Deployment("heavy", weight: 9), Deployment("light", weight: 1)], new SimpleShuffleStrategy());
        var counts = Count(group, 10_000);
        Assert.InRange(counts["heavy"], 8_600, 9_400);
        Assert.InRange(counts["light"], 600, 1_400);
    }

    [Fact]
    public void Simple_shuffle_uses_rpm_when_no_weight_is_set()
    {
        var group = new ModelGroup("g", [Deployment("a", rpm: 300), Deployment("b", rpm: 100)], new SimpleShuffleStrategy());
        var counts = Count(group, 8_000);
        Assert.InRange(counts["a"] / (double)counts["b"], 2.5, 3.6);
    }

    [Fact]
    public void Round_robin_takes_turns()
    {
        var group = new ModelGroup("g", [Deployment("a"), Deployment("b"), Deployment("c")], new RoundRobinStrategy());
        var order = Enumerable.Range(0, 6).Select(_ => group.Deployments[group.PickOne(0, new RoutingInput(false, 1), 0)].Id).ToArray();
        Assert.Equal(order[..3], order[3..]);
        Assert.Equal(3, order[..3].Distinct().Count());
    }

    [Fact]
    public void Least_busy_picks_the_deployment_with_fewest_in_flight()
    {
        var busy = Deployment("busy");
        var idle = Deployment("idle");
        busy.State.Enter();
        busy.State.Enter();
        idle.State.Enter();
        var group = new ModelGroup("g", [busy, idle], new LeastBusyStrategy());
        Assert.All(Enumerable.Range(0, 50), _ => Assert.Equal("idle", group.Deployments[group.PickOne(0, new RoutingInput(false, 1), 0)].Id));
    }

    [Fact]
    public void Latency_based_samples_unmeasured_deployments_then_prefers_the_fastest()
    {
        var slow = Deployment("slow");
        var fast = Deployment("fast");
        slow.State.RecordSuccess(0.5, null, 0);
        var group = new ModelGroup("g", [slow, fast], new LatencyBasedStrategy());
        Assert.Equal("fast", group.Deployments[group.PickOne(0, new RoutingInput(false, 1), 0)].Id);
        fast.State.RecordSuccess(0.05, null, 0);
        Assert.All(Enumerable.Range(0, 50), _ => Assert.Equal("fast", group.Deployments[group.PickOne(0, new RoutingInput(false, 1), 0)].Id));
    }

    [Fact]
    public void Latency_based_uses_time_to_first_token_for_streams()
    {
        var a = Deployment("a");
        var b = Deployment("b");
        a.State.RecordSuccess(1.0, 0.05, 0);  // long answers, quick first token
        b.State.RecordSuccess(0.5, 0.40, 0);
        var group = new ModelGroup("g", [a, b], new LatencyBasedStrategy());
        Assert.Equal("a", group.Deployments[group.PickOne(0, new RoutingInput(true, 1), 0)].Id);
        Assert.Equal("b", group.Deployments[group.PickOne(0, new RoutingInput(false, 1), 0)].Id);
    }

    [Fact]
    public void Lowest_cost_picks_the_cheapest_priced_deployment()
    {
        var group = new ModelGroup("g",
            [Deployment("pricey", inputCost: 0.00001m, outputCost: 0.00003m), Deployment("cheap", inputCost: 0.000001m, outputCost: 0.000002m), Deployment("unpriced")],
            new LowestCostStrategy());
        Assert.All(Enumerable.Range(0, 20), _ => Assert.Equal("cheap", group.Deployments[group.PickOne(0, new RoutingInput(false, 1), 0)].Id));
    }

    [Fact]
    public void Usage_based_prefers_the_least_used_share_of_tpm()
    {
        var a = Deployment("a", tpm: 1000);
        var b = Deployment("b", tpm: 100_000);
        a.State.RecordUsage(7, 500);
        b.State.RecordUsage(7, 5000);
        var group = new ModelGroup("g", [a, b], new UsageBasedStrategy());
        Assert.Equal("b", group.Deployments[group.PickOne(0, new RoutingInput(false, 7), 0)].Id);
    }

    [Fact]
    public void Tried_deployments_are_skipped_while_others_remain()
    {
        var group = new ModelGroup("g", [Deployment("a"), Deployment("b")], new SimpleShuffleStrategy());
        Assert.All(Enumerable.Range(0, 50), _ => Assert.Equal(1, group.PickOne(tried: 0b01, new RoutingInput(false, 1), 0)));
    }

    [Fact]
    public void Strategy_names_from_litellm_map_to_ours()
    {
        Assert.Equal("latency-based", StrategyNames.Normalize("latency-based-routing"));
        Assert.Equal("lowest-cost", StrategyNames.Normalize("cost-based-routing"));
        Assert.Equal("usage-based", StrategyNames.Normalize("usage-based-routing-v2"));
        Assert.Equal("simple-shuffle", StrategyNames.Normalize("simple-shuffle"));
        Assert.Null(StrategyNames.Normalize("fastest"));
    }
}
