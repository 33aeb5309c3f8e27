using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace AgenticGateway.Limits;

/// <summary>
/// Rate-limit counters in this process: exact on one node. Each window has its own lock. A request takes the locks of
/// the windows its rules name, always in one global order (by window id), so "check all rules, then count in all" is
/// atomic, requests on unrelated keys never contend, and requests sharing windows cannot deadlock. Nothing inside the
/// locks awaits.
/// </summary>
internal sealed class MemoryRateLimitStore(TimeProvider time) : IRateLimitStore
{
    private const int MaxWindows = 200_000;
    private const long PruneCheckMs = 60_000;
    /// <summary>Windows a request may name without a heap array: three rules (rpm, tpm, tpd) each for key, user and team.</summary>
    private const int InlineWindows = 9;
    private readonly ConcurrentDictionary<string, Window> _windows = new(StringComparer.Ordinal);
    private long _nextWindowId;
    private long _lastPruneCheckMs;

    public ValueTask<LimitOutcome> AcquireAsync(IReadOnlyList<LimitRule> rules, long tokens, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var outcome = new LimitOutcome(rules.Count);
        MaybePrune(now);
        var inline = new WindowBuffer();
        var inlineOrder = new WindowBuffer();
        var byRule = rules.Count <= InlineWindows ? ((Span<Window>)inline)[..rules.Count] : new Window[rules.Count];
        var order = rules.Count <= InlineWindows ? ((Span<Window>)inlineOrder)[..rules.Count] : new Window[rules.Count];
        while (true)
        {
            var distinct = Lookup(rules, byRule, order);
            var held = 0;
            try
            {
                for (; held < distinct; held++) order[held].Gate.Enter();
                // A window pruned between the lookup and its lock is no longer the key's: look the keys up again.
                if (AnyRemoved(order[..distinct])) continue;
                Judge(rules, byRule, tokens, now, outcome);
                if (outcome.Refused >= 0) return ValueTask.FromResult(outcome);
                for (var i = 0; i < rules.Count; i++)
                {
                    var w = byRule[i];
                    w.Add(outcome.Bucket[i], rules[i].Tokens ? tokens : 1, now);
                    if (rules[i].Tokens) w.Pending += tokens;
                }
            }
            finally
            {
                for (var i = 0; i < held; i++) order[i].Gate.Exit();
            }
            outcome.Allowed = true;
            return ValueTask.FromResult(outcome);
        }
    }

    public ValueTask SettleAsync(LimitRule rule, long bucket, long minute, long reserved, long actual, CancellationToken cancellationToken)
    {
        // A window with a reservation in flight is never pruned, so the one found is the one that holds it.
        if (_windows.TryGetValue(rule.Key, out var w))
        {
            lock (w.Gate)
            {
                w.Correct(bucket, actual - reserved);
                w.Pending = Math.Max(0, w.Pending - reserved);
            }
        }
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Fills <paramref name="byRule"/> with each rule's window and <paramref name="order"/> with the distinct ones sorted
    /// by id (the lock order); returns how many are distinct.
    /// </summary>
    private int Lookup(IReadOnlyList<LimitRule> rules, Span<Window> byRule, Span<Window> order)
    {
        var distinct = 0;
        for (var i = 0; i < rules.Count; i++)
        {
            var w = byRule[i] = _windows.GetOrAdd(rules[i].Key, static (_, store) => new Window(Interlocked.Increment(ref store._nextWindowId)), this);
            // Insertion sort: a request names a handful of windows.
            var at = distinct;
            while (at > 0 && order[at - 1].Id > w.Id) at--;
            if (at > 0 && order[at - 1] == w) continue;
            order[at..distinct].CopyTo(order[(at + 1)..]);
            order[at] = w;
            distinct++;
        }
        return distinct;
    }

    private static bool AnyRemoved(ReadOnlySpan<Window> windows)
    {
        foreach (var w in windows)
        {
            if (w.Removed) return true;
        }
        return false;
    }

    /// <summary>Checks every rule against its window (all locked); the first that has no room refuses.</summary>
    private static void Judge(IReadOnlyList<LimitRule> rules, ReadOnlySpan<Window> byRule, long tokens, long now, LimitOutcome outcome)
    {
        for (var i = 0; i < rules.Count; i++)
        {
            var rule = rules[i];
            var w = byRule[i];
            var cur = now / rule.BucketMs;
            var used = w.Used(cur);
            var cost = rule.Tokens ? tokens : 1;
            outcome.Bucket[i] = cur;
            outcome.Remaining[i] = Math.Max(0, rule.Limit - used - cost);
            outcome.ResetMs[i] = w.ResetMs(cur, rule.BucketMs, now);
            var fits = used + cost <= rule.Limit || (rule.Tokens && w.Pending == 0 && used < rule.Limit);
            if (!fits && outcome.Refused < 0)
            {
                outcome.Refused = i;
                outcome.Remaining[i] = Math.Max(0, rule.Limit - used);
                outcome.RetryAfterMs = Math.Max(1, outcome.ResetMs[i]);
            }
        }
    }

    /// <summary>Over the bound, idle windows are dropped: the count is looked at once a minute, never scanned per request.</summary>
    private void MaybePrune(long now)
    {
        var last = Volatile.Read(ref _lastPruneCheckMs);
        if (now - last < PruneCheckMs || Interlocked.CompareExchange(ref _lastPruneCheckMs, now, last) != last) return;
        if (_windows.Count > MaxWindows) ThreadPool.UnsafeQueueUserWorkItem(static s => s.store.Prune(s.now), (store: this, now), preferLocal: false);
    }

    /// <summary>Drops windows with nothing in them any more, each under its own lock.</summary>
    internal void Prune(long now)
    {
        foreach (var (key, w) in _windows)
        {
            lock (w.Gate)
            {
                if (!w.Idle(now)) continue;
                w.Removed = true;
                _windows.TryRemove(new KeyValuePair<string, Window>(key, w));
            }
        }
    }

    [InlineArray(InlineWindows)]
    private struct WindowBuffer
    {
        private Window _first;
    }

    /// <summary>A ring of 61 buckets: the current one and the 60 before it (a bucket leaves once wholly outside the window).</summary>
    private sealed class Window(long id)
    {
        private const int Ring = LimitRule.Buckets + 1;
        private const long IdleMs = 2 * 86_400_000L;
        private readonly long[] _ids = new long[Ring];
        private readonly long[] _counts = new long[Ring];
        private long _lastTouchedMs;

        /// <summary>Where this window comes in the lock order.</summary>
        public long Id { get; } = id;

        /// <summary>Held while the window is read or counted in.</summary>
        public Lock Gate { get; } = new();

        /// <summary>Set (under <see cref="Gate"/>) when pruning took the window out of the map: it counts for no key any more.</summary>
        public bool Removed;

        /// <summary>Tokens reserved by requests still in flight (a token rule's; always 0 for request rules).</summary>
        public long Pending;

        public long Used(long cur)
        {
            long sum = 0;
            for (var i = 0; i < Ring; i++)
            {
                if (_ids[i] > cur - Ring && _ids[i] <= cur) sum += _counts[i];
            }
            return sum;
        }

        public void Add(long cur, long amount, long nowMs)
        {
            var slot = (int)(cur % Ring);
            if (_ids[slot] != cur) { _ids[slot] = cur; _counts[slot] = 0; }
            _counts[slot] += amount;
            _lastTouchedMs = nowMs;
        }

        public void Correct(long bucket, long delta)
        {
            var slot = (int)(bucket % Ring);
            if (_ids[slot] == bucket) _counts[slot] = Math.Max(0, _counts[slot] + delta);
        }

        /// <summary>Milliseconds until the oldest non-empty bucket leaves the window.</summary>
        public long ResetMs(long cur, long bucketMs, long now)
        {
            var oldest = long.MaxValue;
            for (var i = 0; i < Ring; i++)
            {
                if (_counts[i] > 0 && _ids[i] > cur - Ring && _ids[i] < oldest) oldest = _ids[i];
            }
            return oldest == long.MaxValue ? 0 : Math.Max(0, (oldest + Ring) * bucketMs - now);
        }

        public bool Idle(long nowMs) => Pending == 0 && nowMs - _lastTouchedMs > IdleMs;
    }
}
