using AgenticGateway.Configuration;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// A built Traefik middleware: wraps the rest of the router's chain (the next middleware, at the end the service). Built
/// once per configuration snapshot and router, so per-router state (a rate limiter's buckets, a breaker's window) lives
/// in the closure; a reload builds new ones.
/// </summary>
internal delegate RequestDelegate EdgeMiddleware(RequestDelegate next);

/// <summary>What a middleware's builder may use besides its options.</summary>
internal sealed class EdgeBuildContext
{
    public required IServiceProvider Services { get; init; }
    /// <summary>The router the middleware is built for (metrics, logs, per-router state).</summary>
    public required string Router { get; init; }
    /// <summary>The middleware's own name as configured (<c>my-ratelimit@file</c> style names are already resolved).</summary>
    public required string Name { get; init; }
    /// <summary>Another HTTP service by name (the errors middleware's service), or null when there is none.</summary>
    public required Func<string, RequestDelegate?> Service { get; init; }
    /// <summary>Another middleware by name, built for the same router (chain); null when unknown. Cycles are refused by the caller.</summary>
    public required Func<string, EdgeMiddleware?> Middleware { get; init; }
    public required TimeProvider Time { get; init; }
    public required ILoggerFactory Loggers { get; init; }
    /// <summary>The gateway's options snapshot the edge was built with (Redis URL, for example).</summary>
    public required GatewayOptions Options { get; init; }
}

/// <summary>
/// One middleware type by its Traefik name (<c>stripPrefix</c>, <c>rateLimit</c>, ...). <see cref="Build"/> reads and
/// validates the options, reporting each bad one through <paramref name="options"/> (errors carry their path), and
/// returns null when they are unusable. It must call <see cref="EdgeOptions.ReportUnknown"/> on every map it reads.
/// </summary>
internal interface IEdgeMiddlewareType
{
    string Name { get; }
    EdgeMiddleware? Build(EdgeOptions options, EdgeBuildContext context);
}
