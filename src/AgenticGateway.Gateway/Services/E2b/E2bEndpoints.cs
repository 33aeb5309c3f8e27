using AgenticGateway.Pipeline;

namespace AgenticGateway.Services.E2b;

/// <summary>
/// E2B compatibility, wired in one place: its REST API (called with the gateway key) and the sandbox-facing services
/// the SDK reaches through <c>E2B_SANDBOX_URL</c> (envd, the code interpreter; called with the sandbox's access
/// token), under <c>/e2b</c>, and without the prefix on the host name <c>sandboxes.e2b.host</c> when one is set.
/// </summary>
internal static class E2bEndpoints
{
    public const string Prefix = "/e2b";

    /// <summary>The REST API: a gateway key (X-API-KEY) names the owner; errors in E2B's shape.</summary>
    public static readonly GatewayRoute RestRoute = new(GatewayRoute.SandboxesRouter, "e2b", RouteAuth.Caller);

    /// <summary>Sandbox-facing calls: the pipeline reads no key (the SDK sends none); <see cref="E2bAccess"/> checks the sandbox's token.</summary>
    public static readonly GatewayRoute SandboxRoute = new(GatewayRoute.SandboxesRouter, "e2b.sandbox", RouteAuth.None);

    /// <summary>Whether a route answers E2B's clients (whose errors are <c>{code, message}</c>).</summary>
    public static bool IsE2b(GatewayRoute route) => route.Operation.StartsWith(GatewayRoute.E2bOperationPrefix, StringComparison.Ordinal);

    public static void Map(IEndpointRouteBuilder app, string? host)
    {
        MapAll(app.MapGroup(Prefix));
        // The same endpoints at the root of their own host name: E2B_API_URL=https://<host>. A route with a host is
        // preferred over one without, so /health and the like on that host are E2B's.
        if (host is not null) MapAll(app.MapGroup("").RequireHost(host));
    }

    private static void MapAll(RouteGroupBuilder group)
    {
        var rest = group.MapGroup("").Gateway(RestRoute);
        E2bRestEndpoints.Map(rest);
        E2bTemplateEndpoints.Map(rest);
        var sandbox = group.MapGroup("").Gateway(SandboxRoute);
        Interpreter.InterpreterEndpoints.Map(sandbox);
        Envd.EnvdEndpoints.Map(sandbox);
    }
}
