using System.Collections.Concurrent;
using System.Globalization;
using AgenticGateway.Keys;
using AgenticGateway.OpenAi;
using AgenticGateway.Spend;

namespace AgenticGateway.Limits;

/// <summary>What a request took at admission, given back when it ends.</summary>
internal sealed class AdmissionTicket
{
    public required List<ILimitHolder> Holders { get; init; }
    public List<LimitRule> Rules { get; } = [];
    public long[] Buckets { get; set; } = [];
    /// <summary>The minute the token reservation was held in (where the store settles it).</summary>
    public long LimitMinute { get; set; }
    /// <summary>The store the rules were counted in: token counts are settled there, whatever Redis does meanwhile.</summary>
    public IRateLimitStore? LimitStore { get; set; }
    /// <summary>Tokens reserved against token rules: the request's worst case.</summary>
    public long ReservedTokens { get; init; }
    /// <summary>Nano-dollars reserved against each budget: the request's worst-case cost.</summary>
    public long ReservedNanos { get; init; }
    public int ParallelHeld { get; set; }
    /// <summary>Budget counters (key, user, team) holding this request's reservation: whose, where, and since which minute.</summary>
    public List<(string Counter, ILimitHolder Holder, IBudgetCounters Store, long Minute)> Budgets { get; } = [];
}

/// <summary>
/// Admission for callers with a virtual key: max parallel requests, budgets and rate limits of the key, its user and
/// its team, the strictest binding. Counters are shared through Redis when it is configured and reachable; otherwise
/// (or when it fails, with fail-open) this node's own counters are used.
/// </summary>
internal sealed class Admission(MemoryRateLimitStore memoryLimits, MemoryBudgetCounters memoryBudgets, SpendStore spend, BudgetAlerts alerts,
    TimeProvider time, RedisConnection? redis = null)
{
    private readonly RedisRateLimitStore? _redisLimits = redis is null ? null : new RedisRateLimitStore(redis);
    private readonly RedisBudgetCounters? _redisBudgets = redis is null ? null : new RedisBudgetCounters(redis);
    private readonly ConcurrentDictionary<string, StrongBox> _parallel = new(StringComparer.Ordinal);

    private const long MinuteMs = 60_000, DayMs = 86_400_000;

    /// <summary>
    /// Admits the request or says why not, reserving its worst case (<paramref name="reservedTokens"/>,
    /// <paramref name="reservedCost"/>) against the caller's token limits and budgets until <see cref="SettleAsync"/>.
    /// Returns a null ticket (and no work) for callers without limits.
    /// </summary>
    public async ValueTask<(AdmissionTicket? Ticket, ApiError? Error)> AdmitAsync(Caller caller, long reservedTokens, decimal reservedCost, HttpResponse response, CancellationToken ct)
    {
        if (caller.Identity is null) return (null, null);
        var ticket = new AdmissionTicket { Holders = caller.LimitHolders().ToList(), ReservedTokens = reservedTokens, ReservedNanos = Money.ToNanos(reservedCost) };

        if (AcquireParallel(ticket) is { } busy) return (null, busy);
        var admitted = false;
        try
        {
            if (await ReserveBudgetsAsync(ticket, reservedCost, ct) is { } over) return (null, over);
            foreach (var h in ticket.Holders) AddRules(ticket.Rules, h);
            if (ticket.Rules.Count == 0)
            {
                admitted = true;
                return (ticket, null);
            }

            var (outcome, store) = await AcquireAsync(ticket.Rules, reservedTokens, ct);
            if (outcome is null)
                return (null, new ApiError(503, "Rate limits cannot be checked: the shared limit store (Redis) is unreachable and the gateway is set to fail closed.", "server_error", "rate_limiter_unavailable"));
            WriteHeaders(response, ticket.Rules, outcome);
            if (!outcome.Allowed)
            {
                var rule = ticket.Rules[outcome.Refused];
                var seconds = (int)Math.Max(1, (outcome.RetryAfterMs + 999) / 1000);
                return (null, new RateLimitRefusal(429, $"Rate limit exceeded: {rule.Name} ({rule.Limit} {(rule.Tokens ? "tokens" : "requests")} per {Window(rule.WindowMs)}"
                    + (rule.Tokens ? $"; this request reserves up to {reservedTokens} tokens" : "") + $"). Try again in {seconds}s.",
                    "rate_limit_error", "rate_limit_exceeded", rule.Key[..rule.Key.IndexOf(':')], rule.Key[(rule.Key.LastIndexOf(':') + 1)..]) { RetryAfterSeconds = seconds });
            }
            ticket.Buckets = outcome.Bucket;
            ticket.LimitMinute = outcome.Minute;
            ticket.LimitStore = store;
            admitted = true;
            return (ticket, null);
        }
        finally
        {
            if (!admitted)
            {
                ReleaseParallel(ticket);
                await ReleaseBudgetsAsync(ticket);
            }
        }
    }

    /// <summary>
    /// The request ended: replace its token reservation by the real usage, its budget reservations by the real cost,
    /// and free its parallel slot. Always called once per admitted request, whatever happened to it.
    /// </summary>
    public async ValueTask SettleAsync(AdmissionTicket ticket, Usage? usage, long costNanos)
    {
        ReleaseParallel(ticket);
        if (ticket.LimitStore is { } limits)
        {
            var actual = usage?.TotalTokens ?? 0;
            for (var i = 0; i < ticket.Rules.Count; i++)
            {
                if (!ticket.Rules[i].Tokens) continue;
                try { await limits.SettleAsync(ticket.Rules[i], ticket.Buckets[i], ticket.LimitMinute, ticket.ReservedTokens, actual, CancellationToken.None); }
                catch (Exception ex) when (IsRedisFailure(ex)) { redis!.MarkDown(ex); }
            }
        }
        foreach (var (counter, holder, store, minute) in ticket.Budgets)
        {
            long? now;
            try { now = await store.SettleAsync(counter, minute, ticket.ReservedNanos, costNanos, CancellationToken.None); }
            catch (Exception ex) when (IsRedisFailure(ex))
            {
                // The cost still counts on this node while Redis is away (the reservation there expires on its own).
                redis!.MarkDown(ex);
                now = await memoryBudgets.SettleAsync(counter, 0, 0, costNanos, CancellationToken.None);
            }
            if (now is { } after && costNanos != 0) alerts.Check(holder, after - costNanos, after);
        }
    }

    /// <summary>Gives back the budget reservations of a request that was not admitted after all.</summary>
    private async ValueTask ReleaseBudgetsAsync(AdmissionTicket ticket)
    {
        foreach (var (counter, _, store, minute) in ticket.Budgets)
        {
            try { await store.SettleAsync(counter, minute, ticket.ReservedNanos, 0, CancellationToken.None); }
            catch (Exception ex) when (IsRedisFailure(ex)) { redis!.MarkDown(ex); }
        }
        ticket.Budgets.Clear();
    }

    private IRateLimitStore Limits(out bool shared)
    {
        shared = _redisLimits is not null && redis!.IsUp;
        return shared ? _redisLimits! : memoryLimits;
    }

    private IBudgetCounters Budgets(out bool shared)
    {
        shared = _redisBudgets is not null && redis!.IsUp;
        return shared ? _redisBudgets! : memoryBudgets;
    }

    /// <summary>Shared counters when possible; on a Redis failure, this node's own (fail-open) or none (fail-closed: null).</summary>
    private async ValueTask<(LimitOutcome? Outcome, IRateLimitStore Store)> AcquireAsync(List<LimitRule> rules, long tokens, CancellationToken ct)
    {
        var store = Limits(out var shared);
        if (!shared && redis is not null && !redis.FailOpen) return (null, store);
        try
        {
            return (await store.AcquireAsync(rules, tokens, ct), store);
        }
        catch (Exception ex) when (shared && IsRedisFailure(ex))
        {
            redis!.MarkDown(ex);
            return redis.FailOpen ? (await memoryLimits.AcquireAsync(rules, tokens, ct), memoryLimits) : (null, memoryLimits);
        }
    }

    /// <summary>Reserves the request's worst-case cost against every budget that binds it, or says which refused.</summary>
    private async ValueTask<ApiError?> ReserveBudgetsAsync(AdmissionTicket ticket, decimal cost, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        foreach (var h in ticket.Holders)
        {
            if (h.Limits.MaxBudget is not { } max) continue;
            var (start, end) = BudgetPeriod.Current(h.Limits.BudgetDuration, h.CreatedAt, now);
            var counter = $"{h.Scope}:{h.Id}:{(start == DateTimeOffset.MinValue ? 0 : start.ToUnixTimeSeconds())}";
            var lifetime = end is { } e ? e - now + TimeSpan.FromHours(1) : TimeSpan.FromDays(400);
            var (reservation, store) = await ReserveAsync(counter, h, start, lifetime, Money.ToNanos(max), ticket.ReservedNanos, ct);
            if (reservation.Verdict == BudgetVerdict.Reserved)
            {
                ticket.Budgets.Add((counter, h, store, reservation.Minute));
                continue;
            }
            var spent = Money.FromNanos(reservation.SpentNanos);
            var mayCost = cost > 0 ? $" (this request may cost up to ${cost:0.######})" : "";
            if (reservation.Verdict == BudgetVerdict.Exceeded)
            {
                var reset = end is { } r ? $" The budget resets at {r:O}." : "";
                return new ApiError(400, $"Budget exceeded for {h.Scope} {Display(h)}: spent ${spent:0.######} of ${max:0.######}.{reset}", "budget_exceeded", "budget_exceeded");
            }
            // Room is left, but requests in flight hold it: a retry once they end may well be admitted.
            return new ApiError(429, $"Budget of {h.Scope} {Display(h)} is held by requests in flight: spent ${spent:0.######} of ${max:0.######}, "
                + $"${Money.FromNanos(reservation.ReservedNanos):0.######} reserved{mayCost}. Try again when they finish.", "budget_exceeded", "budget_in_flight") { RetryAfterSeconds = 1 };
        }
        return null;
    }

    private async ValueTask<(BudgetReservation Reservation, IBudgetCounters Store)> ReserveAsync(string counter, ILimitHolder h, DateTimeOffset start, TimeSpan lifetime,
        long maxNanos, long costNanos, CancellationToken ct)
    {
        Func<CancellationToken, Task<long>> load = c => spend.SpendSinceAsync(h.Scope, h.Id, start, c);
        var store = Budgets(out var shared);
        try
        {
            return (await store.ReserveAsync(counter, load, lifetime, maxNanos, costNanos, ct), store);
        }
        catch (Exception ex) when (shared && IsRedisFailure(ex))
        {
            redis!.MarkDown(ex);
            return (await memoryBudgets.ReserveAsync(counter, load, lifetime, maxNanos, costNanos, ct), memoryBudgets);
        }
    }

    private static string Display(ILimitHolder h) => h is VirtualKey k ? (k.KeyAlias ?? k.KeyName) : h.Id;

    private static void AddRules(List<LimitRule> rules, ILimitHolder h)
    {
        var who = $"{h.Scope} {Display(h)}";
        if (h.Limits.RpmLimit is { } rpm) rules.Add(new LimitRule($"{h.Scope}:{h.Id}:rpm", $"{who} rpm_limit", rpm, MinuteMs, false));
        if (h.Limits.TpmLimit is { } tpm) rules.Add(new LimitRule($"{h.Scope}:{h.Id}:tpm", $"{who} tpm_limit", tpm, MinuteMs, true));
        if (h.Limits.TpdLimit is { } tpd) rules.Add(new LimitRule($"{h.Scope}:{h.Id}:tpd", $"{who} tpd_limit", tpd, DayMs, true));
    }

    private ApiError? AcquireParallel(AdmissionTicket ticket)
    {
        for (var i = 0; i < ticket.Holders.Count; i++)
        {
            var h = ticket.Holders[i];
            if (h.Limits.MaxParallelRequests is not { } max) { ticket.ParallelHeld = i + 1; continue; }
            var box = _parallel.GetOrAdd($"{h.Scope}:{h.Id}", _ => new StrongBox());
            if (Interlocked.Increment(ref box.Value) > max)
            {
                Interlocked.Decrement(ref box.Value);
                ReleaseParallel(ticket);
                return new RateLimitRefusal(429, $"Too many parallel requests for {h.Scope} {Display(h)}: max_parallel_requests is {max}.", "rate_limit_error", "max_parallel_requests", h.Scope.ToString().ToLowerInvariant(), "parallel");
            }
            ticket.ParallelHeld = i + 1;
        }
        return null;
    }

    private void ReleaseParallel(AdmissionTicket ticket)
    {
        for (var i = 0; i < ticket.ParallelHeld; i++)
        {
            var h = ticket.Holders[i];
            if (h.Limits.MaxParallelRequests is not null && _parallel.TryGetValue($"{h.Scope}:{h.Id}", out var box)) Interlocked.Decrement(ref box.Value);
        }
        ticket.ParallelHeld = 0;
    }

    /// <summary>OpenAI's x-ratelimit-* headers, from the tightest request rule and the tightest token rule.</summary>
    private static void WriteHeaders(HttpResponse response, List<LimitRule> rules, LimitOutcome outcome)
    {
        int req = -1, tok = -1;
        for (var i = 0; i < rules.Count; i++)
        {
            if (rules[i].Tokens) { if (tok < 0 || outcome.Remaining[i] < outcome.Remaining[tok]) tok = i; }
            else if (req < 0 || outcome.Remaining[i] < outcome.Remaining[req]) req = i;
        }
        var h = response.Headers;
        if (req >= 0)
        {
            h["x-ratelimit-limit-requests"] = rules[req].Limit.ToString(CultureInfo.InvariantCulture);
            h["x-ratelimit-remaining-requests"] = outcome.Remaining[req].ToString(CultureInfo.InvariantCulture);
            h["x-ratelimit-reset-requests"] = Reset(outcome.ResetMs[req]);
        }
        if (tok >= 0)
        {
            h["x-ratelimit-limit-tokens"] = rules[tok].Limit.ToString(CultureInfo.InvariantCulture);
            h["x-ratelimit-remaining-tokens"] = outcome.Remaining[tok].ToString(CultureInfo.InvariantCulture);
            h["x-ratelimit-reset-tokens"] = Reset(outcome.ResetMs[tok]);
        }
    }

    /// <summary>OpenAI's duration format: "1s", "6m0s", "1h2m3s", "250ms".</summary>
    internal static string Reset(long ms)
    {
        if (ms < 1000) return $"{ms}ms";
        var t = TimeSpan.FromMilliseconds(ms);
        var s = t.Seconds + (t.Milliseconds > 0 ? 1 : 0);
        if (t.TotalHours >= 1) return $"{(int)t.TotalHours}h{t.Minutes}m{s}s";
        return t.TotalMinutes >= 1 ? $"{t.Minutes}m{s}s" : $"{s}s";
    }

    private static string Window(long ms) => ms == MinuteMs ? "minute" : ms == DayMs ? "day" : $"{ms / 1000}s";

    private static bool IsRedisFailure(Exception ex) => ex is StackExchange.Redis.RedisException or TimeoutException or ObjectDisposedException;

    private sealed class StrongBox { public int Value; }
}

/// <summary>A 429 from a rate limit, with which owner's limit refused (key, user or team) and which limit (rpm, tpm, tpd, parallel) for metrics.</summary>
internal sealed record RateLimitRefusal(int Status, string Message, string Type, string Code, string Scope, string Limit) : ApiError(Status, Message, Type, Code);
