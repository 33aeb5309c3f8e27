namespace AgenticGateway.GuestAgent.Loop;

/// <summary>A one-shot timer whose callback runs on the agent loop; cancelling it (on the loop) guarantees it will not run.</summary>
internal sealed class LoopTimer
{
    private readonly Timer _timer;
    private bool _cancelled;

    private LoopTimer(AgentLoop loop, TimeSpan due, Action callback)
    {
        _timer = new Timer(_ => loop.Post(_ =>
        {
            if (_cancelled) return;
            _cancelled = true;
            callback();
        }, null), null, due, Timeout.InfiniteTimeSpan);
    }

    public static LoopTimer Start(AgentLoop loop, TimeSpan due, Action callback) => new(loop, due, callback);

    public void Cancel()
    {
        _cancelled = true;
        _timer.Dispose();
    }
}
