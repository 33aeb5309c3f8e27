namespace AgenticGateway.Pipeline;

/// <summary>
/// The request path of every route, in order. Each step is a middleware in a file of its own; it reads what the route
/// asks of it from the route's <see cref="GatewayRoute"/> (endpoint metadata) and hands what it learned to the next
/// step as a request feature. A step that refuses writes its error once, in the route's shape (<see cref="PipelineErrors"/>).
/// <list type="number">
/// <item>the edge (Edge/Runtime's EdgeStep), when configured: Traefik's routers; proxied requests end there</item>
/// <item>request context (<see cref="RequestContextStep"/>): request id, span; access log, live log and metrics when done</item>
/// <item>with several sandbox hosts (<c>sandboxes.hosts</c>): a sandbox's calls forwarded to the host that runs it</item>
/// <item>authentication (<see cref="AuthenticationStep"/>): master key, virtual key or JWT, as the route requires → <see cref="Keys.Caller"/></item>
/// <item>payload (<see cref="PayloadStep"/>): the route's parser (LLM bodies) → <see cref="LlmRequest"/></item>
/// <item>the router's middlewares (<see cref="RouterStep"/>), in configuration order: in-flight, budget, rate limit</item>
/// <item>the service: the endpoint (<see cref="LlmService"/>, sandboxes, admin, health, UI, metrics), mapped by <paramref name="mapServices"/></item>
/// </list>
/// Outside them: Kestrel's own refusals get a body (<see cref="RejectionBodies"/>), and an exception or an empty error
/// status is answered in the API's shape as a last resort (<see cref="ErrorShapes"/>).
/// </summary>
internal static class GatewayPipeline
{
    /// <param name="app">The application whose pipeline this is.</param>
    /// <param name="mapServices">Maps the services' endpoints, each with its <see cref="GatewayRoute"/>.</param>
    /// <param name="edge">The edge, when configured (the host composes it, since the edge builds on this pipeline): its
    /// step in front of everything, and its guard once the route is known.</param>
    /// <param name="sandboxHosts">With several sandbox hosts, the step that sends a sandbox's calls to the host that runs
    /// it (the host composes it, as it does the edge): before authentication, so the serving host authenticates once.</param>
    public static void Use(WebApplication app, Action<WebApplication> mapServices, (Type Step, Type Guard)? edge = null, Type? sandboxHosts = null)
    {
        RejectionBodies.TrackRequests(app);
        // The edge: its routers answer what they proxy, and send the rest here, to the gateway's own services.
        if (edge is { } e) app.UseMiddleware(e.Step);
        // WebSocket upgrades (the sandbox terminal): a protocol detail, not a step.
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(30) });
        app.UseRouting();
        if (edge is { } g) app.UseMiddleware(g.Guard);
        app.UseMiddleware<RequestContextStep>();
        ErrorShapes.Use(app);
        if (sandboxHosts is not null) app.UseMiddleware(sandboxHosts);
        app.UseMiddleware<AuthenticationStep>();
        app.UseMiddleware<PayloadStep>();
        app.UseMiddleware<RouterStep>();
        mapServices(app);
    }
}
