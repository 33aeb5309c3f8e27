using System.Collections.Concurrent;
using AgenticGateway.Emulator;

namespace AgenticGateway.Tests.Emulator;

/// <summary>The count behind the emulator's signals (a request arrived, a request ended) that tests await instead of sleeping.</summary>
[Trait("Category", "unit")]
public class AwaitableCountTests
{
    [Fact]
    public async Task A_waiter_completes_when_the_count_reaches_its_target_and_not_before()
    {
        var count = new AwaitableCount();
        var second = count.WhenReachedAsync(2);
        count.Increment();
        Assert.False(second.IsCompleted);
        count.Increment();
        await second.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(count.WhenReachedAsync(1).IsCompleted); // already passed
        Assert.False(count.WhenReachedAsync(3).IsCompleted);
    }

    [Fact]
    public async Task Waiters_that_register_while_other_threads_count_all_complete()
    {
        var count = new AwaitableCount();
        var waiters = new ConcurrentBag<Task>();
        // Half the work items count, half wait for a value the count reaches around the same time.
        await Parallel.ForEachAsync(Enumerable.Range(0, 4000), (i, _) =>
        {
            if (i % 2 == 0) count.Increment();
            else waiters.Add(count.WhenReachedAsync(i / 2 + 1));
            return ValueTask.CompletedTask;
        });
        Assert.Equal(2000, count.Value);
        Assert.Equal(2000, waiters.Count);
        await Task.WhenAll(waiters).WaitAsync(TimeSpan.FromSeconds(10));
    }
}
