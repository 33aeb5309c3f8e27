using System.Collections.Frozen;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>Every middleware type the edge knows, by Traefik's name (compared without regard to case, as Traefik's decoder does).</summary>
internal static partial class EdgeMiddlewareTypes
{
    public static readonly FrozenDictionary<string, IEdgeMiddlewareType> All =
        RequestTypes.Concat(TrafficTypes).Concat(GatewayTypes).ToFrozenDictionary(t => t.Name, StringComparer.OrdinalIgnoreCase);
}
