namespace AgenticGateway.Edge.Middlewares;

internal static partial class EdgeMiddlewareTypes
{
    /// <summary>Rate, concurrency, resilience, body and protocol middlewares.</summary>
    private static IEdgeMiddlewareType[] TrafficTypes =>
    [
        new RateLimitType(),
        new InFlightReqType(),
        new RetryType(),
        new CircuitBreakerType(),
        new CompressType(),
        new BufferingType(),
        new ChainType(),
        new ErrorsType(),
        new GrpcWebType(),
    ];
}
