using AgenticGateway.Limits;

namespace AgenticGateway.Tests.Limits;

/// <summary>
/// The in-process rate-limit store under concurrency: requests whose rule sets overlap (named in any order) neither
/// deadlock nor lose a count, a refused request counts nowhere, and reservations settle exactly.
/// </summary>
[Trait("Category", "unit")]
public class MemoryRateLimitStoreTests
{
    private const long Minute = 60_000;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private static LimitRule Requests(string key, long limit) => new(key, key, limit, Minute, false);

    private static LimitRule Tokens(string key, long limit) => new(key, key, limit, Minute, true);

    [Fact]
    public async Task Overlapping_rule_sets_in_any_order_admit_exactly_the_shared_limit_and_count_only_the_admitted()
    {
        var store = new MemoryRateLimitStore(new FixedTime());
        const long shared = 3000;
        // Each set names the shared window and others in a different order: locks taken in rule order would deadlock.
        LimitRule[][] sets =
        [
            [Requests("s", shared), Requests("x", long.MaxValue)],
            [Requests("x", long.MaxValue), Requests("s", shared)],
            [Requests("y", long.MaxValue), Requests("x", long.MaxValue), Requests("s", shared)],
            [Requests("s", shared), Requests("y", long.MaxValue)],
        ];
        var admitted = new int[sets.Length];
        await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(async () =>
        {
            for (var i = 0; i < 750; i++)
            {
                var set = (t + i) % sets.Length;
                if ((await store.AcquireAsync(sets[set], 0, CancellationToken.None)).Allowed) Interlocked.Increment(ref admitted[set]);
            }
        }))).WaitAsync(Deadline);

        Assert.Equal(shared, admitted.Sum());
        // x and y counted exactly the admitted requests that named them (refused ones counted nowhere).
        await AssertCountAsync(store, "x", admitted[0] + admitted[1] + admitted[2]);
        await AssertCountAsync(store, "y", admitted[2] + admitted[3]);
        Assert.False((await store.AcquireAsync([Requests("s", shared)], 0, CancellationToken.None)).Allowed);
    }

    [Fact]
    public async Task Unrelated_keys_each_admit_exactly_their_limit_in_parallel()
    {
        var store = new MemoryRateLimitStore(new FixedTime());
        var admitted = new int[16];
        await Task.WhenAll(Enumerable.Range(0, 16).Select(k => Task.Run(async () =>
        {
            for (var i = 0; i < 600; i++)
            {
                if ((await store.AcquireAsync([Requests($"key:{k}:rpm", 500), Tokens($"key:{k}:tpm", long.MaxValue)], 1, CancellationToken.None)).Allowed)
                    admitted[k]++;
            }
        }))).WaitAsync(Deadline);
        Assert.All(admitted, a => Assert.Equal(500, a));
    }

    [Fact]
    public async Task Reservations_settled_from_many_threads_leave_the_exact_usage_and_nothing_in_flight()
    {
        var store = new MemoryRateLimitStore(new FixedTime());
        var rule = Tokens("key:k:tpm", 1_000_000_000);
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < 500; i++)
            {
                var outcome = await store.AcquireAsync([rule], 100, CancellationToken.None);
                Assert.True(outcome.Allowed);
                await store.SettleAsync(rule, outcome.Bucket[0], outcome.Minute, 100, 40, CancellationToken.None);
            }
        }))).WaitAsync(Deadline);

        const long used = 8 * 500 * 40;
        var check = await store.AcquireAsync([rule], 100, CancellationToken.None);
        Assert.Equal(rule.Limit - used - 100, check.Remaining[0]);
        await store.SettleAsync(rule, check.Bucket[0], check.Minute, 100, 0, CancellationToken.None);
        // Nothing in flight: a lone request larger than what remains is let through while the window is below its limit.
        Assert.True((await store.AcquireAsync([Tokens("key:k:tpm", used + 1)], 100, CancellationToken.None)).Allowed);
    }

    [Fact]
    public async Task Pruning_while_requests_count_loses_no_count()
    {
        var clock = new FixedTime();
        var store = new MemoryRateLimitStore(clock);
        using var stop = new CancellationTokenSource();
        // Pruning without pause: a window is idle from its creation until its first count, so it may be pruned
        // between a request's lookup and its count. A count that went into a pruned window would be lost, and the
        // key's next request admitted over the limit.
        var pruner = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested) store.Prune(clock.GetUtcNow().ToUnixTimeMilliseconds());
        });
        var overLimit = 0;
        try
        {
            for (var batch = 0; batch < 500; batch++)
            {
                for (var i = 0; i < 100; i++)
                {
                    var rule = Requests($"key:{batch}-{i}:rpm", 1);
                    Assert.True((await store.AcquireAsync([rule], 0, CancellationToken.None)).Allowed);
                    if ((await store.AcquireAsync([rule], 0, CancellationToken.None)).Allowed) overLimit++;
                }
                // The batch's windows go idle and are pruned, so the map stays small and the pruner fast.
                clock.Advance(TimeSpan.FromDays(3));
            }
        }
        finally
        {
            await stop.CancelAsync();
            await pruner.WaitAsync(Deadline);
        }
        Assert.Equal(0, overLimit);
    }

    /// <summary>The window counts exactly <paramref name="count"/>: a limit of count + 1 has room for one more, then none.</summary>
    private static async Task AssertCountAsync(MemoryRateLimitStore store, string key, long count)
    {
        Assert.True((await store.AcquireAsync([Requests(key, count + 1)], 0, CancellationToken.None)).Allowed, $"{key} counted more than {count}");
        Assert.False((await store.AcquireAsync([Requests(key, count + 1)], 0, CancellationToken.None)).Allowed, $"{key} counted fewer than {count}");
    }

    private sealed class FixedTime : TimeProvider
    {
        // Ticks, read and moved atomically: the pruner reads the clock from another thread.
        private long _ticks = new DateTimeOffset(2026, 12, 1, 12, 0, 30, TimeSpan.Zero).UtcTicks;

        public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

        public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
    }
}
