namespace AgenticGateway.GuestAgent.Loop;

/// <summary>
/// A one-shot timer whose callback runs on the agent loop; cancelling it (on the loop) guarantees it will not run.
/// Kept by the loop itself (<see cref="AgentLoop.Schedule"/>): no timer thread, no thread-pool callback. Loop thread only.
/// </summary>
internal sealed class LoopTimer
{
    // Dropped when the timer fires or is cancelled: the loop's queue keeps a cancelled timer until its due time, and an
    // execution's timeout callback holds the execution (its code, up to 1 MiB) until then otherwise.
    private Action? _callback;

    private LoopTimer(Action callback) => _callback = callback;

    public static LoopTimer Start(AgentLoop loop, TimeSpan due, Action callback)
    {
        var timer = new LoopTimer(callback);
        loop.Schedule(timer, due);
        return timer;
    }

    internal void Fire()
    {
        var callback = _callback;
        _callback = null;
        callback?.Invoke();
    }

    public void Cancel() => _callback = null;
}
