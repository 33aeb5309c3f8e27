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
    /// <summary>The store the rules were counted in: token counts are settled there, whatever Redis does meanwhile.</summary>
    public IRateLimitStore? LimitStore { get; set; }
    public long EstimatedTokens { get; init; }
    public int ParallelHeld { get; set; }
    /// <summary>Budget counters (key, user, team) the settled cost is added to, whom they belong to, and where they were read.</summary>
    public List<(string Counter, ILimitHolder Holder, IBudgetCounters Store)> BudgetCounters { get; } = [];
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

    /// <summary>Admits the request or says why not. Returns a null ticket (and no work) for callers without limits.</summary>
    public async ValueTask<(AdmissionTicket? Ticket, ApiError? Error)> AdmitAsync(Caller caller, long estimatedTokens, decimal estimatedCost, HttpResponse response, CancellationToken ct)
    {
        if (caller.Identity is null) return (null, null);
        var ticket = new AdmissionTicket { Holders = caller.LimitHolders().ToList(), EstimatedTokens = estimatedTokens };

        if (AcquireParallel(ticket) is { } busy) return (null, busy);
        var admitted = false;
        try
        {
            if (await CheckBudgetsAsync(ticket, estimatedCost, ct) is { } over) return (null, over);
            foreach (var h in ticket.Holders) AddRules(ticket.Rules, h);
            if (ticket.Rules.Count == 0)
            {
                admitted = true;
                return (ticket, null);
            }

            var (outcome, store) = await AcquireAsync(ticket.Rules, estimatedTokens, ct);
            if (outcome is null)
                return (null, new ApiError(503, "Rate limits cannot be checked: the shared limit store (Redis) is unreachable and the gateway is set to fail closed.", "server_error", "rate_limiter_unavailable"));
            WriteHeaders(response, ticket.Rules, outcome);
            if (!outcome.Allowed)
            {
                var rule = ticket.Rules[outcome.Refused];
                var seconds = (int)Math.Max(1, (outcome.RetryAfterMs + 999) / 1000);
                return (null, new RateLimitRefusal(429, $"Rate limit exceeded: {rule.Name} ({rule.Limit} {(rule.Tokens ? "tokens" : "requests")} per {Window(rule.WindowMs)}). Try again in {seconds}s.",
                    "rate_limit_error", "rate_limit_exceeded", rule.Key[..rule.Key.IndexOf(':')], rule.Key[(rule.Key.LastIndexOf(':') + 1)..]) { RetryAfterSeconds = seconds });
            }
            ticket.Buckets = outcome.Bucket;
            ticket.LimitStore = store;
            admitted = true;
            return (ticket, null);
        }
        finally
        {
            if (!admitted) ReleaseParallel(ticket);
        }
    }

    /// <summary>The request ended: settle token counts to the real usage, add its cost to the budgets, free its parallel slot.</summary>
    public async ValueTask SettleAsync(AdmissionTicket ticket, Usage? usage, long costNanos)
    {
        ReleaseParallel(ticket);
        var delta = (usage?.TotalTokens ?? 0) - ticket.EstimatedTokens;
        if (delta != 0 && ticket.LimitStore is { } limits)
        {
            for (var i = 0; i < ticket.Rules.Count; i++)
            {
                if (!ticket.Rules[i].Tokens) continue;
                try { await limits.SettleAsync(ticket.Rules[i], ticket.Buckets[i], delta, CancellationToken.None); }
                catch (Exception ex) when (IsRedisFailure(ex)) { redis!.MarkDown(ex); }
            }
        }
        if (costNanos == 0) return;
        foreach (var (counter, holder, store) in ticket.BudgetCounters)
        {
            long? now;
            try { now = await store.AddAsync(counter, costNanos, CancellationToken.None); }
            catch (Exception ex) when (IsRedisFailure(ex))
            {
                // The cost still counts on this node while Redis is away.
                redis!.MarkDown(ex);
                now = await memoryBudgets.AddAsync(counter, costNanos, CancellationToken.None);
            }
            if (now is { } after) alerts.Check(holder, after - costNanos, after);
        }
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

    private async ValueTask<ApiError?> CheckBudgetsAsync(AdmissionTicket ticket, decimal estimatedCost, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        foreach (var h in ticket.Holders)
        {
            if (h.Limits.MaxBudget is not { } max) continue;
            var (start, end) = BudgetPeriod.Current(h.Limits.BudgetDuration, h.CreatedAt, now);
            var counter = $"{h.Scope}:{h.Id}:{(start == DateTimeOffset.MinValue ? 0 : start.ToUnixTimeSeconds())}";
            var lifetime = end is { } e ? e - now + TimeSpan.FromHours(1) : TimeSpan.FromDays(400);
            var (spent, store) = await SpentAsync(counter, h, start, lifetime, ct);
            ticket.BudgetCounters.Add((counter, h, store));
            var spentDollars = Money.FromNanos(spent);
            if (spentDollars + estimatedCost > max)
            {
                var reset = end is { } r ? $" The budget resets at {r:O}." : "";
                return new ApiError(400, $"Budget exceeded for {h.Scope} {Display(h)}: spent ${spentDollars:0.######} of ${max:0.######}{(estimatedCost > 0 ? $" (this request may cost up to ${estimatedCost:0.######})" : "")}.{reset}",
                    "budget_exceeded", "budget_exceeded");
            }
        }
        return null;
    }

    private async ValueTask<(long Spent, IBudgetCounters Store)> SpentAsync(string counter, ILimitHolder h, DateTimeOffset start, TimeSpan lifetime, CancellationToken ct)
    {
        Func<CancellationToken, Task<long>> load = c => spend.SpendSinceAsync(h.Scope, h.Id, start, c);
        var store = Budgets(out var shared);
        try
        {
            return (await store.SpentAsync(counter, load, lifetime, ct), store);
        }
        catch (Exception ex) when (shared && IsRedisFailure(ex))
        {
            redis!.MarkDown(ex);
            return (await memoryBudgets.SpentAsync(counter, load, lifetime, ct), memoryBudgets);
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
