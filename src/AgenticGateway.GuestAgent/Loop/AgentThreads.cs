namespace AgenticGateway.GuestAgent.Loop;

/// <summary>
/// Threads the agent creates at start and keeps: it must never need a new one later. The sandbox's process limit
/// (cgroup pids.max) counts threads, and user code can take every pid there is (a fork bomb, 250 sleeps). A thread the
/// runtime creates on demand then fails, and the runtime does not survive that: the .NET 10 thread pool lets the
/// OutOfMemoryException of a worker it could not add go unhandled (seen as the agent dying on a context restart that
/// killed 250 processes: their SIGCHLDs queued pool work), its timers fire through the pool, and a
/// PosixSignalRegistration handler runs on the pool or a new thread. So the agent uses none of them: its loop keeps
/// its own timers and reads signals from a signalfd, and the work it does off the loop goes to these threads.
/// </summary>
internal sealed class AgentThreads
{
    private readonly Queue<Action> _work = new();
    private readonly object _lock = new();

    /// <param name="name">The threads' name (in /proc/PID/task/*/comm).</param>
    /// <param name="count">How many: the work items run in order of arrival, <paramref name="count"/> at a time.</param>
    public AgentThreads(string name, int count)
    {
        for (var i = 0; i < count; i++)
            new Thread(Run) { IsBackground = true, Name = name }.Start();
    }

    public void Queue(Action work)
    {
        lock (_lock)
        {
            _work.Enqueue(work);
            Monitor.Pulse(_lock);
        }
    }

    private void Run()
    {
        while (true)
        {
            Action work;
            lock (_lock)
            {
                while (!_work.TryDequeue(out work!)) Monitor.Wait(_lock);
            }
            try { work(); }
            catch (Exception e) { AgentLog.Write($"work item failed: {e}"); }
        }
    }
}
