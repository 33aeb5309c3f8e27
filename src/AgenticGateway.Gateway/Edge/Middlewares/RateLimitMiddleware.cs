using System.Globalization;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// Traefik's <c>rateLimit</c>: a token bucket per source (average / period refill, burst size). A request that finds
/// no token waits for one when the wait is short (at most half the interval between two tokens, 0.5s below one per
/// second), and is refused with 429, Retry-After and X-Retry-In otherwise. With <c>redis</c> the buckets live in Redis
/// and every replica draws from the same ones; a Redis that cannot be reached refuses with 500, as Traefik does.
/// </summary>
internal sealed class RateLimitType : IEdgeMiddlewareType
{
    public string Name => "rateLimit";

    public EdgeMiddleware? Build(EdgeOptions options, EdgeBuildContext context)
    {
        var average = options.Long("average", 0) ?? 0;
        var period = options.Duration("period") ?? TimeSpan.Zero;
        var burst = options.Long("burst") ?? 1;
        var criterion = SourceCriterion.Read(options) ?? SourceCriterion.RemoteAddress;
        var redisOptions = options.Map("redis");
        var redis = redisOptions is null ? null : RedisBucketOptions.Read(redisOptions);
        options.ReportUnknown();
        if (period == TimeSpan.Zero) period = TimeSpan.FromSeconds(1);
        burst = Math.Max(burst, 1);
        // average 0 is Traefik's "no rate limiting".
        if (average == 0) return next => next;

        var rate = average / period.TotalSeconds;
        var maxDelay = rate < 1 ? TimeSpan.FromMilliseconds(500) : TimeSpan.FromTicks(TimeSpan.TicksPerSecond / ((long)rate * 2));
        // Idle buckets are forgotten after ttl: a second past the time a full refill of one token takes (Traefik's).
        var ttl = TimeSpan.FromSeconds(1 + (rate >= 1 ? 1 : (int)(1 / rate)));
        ITokenBuckets buckets = redis is null
            ? new MemoryTokenBuckets(rate, burst, maxDelay, ttl, context.Time)
            : new RedisTokenBuckets(redis, rate, burst, maxDelay, ttl, context.Loggers.CreateLogger<RedisTokenBuckets>());
        var name = context.Name;
        var time = context.Time;
        var logger = context.Loggers.CreateLogger<RateLimitType>();

        return next => async http =>
        {
            // Each middleware has its own source space, so two limiters never share a bucket.
            var source = name + ":" + criterion.Extract(http);
            TimeSpan delay;
            try
            {
                delay = await buckets.ReserveAsync(source, http.RequestAborted);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !http.RequestAborted.IsCancellationRequested)
            {
                TrafficLog.BucketFailed(logger, name, ex.Message);
                await TraefikText.ErrorAsync(http, StatusCodes.Status500InternalServerError, "Could not insert/update bucket");
                return;
            }
            if (delay > maxDelay)
            {
                http.Response.Headers.RetryAfter = Math.Ceiling(delay.TotalSeconds).ToString(CultureInfo.InvariantCulture);
                http.Response.Headers["X-Retry-In"] = GoDurationText.Format(delay);
                await TraefikText.StatusAsync(http, StatusCodes.Status429TooManyRequests);
                return;
            }
            if (delay > TimeSpan.Zero) await Task.Delay(delay, time, http.RequestAborted);
            await next(http);
        };
    }
}

/// <summary>Takes one token from a source's bucket; returns how long to wait for it (more than the maximum delay: refused, nothing taken).</summary>
internal interface ITokenBuckets
{
    ValueTask<TimeSpan> ReserveAsync(string source, CancellationToken cancellationToken);
}

/// <summary>The buckets of one node, by source, at most 65,536 of them (Traefik's bound); idle ones expire after the ttl.</summary>
internal sealed class MemoryTokenBuckets(double rate, long burst, TimeSpan maxDelay, TimeSpan ttl, TimeProvider time) : ITokenBuckets
{
    private const int MaxSources = 65536;

    private readonly Dictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private long _nextSweep;

    private sealed class Bucket
    {
        public double Tokens;
        public long Last;
    }

    public ValueTask<TimeSpan> ReserveAsync(string source, CancellationToken cancellationToken)
    {
        var now = time.GetTimestamp();
        var frequency = (double)time.TimestampFrequency;
        lock (_lock)
        {
            if (now >= _nextSweep || _buckets.Count >= MaxSources) Sweep(now);
            if (!_buckets.TryGetValue(source, out var bucket))
            {
                bucket = new Bucket { Tokens = burst, Last = now };
                _buckets[source] = bucket;
            }
            var elapsed = Math.Max(0, now - bucket.Last) / frequency;
            var tokens = Math.Min(burst, bucket.Tokens + elapsed * rate) - 1;
            bucket.Last = now;
            var wait = tokens < 0 ? TimeSpan.FromSeconds(-tokens / rate) : TimeSpan.Zero;
            // A refused request takes nothing: the bucket keeps its refill.
            bucket.Tokens = wait > maxDelay ? tokens + 1 : tokens;
            return ValueTask.FromResult(wait);
        }
    }

    /// <summary>Drops idle buckets; when all 65,536 are busy, the one idle longest makes room.</summary>
    private void Sweep(long now)
    {
        var ttlTicks = (long)(ttl.TotalSeconds * time.TimestampFrequency);
        _nextSweep = now + ttlTicks;
        List<string>? expired = null;
        foreach (var (key, bucket) in _buckets)
            if (now - bucket.Last > ttlTicks) (expired ??= []).Add(key);
        if (expired is not null) foreach (var key in expired) _buckets.Remove(key);
        if (_buckets.Count >= MaxSources) _buckets.Remove(_buckets.MinBy(b => b.Value.Last).Key);
    }
}
