namespace AgenticGateway.Edge.Middlewares;

internal static partial class EdgeMiddlewareTypes
{
    /// <summary>Path, redirect, header, authentication and access middlewares.</summary>
    private static IEdgeMiddlewareType[] RequestTypes => [];
}
