namespace AgenticGateway.Edge.Middlewares;

/// <summary>The traffic middlewares' log messages (rate, concurrency, resilience, body, protocol).</summary>
internal static partial class TrafficLog
{
    [LoggerMessage(EventId = 1901, Level = LogLevel.Error, Message = "rateLimit {Middleware}: could not insert/update bucket: {Error}")]
    public static partial void BucketFailed(ILogger logger, string middleware, string error);

    [LoggerMessage(EventId = 1902, Level = LogLevel.Information, Message = "rateLimit: Redis at {Endpoints} (connected: {Connected})")]
    public static partial void RedisConnecting(ILogger logger, string endpoints, bool connected);

    [LoggerMessage(EventId = 1903, Level = LogLevel.Warning, Message = "circuitBreaker {Middleware}: tripped on '{Expression}', fallback for {Fallback}")]
    public static partial void BreakerTripped(ILogger logger, string middleware, string expression, TimeSpan fallback);

    [LoggerMessage(EventId = 1904, Level = LogLevel.Information, Message = "circuitBreaker {Middleware}: recovered, closed again")]
    public static partial void BreakerClosed(ILogger logger, string middleware);

    [LoggerMessage(EventId = 1905, Level = LogLevel.Debug, Message = "retry {Middleware}: attempt {Attempt} for {Path}")]
    public static partial void Retrying(ILogger logger, string middleware, int attempt, string path);

    [LoggerMessage(EventId = 1906, Level = LogLevel.Warning, Message = "errors {Middleware}: the error page service '{Service}' failed: {Error}")]
    public static partial void ErrorPageFailed(ILogger logger, string middleware, string service, string error);
}
