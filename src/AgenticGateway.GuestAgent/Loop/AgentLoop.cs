using System.Collections.Concurrent;
using AgenticGateway.GuestAgent.Native;

namespace AgenticGateway.GuestAgent.Loop;

/// <summary>
/// The agent's one event-loop thread: an epoll set (interpreter pipes, process pidfds, ptys, the transport's fd) plus a
/// <see cref="SynchronizationContext"/>, so every <c>await</c> of the agent's request handling resumes here. All mutable
/// state of contexts and processes is owned by this thread and needs no locks, and an execution's round trip (request
/// line, control pipe, result channel, done event) runs without a thread hand-off: readiness completes the awaiting
/// code inline. Timers are the loop's own (the epoll_wait timeout), not System.Threading's, whose callbacks run on the
/// thread pool: the agent must never need a thread it did not create at start, because the sandbox's process limit
/// counts threads, and the .NET 10 pool dies of an unhandled OutOfMemoryException when it cannot add a worker (see
/// <see cref="AgentThreads"/>). Other threads (file ops, the event writer) come back through <see cref="Post"/>.
/// </summary>
internal sealed unsafe class AgentLoop : SynchronizationContext
{
    private const ulong WakeToken = ulong.MaxValue;
    private readonly int _epoll;
    private readonly int _wake;
    private readonly ConcurrentQueue<(SendOrPostCallback, object?)> _queue = new();
    private readonly Dictionary<int, Registration> _fds = [];
    private readonly PriorityQueue<LoopTimer, long> _timers = new();
    private int _signalled;
    private Thread? _thread;

    public AgentLoop()
    {
        _epoll = Libc.epoll_create1(Libc.O_CLOEXEC);
        if (_epoll < 0) throw ErrnoExceptionFor("epoll_create1");
        _wake = Libc.eventfd(0, Libc.O_CLOEXEC | Libc.O_NONBLOCK);
        if (_wake < 0) throw ErrnoExceptionFor("eventfd");
        var ev = new Libc.EpollEvent { Events = Libc.EPOLLIN, Data = WakeToken };
        Libc.epoll_ctl(_epoll, Libc.EPOLL_CTL_ADD, _wake, &ev);
    }

    public bool IsLoopThread => Thread.CurrentThread == _thread;

    public override void Post(SendOrPostCallback d, object? state)
    {
        _queue.Enqueue((d, state));
        if (Interlocked.Exchange(ref _signalled, 1) == 0)
        {
            ulong one = 1;
            Libc.write(_wake, (byte*)&one, 8);
        }
    }

    public override void Send(SendOrPostCallback d, object? state) => throw new NotSupportedException();

    public override SynchronizationContext CreateCopy() => this;

    /// <summary>Runs <paramref name="action"/> on the loop thread (at once when called there).</summary>
    public void Run(Action action)
    {
        if (IsLoopThread) action();
        else Post(static s => ((Action)s!)(), action);
    }

    /// <summary>Completes when <paramref name="fd"/> is readable (or at end-of-file, hang-up or error). Loop thread only.</summary>
    public Task WaitReadableAsync(int fd) => Wait(fd, write: false);

    /// <summary>Completes when <paramref name="fd"/> is writable (or broken). Loop thread only.</summary>
    public Task WaitWritableAsync(int fd) => Wait(fd, write: true);

    private Task Wait(int fd, bool write)
    {
        if (!_fds.TryGetValue(fd, out var reg))
        {
            reg = new Registration();
            _fds[fd] = reg;
        }
        ref var slot = ref write ? ref reg.Writer : ref reg.Reader;
        slot ??= new TaskCompletionSource();
        var task = slot.Task;
        Arm(fd, reg);
        return task;
    }

    private void Arm(int fd, Registration reg)
    {
        var mask = (reg.Reader is null ? 0 : Libc.EPOLLIN) | (reg.Writer is null ? 0 : Libc.EPOLLOUT);
        if (mask == reg.Mask) return;
        var ev = new Libc.EpollEvent { Events = mask, Data = (ulong)fd };
        var op = reg.Mask == 0 && !reg.Added ? Libc.EPOLL_CTL_ADD : Libc.EPOLL_CTL_MOD;
        if (Libc.epoll_ctl(_epoll, op, fd, &ev) < 0)
        {
            // Not pollable (a regular file): always ready.
            reg.Reader?.TrySetResult();
            reg.Writer?.TrySetResult();
            reg.Reader = reg.Writer = null;
            return;
        }
        reg.Added = true;
        reg.Mask = mask;
    }

    /// <summary>
    /// Drops <paramref name="fd"/> from the set before it is closed; whoever waits on it wakes up, but only after the
    /// caller is done: a waiter resumed inline could re-register the fd (or read and close it) in the middle of the
    /// caller's teardown, leaving a stale registration for the next descriptor with that number.
    /// </summary>
    public void Forget(int fd)
    {
        if (!_fds.Remove(fd, out var reg)) return;
        if (reg.Added) Libc.epoll_ctl(_epoll, Libc.EPOLL_CTL_DEL, fd, null);
        var (reader, writer) = (reg.Reader, reg.Writer);
        if (reader is not null || writer is not null)
            Post(_ => { reader?.TrySetResult(); writer?.TrySetResult(); }, null);
    }

    /// <summary>Arms <paramref name="timer"/> for <paramref name="due"/> from now. Loop thread only.</summary>
    internal void Schedule(LoopTimer timer, TimeSpan due) =>
        _timers.Enqueue(timer, Environment.TickCount64 + Math.Max(0, (long)Math.Ceiling(due.TotalMilliseconds)));

    /// <summary>Completes on the loop after <paramref name="due"/> (Task.Delay without the runtime's timer thread). Loop thread only.</summary>
    public Task Delay(TimeSpan due)
    {
        var done = new TaskCompletionSource();
        LoopTimer.Start(this, due, () => done.TrySetResult());
        return done.Task;
    }

    /// <summary>Fires the timers that are due; returns the epoll_wait timeout until the next one (-1: none).</summary>
    private int RunTimers()
    {
        while (_timers.TryPeek(out var timer, out var due))
        {
            var now = Environment.TickCount64;
            if (due > now) return (int)Math.Min(due - now, int.MaxValue);
            _timers.Dequeue();
            try { timer.Fire(); }
            catch (Exception e) { AgentLog.Write($"timer failed: {e}"); }
        }
        return -1;
    }

    /// <summary>
    /// Makes the calling thread the loop's before it runs (<see cref="RunForever"/> must then be called on it): work set up
    /// in between, such as an interpreter started at launch, awaits on the loop as if it had been posted there.
    /// </summary>
    public void Enter()
    {
        _thread = Thread.CurrentThread;
        SetSynchronizationContext(this);
    }

    /// <summary>Runs the loop on the calling thread until the process exits.</summary>
    public void RunForever()
    {
        Enter();
        const int max = 64;
        var events = stackalloc Libc.EpollEvent[max];
        while (true)
        {
            Drain();
            var timeout = RunTimers();
            var n = Libc.epoll_wait(_epoll, events, max, _queue.IsEmpty ? timeout : 0);
            if (n < 0)
            {
                if (Libc.Errno == Libc.EINTR) continue;
                throw ErrnoExceptionFor("epoll_wait");
            }
            for (var i = 0; i < n; i++)
            {
                var data = events[i].Data;
                if (data == WakeToken)
                {
                    ulong value;
                    Libc.read(_wake, (byte*)&value, 8);
                    continue;
                }
                var fd = (int)data;
                if (!_fds.TryGetValue(fd, out var reg)) continue;
                var got = events[i].Events;
                var broken = (got & (Libc.EPOLLHUP | Libc.EPOLLERR)) != 0;
                TaskCompletionSource? reader = null, writer = null;
                if (reg.Reader is not null && (broken || (got & Libc.EPOLLIN) != 0)) { reader = reg.Reader; reg.Reader = null; }
                if (reg.Writer is not null && (broken || (got & Libc.EPOLLOUT) != 0)) { writer = reg.Writer; reg.Writer = null; }
                Arm(fd, reg);
                Invoke(reader);
                Invoke(writer);
            }
        }
    }

    private static void Invoke(TaskCompletionSource? tcs)
    {
        if (tcs is null) return;
        try { tcs.TrySetResult(); }
        catch (Exception e) { AgentLog.Write($"callback failed: {e}"); }
    }

    private void Drain()
    {
        Volatile.Write(ref _signalled, 0);
        while (_queue.TryDequeue(out var item))
        {
            try { item.Item1(item.Item2); }
            catch (Exception e) { AgentLog.Write($"callback failed: {e}"); }
        }
    }

    private static Exception ErrnoExceptionFor(string what) => Protocol.ErrnoException.Last(what);

    private sealed class Registration
    {
        public TaskCompletionSource? Reader;
        public TaskCompletionSource? Writer;
        public uint Mask;
        public bool Added;
    }
}
