using System.Globalization;
using System.Runtime.CompilerServices;
using AgenticGateway.Keys;
using AgenticGateway.OpenAi;

namespace AgenticGateway.Limits;

/// <summary>
/// rpm, tpm and tpd limits of a key, its user and its team, the strictest binding: a request is counted in every rule
/// at once (requests count 1; token rules reserve the request's worst case, settled to its real usage when it ends).
/// Counters are shared through Redis when it is configured and reachable; otherwise (or when it fails, with fail-open)
/// this node's own counters are used.
/// </summary>
internal sealed class RateLimits(MemoryRateLimitStore memory, RedisConnection? redis = null)
{
    private const long MinuteMs = 60_000, DayMs = 86_400_000;
    private readonly RedisRateLimitStore? _shared = redis is null ? null : new RedisRateLimitStore(redis);

    /// <summary>
    /// Counts the request in every rule that binds the caller (null when none does), or says which refused. What was
    /// counted (for OpenAI's x-ratelimit-* headers) is returned whether admitted or not; only an admitted hold is settled.
    /// </summary>
    public async ValueTask<(Hold? Hold, ApiError? Refused)> AcquireAsync(Caller caller, long tokens, CancellationToken ct)
    {
        List<LimitRule>? rules = null;
        foreach (var h in caller.LimitHolders()) AddRules(ref rules, h);
        if (rules is null) return (null, null);

        var shared = _shared is not null && redis!.IsUp;
        IRateLimitStore store = shared ? _shared! : memory;
        LimitOutcome? outcome;
        if (!shared && redis is not null && !redis.FailOpen) outcome = null;
        else
        {
            try { outcome = await store.AcquireAsync(rules, tokens, ct); }
            catch (Exception ex) when (shared && LimitHolders.IsRedisFailure(ex))
            {
                redis!.MarkDown(ex);
                store = memory;
                outcome = redis.FailOpen ? await memory.AcquireAsync(rules, tokens, ct) : null;
            }
        }
        if (outcome is null)
            return (null, new ApiError(503, "Rate limits cannot be checked: the shared limit store (Redis) is unreachable and the gateway is set to fail closed.", "server_error", "rate_limiter_unavailable"));
        if (!outcome.Allowed)
        {
            var rule = rules[outcome.Refused];
            var seconds = (int)Math.Max(1, (outcome.RetryAfterMs + 999) / 1000);
            return (new Hold(rules, outcome, store, tokens), new RateLimitRefusal(429, $"Rate limit exceeded: {rule.Name} ({rule.Limit} {(rule.Tokens ? "tokens" : "requests")} per {Window(rule.WindowMs)}"
                + (rule.Tokens ? $"; this request reserves up to {tokens} tokens" : "") + $"). Try again in {seconds}s.",
                "rate_limit_error", "rate_limit_exceeded", rule.Key[..rule.Key.IndexOf(':')], rule.Key[(rule.Key.LastIndexOf(':') + 1)..]) { RetryAfterSeconds = seconds });
        }
        return (new Hold(rules, outcome, store, tokens), null);
    }

    /// <summary>
    /// Counts one request in rules of the caller's own making (an MCP tool's calls per minute, the loop breaker), in
    /// the same store as the key's limits. Fails open or closed with Redis as they do.
    /// </summary>
    public async ValueTask<(bool Allowed, int Refused, long RetryAfterMs)> CountAsync(IReadOnlyList<LimitRule> rules, CancellationToken ct)
    {
        var shared = _shared is not null && redis!.IsUp;
        if (!shared && redis is not null && !redis.FailOpen) return (false, 0, 1000);
        LimitOutcome outcome;
        try { outcome = await (shared ? _shared! : (IRateLimitStore)memory).AcquireAsync(rules, 0, ct); }
        catch (Exception ex) when (shared && LimitHolders.IsRedisFailure(ex))
        {
            redis!.MarkDown(ex);
            if (!redis.FailOpen) return (false, 0, 1000);
            outcome = await memory.AcquireAsync(rules, 0, ct);
        }
        return (outcome.Allowed, Math.Max(0, outcome.Refused), outcome.RetryAfterMs);
    }

    /// <summary>Replaces the token reservation by the real usage (<paramref name="actualTokens"/>).</summary>
    public async ValueTask SettleAsync(Hold hold, long actualTokens)
    {
        for (var i = 0; i < hold.Rules.Count; i++)
        {
            if (!hold.Rules[i].Tokens) continue;
            try { await hold.Store.SettleAsync(hold.Rules[i], hold.Outcome.Bucket[i], hold.Outcome.Minute, hold.ReservedTokens, actualTokens, CancellationToken.None); }
            catch (Exception ex) when (LimitHolders.IsRedisFailure(ex)) { redis!.MarkDown(ex); }
        }
    }

    // A holder's rules depend on the holder alone, and holders are immutable records (a changed key, user or team is a
    // new object): built once per holder instead of five strings per holder per request.
    private static readonly ConditionalWeakTable<ILimitHolder, LimitRule[]> RulesOf = new();

    private static void AddRules(ref List<LimitRule>? rules, ILimitHolder h)
    {
        var own = RulesOf.GetValue(h, static h => BuildRules(h));
        if (own.Length == 0) return;
        rules ??= new List<LimitRule>(4);
        rules.AddRange(own);
    }

    private static LimitRule[] BuildRules(ILimitHolder h)
    {
        var limits = h.Limits;
        if (limits.RpmLimit is null && limits.TpmLimit is null && limits.TpdLimit is null) return [];
        var who = $"{h.Scope} {LimitHolders.Display(h)}";
        var rules = new List<LimitRule>(3);
        if (limits.RpmLimit is { } rpm) rules.Add(new LimitRule($"{h.Scope}:{h.Id}:rpm", $"{who} rpm_limit", rpm, MinuteMs, false));
        if (limits.TpmLimit is { } tpm) rules.Add(new LimitRule($"{h.Scope}:{h.Id}:tpm", $"{who} tpm_limit", tpm, MinuteMs, true));
        if (limits.TpdLimit is { } tpd) rules.Add(new LimitRule($"{h.Scope}:{h.Id}:tpd", $"{who} tpd_limit", tpd, DayMs, true));
        return [.. rules];
    }

    /// <summary>OpenAI's x-ratelimit-* headers, from the tightest request rule and the tightest token rule.</summary>
    public static void WriteHeaders(IHeaderDictionary headers, Hold hold)
    {
        var (rules, outcome) = (hold.Rules, hold.Outcome);
        int req = -1, tok = -1;
        for (var i = 0; i < rules.Count; i++)
        {
            if (rules[i].Tokens) { if (tok < 0 || outcome.Remaining[i] < outcome.Remaining[tok]) tok = i; }
            else if (req < 0 || outcome.Remaining[i] < outcome.Remaining[req]) req = i;
        }
        if (req >= 0)
        {
            headers["x-ratelimit-limit-requests"] = rules[req].Limit.ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-remaining-requests"] = outcome.Remaining[req].ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-reset-requests"] = Reset(outcome.ResetMs[req]);
        }
        if (tok >= 0)
        {
            headers["x-ratelimit-limit-tokens"] = rules[tok].Limit.ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-remaining-tokens"] = outcome.Remaining[tok].ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-reset-tokens"] = Reset(outcome.ResetMs[tok]);
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

    /// <summary>What a request was counted against: its rules, their state (buckets, minute, remaining), where, and the tokens it reserved.</summary>
    public sealed record Hold(List<LimitRule> Rules, LimitOutcome Outcome, IRateLimitStore Store, long ReservedTokens);
}
