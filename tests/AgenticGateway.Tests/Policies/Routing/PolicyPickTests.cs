using AgenticGateway.Routing;
using static AgenticGateway.Tests.Routing.RoutingTestData;

namespace AgenticGateway.Tests.Policies.Routing;

/// <summary>The pieces policy routing picks with: the under-limits mask and /route's side-effect-free choice.</summary>
[Trait("Category", "unit")]
public sealed class PolicyPickTests
{
    [Fact]
    public void A_deployment_at_its_rpm_leaves_the_under_limits_mask_and_the_explained_choice()
    {
        var group = new ModelGroup("g", [Deployment("full", rpm: 1), Deployment("free")], new RoundRobinStrategy());
        group.Deployments[0].State.RecordUsage(7, 10);
        Assert.Equal(0b10UL, group.UnderLimits(7));
        Assert.Equal(0b11UL, group.UnderLimits(8));
        Assert.Equal(1, group.FirstAvailable(0b11, 7, 0));
        // Alone in the pool, a full deployment is still the answer (limits steer, they do not refuse).
        Assert.Equal(0, group.FirstAvailable(0b01, 7, 0));
    }

    [Fact]
    public void The_explained_choice_does_not_move_round_robin()
    {
        var group = new ModelGroup("g", [Deployment("a"), Deployment("b"), Deployment("c")], new RoundRobinStrategy());
        var first = group.PickOne(0, new RoutingInput(false, 1), 0);
        for (var i = 0; i < 5; i++) Assert.Equal(0, group.FirstAvailable(0b111, 1, 0));
        var second = group.PickOne(0, new RoutingInput(false, 1), 0);
        Assert.Equal((first + 1) % 3, second);
    }
}
