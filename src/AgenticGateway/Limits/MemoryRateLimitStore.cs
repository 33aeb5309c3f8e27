using System.Collections.Concurrent;

namespace AgenticGateway.Limits;

/// <summary>
/// Rate-limit counters in this process: exact on one node. One short lock makes "check all rules, then count in all"
/// atomic; nothing inside it awaits.
/// </summary>
internal sealed class MemoryRateLimitStore(TimeProvider time) : IRateLimitStore
{
    private const int MaxWindows = 200_000;
    private readonly ConcurrentDictionary<string, Window> _windows = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private long _lastPruneMs;

    public ValueTask<LimitOutcome> AcquireAsync(IReadOnlyList<LimitRule> rules, long tokens, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var outcome = new LimitOutcome(rules.Count);
        // Over the bound, drop idle windows, at most once a minute: never a scan per request.
        if (_windows.Count > MaxWindows && now - Interlocked.Read(ref _lastPruneMs) > 60_000)
        {
            Interlocked.Exchange(ref _lastPruneMs, now);
            Prune(now);
        }
        lock (_lock)
        {
            for (var i = 0; i < rules.Count; i++)
            {
                var rule = rules[i];
                var w = _windows.GetOrAdd(rule.Key, _ => new Window());
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
            if (outcome.Refused >= 0) return ValueTask.FromResult(outcome);
            for (var i = 0; i < rules.Count; i++)
            {
                var w = _windows[rules[i].Key];
                w.Add(outcome.Bucket[i], rules[i].Tokens ? tokens : 1);
                if (rules[i].Tokens) w.Pending += tokens;
            }
        }
        outcome.Allowed = true;
        return ValueTask.FromResult(outcome);
    }

    public ValueTask SettleAsync(LimitRule rule, long bucket, long minute, long reserved, long actual, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_windows.TryGetValue(rule.Key, out var w))
            {
                w.Correct(bucket, actual - reserved);
                w.Pending = Math.Max(0, w.Pending - reserved);
            }
        }
        return ValueTask.CompletedTask;
    }

    /// <summary>Drops windows with nothing in them any more.</summary>
    private void Prune(long now)
    {
        lock (_lock)
        {
            foreach (var (key, w) in _windows)
            {
                if (w.Idle(now)) _windows.TryRemove(key, out _);
            }
        }
    }

    /// <summary>A ring of 61 buckets: the current one and the 60 before it (a bucket leaves once wholly outside the window).</summary>
    private sealed class Window
    {
        private const int Ring = LimitRule.Buckets + 1;
        private readonly long[] _ids = new long[Ring];
        private readonly long[] _counts = new long[Ring];
        private long _lastTouchedMs;

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

        public void Add(long cur, long amount)
        {
            var slot = (int)(cur % Ring);
            if (_ids[slot] != cur) { _ids[slot] = cur; _counts[slot] = 0; }
            _counts[slot] += amount;
            _lastTouchedMs = Environment.TickCount64;
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

        public bool Idle(long nowMs) => Pending == 0 && Environment.TickCount64 - _lastTouchedMs > 2 * 86_400_000L;
    }
}
