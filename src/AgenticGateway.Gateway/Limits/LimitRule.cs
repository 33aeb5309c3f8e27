namespace AgenticGateway.Limits;

/// <summary>
/// One limit that applies to a request: a counter (<see cref="Key"/>, e.g. "key:&lt;token&gt;:rpm"), what it allows per
/// window, and whether it counts requests or tokens. Windows slide: they are kept as 60 buckets, and a bucket leaves
/// the window only once all of it is older than the window, so no window-long stretch ever admits more than the limit.
/// </summary>
internal readonly record struct LimitRule(string Key, string Name, long Limit, long WindowMs, bool Tokens)
{
    public const int Buckets = 60;
    public long BucketMs => Math.Max(1, WindowMs / Buckets);
}

/// <summary>What the store said about a set of rules: admitted (and counted) or which one refused, and each rule's state.</summary>
internal sealed class LimitOutcome(int count)
{
    public bool Allowed { get; set; }
    /// <summary>Index of the rule that refused, or -1.</summary>
    public int Refused { get; set; } = -1;
    /// <summary>How long until the refusing rule has room again.</summary>
    public long RetryAfterMs { get; set; }
    /// <summary>The bucket each rule was counted in (token rules are settled there).</summary>
    public long[] Bucket { get; } = new long[count];
    /// <summary>What remains of each rule after this request.</summary>
    public long[] Remaining { get; } = new long[count];
    /// <summary>Milliseconds until each rule's oldest counted bucket leaves its window.</summary>
    public long[] ResetMs { get; } = new long[count];
    /// <summary>The minute the token reservation was counted as in flight (settled there).</summary>
    public long Minute { get; set; }
}

/// <summary>Where rate-limit counters live: this process, or Redis shared by every replica.</summary>
internal interface IRateLimitStore
{
    /// <summary>
    /// Checks every rule and, only if all have room, counts the request in all of them: a request rule counts 1, a token
    /// rule reserves <paramref name="tokens"/> (the request's worst case) and holds it as in flight until settled. A token
    /// rule has room when the reservation fits beside what the window counts, or, with nothing else in flight, while
    /// the window is below its limit: so one request may overshoot by at most its own usage, never more.
    /// </summary>
    ValueTask<LimitOutcome> AcquireAsync(IReadOnlyList<LimitRule> rules, long tokens, CancellationToken cancellationToken);

    /// <summary>Replaces a token rule's reservation by the real usage and ends it being in flight.</summary>
    ValueTask SettleAsync(LimitRule rule, long bucket, long minute, long reserved, long actual, CancellationToken cancellationToken);
}
