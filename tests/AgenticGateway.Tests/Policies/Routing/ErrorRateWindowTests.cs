using AgenticGateway.Routing;

namespace AgenticGateway.Tests.Policies.Routing;

/// <summary>DeploymentState's sliding error-rate window (current_error_rate of routing policies).</summary>
[Trait("Category", "unit")]
public sealed class ErrorRateWindowTests
{
    private static readonly long Start = TimeSpan.FromDays(1).Ticks;

    [Fact]
    public void No_traffic_is_a_zero_rate()
    {
        Assert.Equal(0, new DeploymentState().ErrorRate(Start));
    }

    [Fact]
    public void The_rate_is_failed_attempts_over_all_attempts_in_the_window()
    {
        var state = new DeploymentState();
        for (var i = 0; i < 19; i++) state.RecordSuccess(0.1, null, Start + i);
        state.RecordOutcome(Start + 20, failed: true);
        Assert.Equal(0.05, state.ErrorRate(Start + 21), 6);
        state.RecordOutcome(Start + 22, failed: true);
        Assert.Equal(2.0 / 21, state.ErrorRate(Start + 23), 6);
    }

    [Fact]
    public void Outcomes_older_than_the_window_are_forgotten()
    {
        var state = new DeploymentState();
        state.RecordOutcome(Start, failed: true);
        Assert.Equal(1, state.ErrorRate(Start + TimeSpan.FromSeconds(30).Ticks));
        var later = Start + DeploymentState.ErrorWindow.Ticks + TimeSpan.FromSeconds(10).Ticks;
        Assert.Equal(0, state.ErrorRate(later));
        state.RecordOutcome(later, failed: false);
        Assert.Equal(0, state.ErrorRate(later + 1));
    }

    [Fact]
    public void A_reused_bucket_starts_from_zero()
    {
        var state = new DeploymentState();
        state.RecordOutcome(Start, failed: true);
        // Six buckets later the same slot of the ring is reused for a new period.
        var reuse = Start + DeploymentState.ErrorWindow.Ticks;
        state.RecordOutcome(reuse, failed: false);
        Assert.Equal(0, state.ErrorRate(reuse));
    }
}
