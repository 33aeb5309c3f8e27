namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// Traefik's <c>circuitBreaker</c> (oxy's): closed, it forwards and every <c>checkPeriod</c> evaluates
/// <c>expression</c> over the last seconds' requests (NetworkErrorRatio, ResponseCodeRatio, LatencyAtQuantileMS,
/// RequestThreshold); when it holds, the breaker opens: for <c>fallbackDuration</c> every request gets
/// <c>responseCode</c> (503) and its text, the metrics start over. Then it recovers for <c>recoveryDuration</c>,
/// letting a linearly growing share of requests through (half of them by the end); the expression holding again
/// reopens it, and a recovery that lasts closes it. One breaker per router, as Traefik builds one per router.
/// </summary>
internal sealed class CircuitBreakerType : IEdgeMiddlewareType
{
    public string Name => "circuitBreaker";

    public EdgeMiddleware? Build(EdgeOptions options, EdgeBuildContext context)
    {
        var expression = options.String("expression") ?? "";
        var checkPeriod = Positive(options.Duration("checkPeriod")) ?? TimeSpan.FromMilliseconds(100);
        var fallback = Positive(options.Duration("fallbackDuration")) ?? TimeSpan.FromSeconds(10);
        var recovery = Positive(options.Duration("recoveryDuration")) ?? TimeSpan.FromSeconds(10);
        var responseCode = options.Int("responseCode", 100, 999) ?? StatusCodes.Status503ServiceUnavailable;
        options.ReportUnknown();
        var condition = PredicateExpression.Parse(expression, Functions, out var error);
        if (condition is null)
        {
            options.Error(EdgeNode.ChildPath(options.Path, "expression"), error!);
            return null;
        }
        var logger = context.Loggers.CreateLogger<CircuitBreakerType>();
        return next =>
        {
            var breaker = new CircuitBreaker(condition, checkPeriod, fallback, recovery, context.Time, logger, context.Name, expression);
            return async http =>
            {
                if (breaker.ShouldFallBack())
                {
                    await TraefikText.StatusAsync(http, responseCode);
                    return;
                }
                var start = context.Time.GetTimestamp();
                try
                {
                    await next(http);
                }
                finally
                {
                    breaker.Record(http.Response.StatusCode, context.Time.GetElapsedTime(start));
                }
            };
        };
    }

    private static TimeSpan? Positive(TimeSpan? value) => value > TimeSpan.Zero ? value : null;

    private static readonly PredicateFunction<BreakerMetrics>[] Functions =
    [
        new("NetworkErrorRatio", [], PredicateType.Float, _ => m => m.NetworkErrorRatio()),
        new("ResponseCodeRatio", [PredicateType.Int, PredicateType.Int, PredicateType.Int, PredicateType.Int], PredicateType.Float,
            a => m => m.ResponseCodeRatio((long)a[0], (long)a[1], (long)a[2], (long)a[3])),
        new("LatencyAtQuantileMS", [PredicateType.Float], PredicateType.Int, a => m => m.LatencyAtQuantileMs((double)a[0])),
        new("RequestThreshold", [], PredicateType.Int, _ => m => m.TotalCount()),
    ];
}

/// <summary>oxy's state machine: standby (closed), tripped (open), recovering.</summary>
internal sealed class CircuitBreaker(Func<BreakerMetrics, bool> condition, TimeSpan checkPeriod, TimeSpan fallback, TimeSpan recovery,
    TimeProvider time, ILogger logger, string name, string expression)
{
    private enum State { Standby, Tripped, Recovering }

    private readonly Lock _lock = new();
    private readonly BreakerMetrics _metrics = new(time);
    private volatile State _state = State.Standby;
    private DateTimeOffset _until;
    private DateTimeOffset _nextCheck;
    private DateTimeOffset _recoveryStart;
    private long _allowed;
    private long _denied;

    public bool ShouldFallBack()
    {
        if (_state == State.Standby) return false;
        lock (_lock)
        {
            var now = time.GetUtcNow();
            if (_state == State.Tripped)
            {
                if (now < _until) return true;
                _state = State.Recovering;
                _until = now + recovery;
                _recoveryStart = now;
                _allowed = _denied = 0;
            }
            if (_state == State.Recovering)
            {
                if (now > _until)
                {
                    _state = State.Standby;
                    TrafficLog.BreakerClosed(logger, name);
                    return false;
                }
                // Would letting this one through keep the share of requests let through under the target? The target
                // grows linearly from 0 to 0.5 over the recovery.
                var target = 0.5 * (now - _recoveryStart).Ticks / recovery.Ticks;
                var ratio = (double)(_allowed + 1) / (_allowed + 1 + _denied);
                if (ratio < target)
                {
                    _allowed++;
                    return false;
                }
                _denied++;
                return true;
            }
            return false;
        }
    }

    public void Record(int status, TimeSpan latency)
    {
        _metrics.Record(status, latency);
        var now = time.GetUtcNow();
        if (now <= _nextCheck) return;
        lock (_lock)
        {
            if (now < _nextCheck) return;
            _nextCheck = now + checkPeriod;
            if (_state == State.Tripped || !condition(_metrics)) return;
            _state = State.Tripped;
            _until = now + fallback;
            _metrics.Reset();
            TrafficLog.BreakerTripped(logger, name, expression, fallback);
        }
    }
}
