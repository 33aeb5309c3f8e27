using AgenticGateway.Routing;

namespace AgenticGateway.Tests.Routing;

[Trait("Category", "unit")]
public class DeploymentStateTests
{
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Cooldown = TimeSpan.FromSeconds(5);

    [Fact]
    public void Allowed_fails_within_the_window_trip_the_cooldown()
    {
        var state = new DeploymentState();
        var t = TimeSpan.FromHours(1).Ticks;
        Assert.False(state.RecordFailure(t, 3, Window, Cooldown, immediate: false));
        Assert.False(state.RecordFailure(t + 1, 3, Window, Cooldown, immediate: false));
        Assert.True(state.RecordFailure(t + 2, 3, Window, Cooldown, immediate: false));
        Assert.True(state.IsCoolingDown(t + 3));
        Assert.False(state.TryAcquire(t + 3, out _));
    }

    [Fact]
    public void Failures_outside_the_window_are_forgotten()
    {
        var state = new DeploymentState();
        var t = TimeSpan.FromHours(1).Ticks;
        state.RecordFailure(t, 2, Window, Cooldown, false);
        Assert.False(state.RecordFailure(t + Window.Ticks + 1, 2, Window, Cooldown, false));
    }

    [Fact]
    public void After_cooldown_one_probe_is_admitted_and_success_closes_the_circuit()
    {
        var state = new DeploymentState();
        var t = TimeSpan.FromHours(1).Ticks;
        state.RecordFailure(t, 1, Window, Cooldown, immediate: true);
        var after = t + Cooldown.Ticks + 1;
        Assert.False(state.IsCoolingDown(after));
        Assert.True(state.TryAcquire(after, out _));   // the probe
        Assert.False(state.TryAcquire(after, out _));  // others wait for its outcome
        state.RecordSuccess(0.1, null, after);
        Assert.True(state.IsHealthy);
        Assert.True(state.TryAcquire(after, out _));
        Assert.True(state.TryAcquire(after, out _));
    }

    [Fact]
    public void A_failed_probe_starts_a_new_cooldown()
    {
        var state = new DeploymentState();
        var t = TimeSpan.FromHours(1).Ticks;
        state.RecordFailure(t, 1, Window, Cooldown, immediate: true);
        var after = t + Cooldown.Ticks + 1;
        Assert.True(state.TryAcquire(after, out _));
        Assert.True(state.RecordFailure(after, 3, Window, Cooldown, immediate: true));
        Assert.True(state.IsCoolingDown(after + 1));
    }

    [Fact]
    public void Latency_is_smoothed()
    {
        var state = new DeploymentState();
        Assert.True(double.IsNaN(state.LatencySeconds));
        state.RecordSuccess(1.0, null, 0);
        state.RecordSuccess(0.0, null, 0);
        Assert.Equal(0.8, state.LatencySeconds, 3);
    }

    [Fact]
    public void A_probe_ended_without_an_outcome_lets_the_next_request_probe()
    {
        var state = new DeploymentState();
        var t = TimeSpan.FromHours(1).Ticks;
        state.RecordFailure(t, 1, Window, Cooldown, immediate: true);
        var after = t + Cooldown.Ticks + 1;
        Assert.True(state.TryAcquire(after, out var probe));
        Assert.True(probe);
        state.EndProbe(); // e.g. the probe was a bad request, or its client left
        Assert.True(state.TryAcquire(after, out probe));
        Assert.True(probe);
    }

    [Fact]
    public void Any_failure_while_half_open_restarts_the_cooldown_at_once()
    {
        var state = new DeploymentState();
        var t = TimeSpan.FromHours(1).Ticks;
        state.RecordFailure(t, 5, Window, Cooldown, immediate: true);
        var after = t + Cooldown.Ticks + 1;
        Assert.True(state.RecordFailure(after, 5, Window, Cooldown, immediate: false));
        Assert.True(state.IsCoolingDown(after + 1));
    }

    [Fact]
    public void A_success_clears_the_failures_counted_before_it()
    {
        var state = new DeploymentState();
        var t = TimeSpan.FromHours(1).Ticks;
        Assert.False(state.RecordFailure(t, 2, Window, Cooldown, immediate: false));
        state.RecordSuccess(0.1, null, t + 1);
        Assert.False(state.RecordFailure(t + 2, 2, Window, Cooldown, immediate: false));
        Assert.True(state.RecordFailure(t + 3, 2, Window, Cooldown, immediate: false));
        // Successes with no failure queued clear nothing later: two failures after them still trip.
        state.RecordSuccess(0.1, null, t + Cooldown.Ticks + 4);
        state.RecordSuccess(0.1, null, t + Cooldown.Ticks + 5);
        Assert.False(state.RecordFailure(t + Cooldown.Ticks + 6, 2, Window, Cooldown, immediate: false));
        Assert.True(state.RecordFailure(t + Cooldown.Ticks + 7, 2, Window, Cooldown, immediate: false));
    }

    [Fact]
    public void Failures_from_many_threads_are_each_counted_once()
    {
        // No success: every failure counts, however they interleave (a cooldown does not stop the counting), so exactly
        // every fourth one trips.
        var state = new DeploymentState();
        var t = TimeSpan.FromHours(1).Ticks;
        var trips = 0;
        Parallel.For(0, 4000, new ParallelOptions { MaxDegreeOfParallelism = 8 }, _ =>
        {
            if (state.RecordFailure(t, 4, Window, TimeSpan.FromHours(1), immediate: false)) Interlocked.Increment(ref trips);
        });
        Assert.Equal(1000, trips);
    }
}
