using System.Collections.Concurrent;
using AgenticGateway.Sandboxes.Protocol;

namespace AgenticGateway.Sandboxes;

/// <summary>
/// Ready sandboxes per runtime (seed 000's SandboxPoolConfig): agent up, interpreter started, nobody's yet. Taking one
/// costs a dequeue; a background loop refills the pool, replaces sandboxes idle longer than idle_timeout and drops any
/// that stop answering. A pooled sandbox goes to one owner and is destroyed after, never returned.
/// </summary>
internal sealed class SandboxPool(
    SandboxOptions options,
    Func<string, CancellationToken, Task<ISandboxInstance>> start,
    SandboxCounts counts,
    Action<string, ISandboxInstance, string> discard,
    TimeProvider time,
    ILogger logger)
{
    /// <summary>
    /// How long a take leaves the refill, so that the taking request's answer is written before the next sandbox's
    /// start (bwrap, agent and interpreter: tens of ms of CPU) competes with it for the cores. Real time, not the
    /// injected clock: a scheduling grace, not a lifetime. On 2 cores a take with the refill started at once took
    /// 1.8 ms at p50, 0.7 ms with none started (bench/README.md, "Sandboxes").
    /// </summary>
    private static readonly TimeSpan RefillAfterTake = TimeSpan.FromMilliseconds(20);

    private readonly ConcurrentDictionary<string, ConcurrentQueue<Warm>> _ready = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _wake = new(0, int.MaxValue);

    private sealed record Warm(ISandboxInstance Instance, DateTimeOffset ReadySince);

    public int Ready(string runtime) => _ready.TryGetValue(runtime, out var q) ? q.Count : 0;

    /// <summary>A ready sandbox of this runtime, or null when the pool is empty (the caller then starts one cold).</summary>
    public ISandboxInstance? TryTake(string runtime)
    {
        if (!_ready.TryGetValue(runtime, out var queue)) return null;
        while (queue.TryDequeue(out var warm))
        {
            if (!warm.Instance.Exited.IsCompleted)
            {
                _ = NudgeAfterAsync(RefillAfterTake);
                return warm.Instance;
            }
            Nudge();
            discard(runtime, warm.Instance, "unhealthy");
        }
        return null;
    }

    private async Task NudgeAfterAsync(TimeSpan delay)
    {
        await Task.Delay(delay).ConfigureAwait(false);
        Nudge();
    }

    public void Nudge()
    {
        if (_wake.CurrentCount == 0) _wake.Release();
    }

    public async Task RunAsync(CancellationToken stopping)
    {
        var lastCheck = time.GetUtcNow();
        while (!stopping.IsCancellationRequested)
        {
            foreach (var (runtime, pool) in options.Pools)
            {
                var queue = _ready.GetOrAdd(runtime, _ => new ConcurrentQueue<Warm>());
                // One start at a time per runtime: filling must not starve the requests this pool exists to serve.
                if (queue.Count < pool.MinReady && counts.TryReserve(runtime, pool.MaxTotal))
                {
                    try
                    {
                        var instance = await start(runtime, stopping);
                        queue.Enqueue(new Warm(instance, time.GetUtcNow()));
                    }
                    catch (OperationCanceledException) when (stopping.IsCancellationRequested) { counts.Release(runtime); return; }
                    catch (Exception ex)
                    {
                        counts.Release(runtime);
                        SandboxLog.PoolFillFailed(logger, runtime, ex.Message);
                        await DelayAsync(TimeSpan.FromSeconds(2), stopping);
                    }
                }
            }
            var now = time.GetUtcNow();
            if (now - lastCheck > TimeSpan.FromSeconds(10))
            {
                lastCheck = now;
                await CheckAsync(now, stopping);
            }
            if (options.Pools.All(p => Ready(p.Key) >= p.Value.MinReady)) await WaitAsync(TimeSpan.FromSeconds(1), stopping);
        }
    }

    /// <summary>Replaces idle sandboxes and drops those whose agent no longer answers a ping within a second.</summary>
    private async Task CheckAsync(DateTimeOffset now, CancellationToken stopping)
    {
        foreach (var (runtime, queue) in _ready)
        {
            var idle = options.Pools.TryGetValue(runtime, out var p) ? p.IdleTimeout : TimeSpan.FromMinutes(10);
            for (var n = queue.Count; n > 0 && queue.TryDequeue(out var warm); n--)
            {
                if (now - warm.ReadySince > idle) { discard(runtime, warm.Instance, "idle"); continue; }
                var healthy = !warm.Instance.Exited.IsCompleted;
                if (healthy)
                {
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping);
                    timeout.CancelAfter(TimeSpan.FromSeconds(1));
                    try { await warm.Instance.Agent.CallAsync(AgentOps.Ping, null, timeout.Token); }
                    catch (Exception ex) when (ex is OperationCanceledException or Agent.AgentException) { healthy = false; }
                }
                if (healthy) queue.Enqueue(warm);
                else discard(runtime, warm.Instance, "unhealthy");
            }
        }
    }

    /// <summary>Every pooled sandbox, for shutdown.</summary>
    public IEnumerable<(string Runtime, ISandboxInstance Instance)> Drain()
    {
        foreach (var (runtime, queue) in _ready)
            while (queue.TryDequeue(out var warm)) yield return (runtime, warm.Instance);
    }

    private async Task WaitAsync(TimeSpan delay, CancellationToken stopping)
    {
        try { await _wake.WaitAsync(delay, stopping); } catch (OperationCanceledException) { }
    }

    private static async Task DelayAsync(TimeSpan delay, CancellationToken stopping)
    {
        try { await Task.Delay(delay, stopping); } catch (OperationCanceledException) { }
    }
}

/// <summary>Sandboxes alive per runtime (pooled, starting and in use), held under each pool's max_total.</summary>
internal sealed class SandboxCounts
{
    private readonly ConcurrentDictionary<string, int> _alive = new(StringComparer.Ordinal);

    public bool TryReserve(string runtime, int max)
    {
        while (true)
        {
            var current = _alive.GetOrAdd(runtime, 0);
            if (current >= max) return false;
            if (_alive.TryUpdate(runtime, current + 1, current)) return true;
        }
    }

    public void Release(string runtime) => _alive.AddOrUpdate(runtime, 0, (_, v) => Math.Max(0, v - 1));

    public int Alive(string runtime) => _alive.TryGetValue(runtime, out var v) ? v : 0;
}
