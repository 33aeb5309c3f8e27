using System.Runtime.CompilerServices;
using AgenticGateway.Keys;
using AgenticGateway.OpenAi;
using AgenticGateway.Spend;
using AgenticGateway.Pricing;

namespace AgenticGateway.Limits;

/// <summary>
/// The budgets of a key, its user and its team: a request reserves its worst-case cost against each before it runs and
/// settles to its real cost when it ends (see <see cref="IBudgetCounters"/> for the admission rule). Counters are shared
/// through Redis when it is configured and reachable; otherwise (or when it fails) this node's own counters are used.
/// </summary>
internal sealed class Budgets(MemoryBudgetCounters memory, SpendStore spend, BudgetAlerts alerts, TimeProvider time, RedisConnection? redis = null)
{
    private readonly RedisBudgetCounters? _shared = redis is null ? null : new RedisBudgetCounters(redis);

    /// <summary>Reserves <paramref name="cost"/> against every budget that binds the caller; null when none does.</summary>
    /// <param name="proxy">The global proxy budget (LiteLLM's litellm_settings.max_budget), when one is configured.</param>
    public async ValueTask<(Hold? Hold, ApiError? Refused)> ReserveAsync(Caller caller, decimal cost, CancellationToken ct, ProxyBudget? proxy = null)
    {
        var nanos = Money.ToNanos(cost);
        List<(string Counter, ILimitHolder Holder, IBudgetCounters Store, long Minute)>? held = null;
        BudgetStanding? tightest = null;
        var now = time.GetUtcNow();
        try
        {
            foreach (var h in proxy is null ? caller.LimitHolders() : caller.LimitHolders().Append(proxy))
            {
                if (h.Limits.MaxBudget is not { } max) continue;
                var (start, end) = BudgetPeriod.Current(h.Limits.BudgetDuration, h.CreatedAt, now);
                var counter = CounterName(h, start);
                var lifetime = end is { } e ? e - now + TimeSpan.FromHours(1) : TimeSpan.FromDays(400);
                var (reservation, store) = await ReserveAsync(counter, h, start, lifetime, Money.ToNanos(max), nanos, ct);
                if (reservation.Verdict == BudgetVerdict.Reserved)
                {
                    (held ??= []).Add((counter, h, store, reservation.Minute));
                    var remaining = max - Money.FromNanos(reservation.SpentNanos);
                    if (tightest is null || remaining < tightest.Value.Remaining) tightest = new BudgetStanding(remaining, Money.FromNanos(reservation.SpentNanos), max);
                    continue;
                }
                var refused = Refusal(h, max, end, reservation, cost);
                if (held is not null) await SettleAsync(new Hold(held, nanos), 0);
                held = null;
                return (null, refused);
            }
            return (held is null ? null : new Hold(held, nanos) { Standing = tightest }, null);
        }
        catch when (held is not null)
        {
            await SettleAsync(new Hold(held, nanos), 0);
            throw;
        }
    }

    // The counter of a holder's current budget period: the same string for every request of the period (holders are
    // immutable records; a changed one is a new object), so it is made once per period, not per request.
    private static readonly ConditionalWeakTable<ILimitHolder, StrongBox<PeriodCounter>> Counters = new();

    private static string CounterName(ILimitHolder h, DateTimeOffset start)
    {
        var box = Counters.GetValue(h, static _ => new StrongBox<PeriodCounter>(new PeriodCounter(DateTimeOffset.MaxValue, "")));
        // One immutable object swapped whole: a racing reader sees the old period's pair or the new one's, never a mix.
        var current = Volatile.Read(ref box.Value!);
        if (current.Start == start) return current.Name;
        var name = $"{h.Scope}:{h.Id}:{(start == DateTimeOffset.MinValue ? 0 : start.ToUnixTimeSeconds())}";
        Volatile.Write(ref box.Value, new PeriodCounter(start, name));
        return name;
    }

    private sealed record PeriodCounter(DateTimeOffset Start, string Name);

    /// <summary>Replaces the reservations by the real cost (0 gives them back), and checks the alert thresholds.</summary>
    public async ValueTask SettleAsync(Hold hold, long costNanos)
    {
        foreach (var (counter, holder, store, minute) in hold.Counters)
        {
            long? now;
            try { now = await store.SettleAsync(counter, minute, hold.ReservedNanos, costNanos, CancellationToken.None); }
            catch (Exception ex) when (LimitHolders.IsRedisFailure(ex))
            {
                // The cost still counts on this node while Redis is away (the reservation there expires on its own).
                redis!.MarkDown(ex);
                now = await memory.SettleAsync(counter, 0, 0, costNanos, CancellationToken.None);
            }
            if (now is { } after && costNanos != 0) alerts.Check(holder, after - costNanos, after);
        }
    }

    private static ApiError Refusal(ILimitHolder h, decimal max, DateTimeOffset? end, BudgetReservation reservation, decimal cost)
    {
        var spent = Money.FromNanos(reservation.SpentNanos);
        if (reservation.Verdict == BudgetVerdict.Exceeded)
        {
            var reset = end is { } r ? $" The budget resets at {r:O}." : "";
            // LiteLLM's wording leads (its scripts and tests match on it), then ours names whose budget it is.
            var lead = h is VirtualKey
                ? $"ExceededTokenBudget: Current spend for token: {spent:0.######}; Max Budget for Token: {max:0.######}."
                : $"Budget has been exceeded! Current cost: {spent:0.######}, Max budget: {max:0.######}.";
            return new ApiError(400, $"{lead} Budget exceeded for {LimitHolders.Describe(h)}: spent ${spent:0.######} of ${max:0.######}.{reset}", "budget_exceeded", "budget_exceeded");
        }
        // Room is left, but requests in flight hold it: a retry once they end may well be admitted.
        var mayCost = cost > 0 ? $" (this request may cost up to ${cost:0.######})" : "";
        return new ApiError(429, $"Budget of {LimitHolders.Describe(h)} is held by requests in flight: spent ${spent:0.######} of ${max:0.######}, "
            + $"${Money.FromNanos(reservation.ReservedNanos):0.######} reserved{mayCost}. Try again when they finish.", "budget_exceeded", "budget_in_flight") { RetryAfterSeconds = 1 };
    }

    private async ValueTask<(BudgetReservation Reservation, IBudgetCounters Store)> ReserveAsync(string counter, ILimitHolder h, DateTimeOffset start, TimeSpan lifetime,
        long maxNanos, long costNanos, CancellationToken ct)
    {
        Func<CancellationToken, Task<long>> load = c => spend.SpendSinceAsync(h, start, c);
        var shared = _shared is not null && redis!.IsUp;
        IBudgetCounters store = shared ? _shared! : memory;
        try
        {
            return (await store.ReserveAsync(counter, load, lifetime, maxNanos, costNanos, ct), store);
        }
        catch (Exception ex) when (shared && LimitHolders.IsRedisFailure(ex))
        {
            redis!.MarkDown(ex);
            return (await memory.ReserveAsync(counter, load, lifetime, maxNanos, costNanos, ct), memory);
        }
    }

    /// <summary>The budget counters (key, user, team) holding a request's reservation: whose, where, since which minute.</summary>
    public sealed record Hold(List<(string Counter, ILimitHolder Holder, IBudgetCounters Store, long Minute)> Counters, long ReservedNanos)
    {
        /// <summary>The budget with the least left when the request was admitted (routing policies' cost_budget_remaining).</summary>
        public BudgetStanding? Standing { get; init; }
    }
}

/// <summary>Where one budget stood when a request was admitted: what is left of it (before this request), spent and the maximum, in dollars.</summary>
internal readonly record struct BudgetStanding(decimal Remaining, decimal Spent, decimal Max);
