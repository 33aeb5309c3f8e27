using System.Collections.Concurrent;
using AgenticGateway.Keys;
using AgenticGateway.OpenAi;

namespace AgenticGateway.Limits;

/// <summary>
/// <c>max_parallel_requests</c> of a key, its user and its team, counted on this node (LiteLLM counts per instance too):
/// a request holds a slot in each that limits parallelism until it ends.
/// </summary>
internal sealed class ParallelRequests
{
    private readonly ConcurrentDictionary<string, Slot> _slots = new(StringComparer.Ordinal);

    /// <summary>Takes a slot in every holder that limits parallelism; null when none does.</summary>
    public (Hold? Hold, ApiError? Refused) Acquire(Caller caller)
    {
        List<Slot>? held = null;
        foreach (var h in caller.LimitHolders())
        {
            if (h.Limits.MaxParallelRequests is not { } max) continue;
            var slot = _slots.GetOrAdd($"{h.Scope}:{h.Id}", static _ => new Slot());
            if (Interlocked.Increment(ref slot.InUse) > max)
            {
                Interlocked.Decrement(ref slot.InUse);
                if (held is not null) Release(new Hold(held));
                return (null, new RateLimitRefusal(429, $"Too many parallel requests for {h.Scope} {LimitHolders.Display(h)}: max_parallel_requests is {max}.",
                    "rate_limit_error", "max_parallel_requests", h.Scope, "parallel"));
            }
            (held ??= []).Add(slot);
        }
        return (held is null ? null : new Hold(held), null);
    }

    public static void Release(Hold hold)
    {
        foreach (var slot in hold.Slots) Interlocked.Decrement(ref slot.InUse);
    }

    /// <summary>The slots a request holds.</summary>
    public sealed record Hold(List<Slot> Slots);

    public sealed class Slot { public int InUse; }
}
