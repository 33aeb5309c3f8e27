namespace AgenticGateway.Edge.Middlewares;

internal static partial class EdgeMiddlewareTypes
{
    /// <summary>Path, redirect, header, authentication and access middlewares.</summary>
    private static IEdgeMiddlewareType[] RequestTypes =>
    [
        new AddPrefixMiddleware(),
        new StripPrefixMiddleware(),
        new StripPrefixRegexMiddleware(),
        new ReplacePathMiddleware(),
        new ReplacePathRegexMiddleware(),
        new RedirectSchemeMiddleware(),
        new RedirectRegexMiddleware(),
        new IpAllowListMiddleware("ipAllowList"),
        // Traefik v3 still reads the v2 name, deprecated, with the same options but rejectStatusCode.
        new IpAllowListMiddleware("ipWhiteList"),
    ];
}
