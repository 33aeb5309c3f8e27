namespace AgenticGateway.Routing;

/// <summary>
/// What the router knows about one deployment at run time: requests in flight, smoothed latency, token usage in
/// the current minute, and its cooldown (circuit) state. Kept across config reloads for an unchanged deployment.
/// </summary>
internal sealed class DeploymentState : Policies.ILiveDeploymentMetrics
{
    private const double Alpha = 0.2;
    /// <summary>Failures from this many requests at least before a deployment cools down (other than at once).</summary>
    public const int MinFailingRequests = 2;
    // Failures lock (they are rare); successes, on every request, do not: they only read the count and, when failures
    // are queued, bump an epoch that tells the next failure to clear them first.
    private readonly Lock _failuresLock = new();
    private readonly Queue<long> _failures = new();
    private int _failureCount;
    private int _successEpoch;
    private int _clearedEpoch;
    private int _inFlight;
    private long _latencyBits = BitConverter.DoubleToInt64Bits(double.NaN);
    private long _ttftBits = BitConverter.DoubleToInt64Bits(double.NaN);
    private long _cooldownUntil;
    private int _probeInFlight;
    private long _minute;
    private long _minuteTokens;
    private long _minuteRequests;

    public int InFlight => Volatile.Read(ref _inFlight);
    /// <summary>Smoothed (EWMA) full-response latency in seconds; NaN until the first success.</summary>
    public double LatencySeconds => BitConverter.Int64BitsToDouble(Interlocked.Read(ref _latencyBits));
    /// <summary>Smoothed time to first token of streams in seconds; NaN until the first stream.</summary>
    public double TimeToFirstTokenSeconds => BitConverter.Int64BitsToDouble(Interlocked.Read(ref _ttftBits));

    public double AverageLatencyMs => LatencySeconds * 1000;
    public double TimeToFirstTokenMs => TimeToFirstTokenSeconds * 1000;

    // The error rate's sliding window: buckets of ErrorBucketTicks, the current one and those before it within the
    // window. Lock-free; a bucket reset racing an increment may lose that one count, which a rate can afford.
    private const int ErrorBuckets = 6;
    public static readonly TimeSpan ErrorWindow = TimeSpan.FromSeconds(60);
    private static readonly long ErrorBucketTicks = ErrorWindow.Ticks / ErrorBuckets;
    private readonly long[] _bucketSlot = new long[ErrorBuckets];
    private readonly long[] _bucketRequests = new long[ErrorBuckets];
    private readonly long[] _bucketErrors = new long[ErrorBuckets];

    /// <summary>Counts one attempt's outcome in the error-rate window (every attempt, unlike the cooldown's failure count).</summary>
    public void RecordOutcome(long nowTicks, bool failed)
    {
        var slot = nowTicks / ErrorBucketTicks;
        var i = (int)(slot % ErrorBuckets);
        var seen = Volatile.Read(ref _bucketSlot[i]);
        if (seen != slot && Interlocked.CompareExchange(ref _bucketSlot[i], slot, seen) == seen)
        {
            Interlocked.Exchange(ref _bucketRequests[i], 0);
            Interlocked.Exchange(ref _bucketErrors[i], 0);
        }
        Interlocked.Increment(ref _bucketRequests[i]);
        if (failed) Interlocked.Increment(ref _bucketErrors[i]);
    }

    /// <summary>The failed share of attempts in the last <see cref="ErrorWindow"/>; 0 with no traffic.</summary>
    public double ErrorRate(long nowTicks)
    {
        var slot = nowTicks / ErrorBucketTicks;
        long requests = 0, errors = 0;
        for (var i = 0; i < ErrorBuckets; i++)
        {
            var s = Volatile.Read(ref _bucketSlot[i]);
            if (s > slot - ErrorBuckets && s <= slot)
            {
                requests += Volatile.Read(ref _bucketRequests[i]);
                errors += Volatile.Read(ref _bucketErrors[i]);
            }
        }
        return requests == 0 ? 0 : Math.Min(1.0, (double)errors / requests);
    }

    public void Enter() => Interlocked.Increment(ref _inFlight);
    public void Exit() => Interlocked.Decrement(ref _inFlight);

    public long TokensThisMinute(long nowMinute) => Interlocked.Read(ref _minute) == nowMinute ? Interlocked.Read(ref _minuteTokens) : 0;
    public long RequestsThisMinute(long nowMinute) => Interlocked.Read(ref _minute) == nowMinute ? Interlocked.Read(ref _minuteRequests) : 0;

    public void RecordUsage(long nowMinute, long tokens)
    {
        // Read first: within a minute every request would otherwise write the same value to a line all cores share.
        if (Interlocked.Read(ref _minute) != nowMinute && Interlocked.Exchange(ref _minute, nowMinute) != nowMinute)
        {
            Interlocked.Exchange(ref _minuteTokens, 0);
            Interlocked.Exchange(ref _minuteRequests, 0);
        }
        Interlocked.Add(ref _minuteTokens, tokens);
        Interlocked.Increment(ref _minuteRequests);
    }

    public void RecordSuccess(double latencySeconds, double? ttftSeconds, long nowTicks)
    {
        RecordOutcome(nowTicks, failed: false);
        Smooth(ref _latencyBits, latencySeconds);
        if (ttftSeconds is { } t) Smooth(ref _ttftBits, t);
        // A success after the cooldown closes the circuit (the probe succeeded). A success of a request that
        // started before the cooldown says nothing about now, and leaves it in place.
        var until = Interlocked.Read(ref _cooldownUntil);
        if (nowTicks < until) return;
        // Written only when there is something to reset, so a healthy deployment's successes write nothing but their
        // latency; and only the cooldown this success saw ends: one tripped meanwhile stays.
        if (until != 0) Interlocked.CompareExchange(ref _cooldownUntil, 0, until);
        if (Volatile.Read(ref _probeInFlight) != 0) Interlocked.Exchange(ref _probeInFlight, 0);
        if (Volatile.Read(ref _failureCount) != 0) Interlocked.Increment(ref _successEpoch);
    }

    private static void Smooth(ref long bits, double sample)
    {
        while (true)
        {
            var old = Interlocked.Read(ref bits);
            var current = BitConverter.Int64BitsToDouble(old);
            var next = double.IsNaN(current) ? sample : current + Alpha * (sample - current);
            if (Interlocked.CompareExchange(ref bits, BitConverter.DoubleToInt64Bits(next), old) == old) return;
        }
    }

    /// <summary>
    /// Records one request's failure (callers count a request at most once per deployment). Returns true when it put the
    /// deployment into cooldown: at once when <paramref name="immediate"/> (rate limited or auth/not-found), or when
    /// <paramref name="allowedFails"/> failures, and never fewer than two (so from at least two requests), fell within
    /// the window: like Envoy's outlier detection, errors count across requests, and one request alone cannot trip it.
    /// </summary>
    public bool RecordFailure(long nowTicks, int allowedFails, TimeSpan window, TimeSpan cooldown, bool immediate)
    {
        // A failure while half-open (the probe's, or any other) sends the deployment straight back to cooldown.
        var until = Interlocked.Read(ref _cooldownUntil);
        if (until != 0 && nowTicks >= until) immediate = true;
        Interlocked.Exchange(ref _probeInFlight, 0);
        bool trip;
        lock (_failuresLock)
        {
            // A success since the last failure cleared what came before it.
            var epoch = Volatile.Read(ref _successEpoch);
            if (epoch != _clearedEpoch)
            {
                _failures.Clear();
                _clearedEpoch = epoch;
            }
            _failures.Enqueue(nowTicks);
            while (_failures.Count > 0 && nowTicks - _failures.Peek() > window.Ticks) _failures.Dequeue();
            trip = immediate || _failures.Count >= Math.Max(allowedFails, MinFailingRequests);
            if (trip) _failures.Clear();
            Volatile.Write(ref _failureCount, _failures.Count);
        }
        if (trip) Interlocked.Exchange(ref _cooldownUntil, nowTicks + cooldown.Ticks);
        return trip;
    }

    /// <summary>True while in cooldown. After it ends, exactly one caller at a time gets through as a half-open probe.</summary>
    public bool IsCoolingDown(long nowTicks) => nowTicks < Interlocked.Read(ref _cooldownUntil);

    public long CooldownUntilTicks => Interlocked.Read(ref _cooldownUntil);

    /// <summary>Could take a request now: closed, or half-open with no probe out.</summary>
    public bool IsAvailable(long nowTicks)
    {
        var until = Interlocked.Read(ref _cooldownUntil);
        return until == 0 || (nowTicks >= until && Volatile.Read(ref _probeInFlight) == 0);
    }

    /// <summary>
    /// Whether a request may go to this deployment now. Closed: yes. Cooling down: no. Half-open (cooldown over but not
    /// yet confirmed healthy): only the one caller that wins the probe.
    /// </summary>
    public bool TryAcquire(long nowTicks, out bool probe)
    {
        probe = false;
        var until = Interlocked.Read(ref _cooldownUntil);
        if (until == 0) return true;
        if (nowTicks < until) return false;
        probe = Interlocked.CompareExchange(ref _probeInFlight, 1, 0) == 0;
        return probe;
    }

    /// <summary>
    /// Ends a probe whose outcome said nothing about the deployment (a bad request, a client that left): the next
    /// request may probe again.
    /// </summary>
    public void EndProbe() => Interlocked.Exchange(ref _probeInFlight, 0);

    /// <summary>Whether the deployment is in use normally (not cooling down, not waiting on a probe).</summary>
    public bool IsHealthy => Interlocked.Read(ref _cooldownUntil) == 0;
}
