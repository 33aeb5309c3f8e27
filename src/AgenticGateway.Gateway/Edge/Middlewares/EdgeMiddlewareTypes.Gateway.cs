namespace AgenticGateway.Edge.Middlewares;

internal static partial class EdgeMiddlewareTypes
{
    /// <summary>The gateway's own middlewares, usable on any router: key and JWT auth, budgets, token metering, affinity.</summary>
    private static IEdgeMiddlewareType[] GatewayTypes =>
    [
        new GatewayAuthMiddleware(),
        new GatewayBudgetMiddleware(),
        new GatewayTokenMeteringMiddleware(),
        new GatewayConversationAffinityMiddleware(),
    ];
}
