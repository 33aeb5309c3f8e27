namespace AgenticGateway.Edge.Middlewares;

internal static partial class EdgeMiddlewareTypes
{
    /// <summary>Rate, concurrency, resilience, body and protocol middlewares.</summary>
    private static IEdgeMiddlewareType[] TrafficTypes => [];
}
