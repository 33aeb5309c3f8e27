using System.Collections.Concurrent;

namespace AgenticGateway.Emulator;

/// <summary>
/// A count that can be awaited to reach a value: tests wait for "the emulator has the request" instead of sleeping.
/// Counting costs one interlocked add while nobody waits.
/// </summary>
internal sealed class AwaitableCount
{
    private readonly ConcurrentDictionary<long, TaskCompletionSource> _waiters = new();
    private long _value;

    public long Value => Interlocked.Read(ref _value);

    public long Increment()
    {
        var value = Interlocked.Increment(ref _value);
        if (!_waiters.IsEmpty && _waiters.TryRemove(value, out var waiter)) waiter.TrySetResult();
        return value;
    }

    /// <summary>Completes once the count has reached <paramref name="target"/> (at once if it already has).</summary>
    public Task WhenReachedAsync(long target)
    {
        if (Value >= target) return Task.CompletedTask;
        var waiter = _waiters.GetOrAdd(target, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        // The count may have passed the target between the first look and the registration.
        if (Value >= target && _waiters.TryRemove(target, out var passed)) passed.TrySetResult();
        return waiter.Task;
    }
}
