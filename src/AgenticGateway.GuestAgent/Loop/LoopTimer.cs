namespace AgenticGateway.GuestAgent.Loop;

/// <summary>
/// A one-shot timer whose callback runs on the agent loop; cancelling it (on the loop) guarantees it will not run.
/// Kept by the loop itself (<see cref="AgentLoop.Schedule"/>): no timer thread, no thread-pool callback. Loop thread only.
/// </summary>
internal sealed class LoopTimer
{
    private readonly Action _callback;
    private bool _cancelled;

    private LoopTimer(Action callback) => _callback = callback;

    public static LoopTimer Start(AgentLoop loop, TimeSpan due, Action callback)
    {
        var timer = new LoopTimer(callback);
        loop.Schedule(timer, due);
        return timer;
    }

    internal void Fire()
    {
        if (_cancelled) return;
        _cancelled = true;
        _callback();
    }

    public void Cancel() => _cancelled = true;
}
