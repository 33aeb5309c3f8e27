using System.Net;
using AgenticGateway.Edge;
using AgenticGateway.Edge.Observability;
using AgenticGateway.Edge.Rules;
using AgenticGateway.Pipeline;

namespace AgenticGateway.Edge.Runtime;

/// <summary>
/// Step 0 when the edge is configured: the request's entry point, its routers in priority order, the first whose rule
/// matches runs its middlewares and service. A router to one of the gateway's own services continues into the rest of
/// the pipeline (<see cref="GatewayPipeline"/>); any other is answered here, as Traefik would answer it (404 page not
/// found, Bad Gateway, ...), without the gateway's request context (its own access log line and metrics are the edge's).
/// </summary>
internal sealed class EdgeStep
{
    private readonly RequestDelegate _next;
    private readonly EdgeHolder _edge;
    private readonly EdgeTelemetry _telemetry;

    public EdgeStep(RequestDelegate next, EdgeHolder edge, EdgeTelemetry telemetry)
    {
        _next = next;
        _edge = edge;
        _telemetry = telemetry;
        edge.Start(next);
    }

    public Task InvokeAsync(HttpContext context)
    {
        // ops hook 1: the request's start, for the Traefik metrics and the access log (a timestamp, nothing allocated).
        var start = EdgeTelemetry.Start();
        var snapshot = _edge.Current;
        var entryPoint = context.Features.Get<EdgeEntryPoint>()?.Name ?? EdgeEntryPoint.Gateway;
        if (!snapshot.EntryPoints.TryGetValue(entryPoint, out var routes)) return NotFound(context);
        var peer = context.Connection.RemoteIpAddress;
        if (peer is { IsIPv4MappedToIPv6: true }) peer = peer.MapToIPv4();
        // Traefik drops X-Forwarded-* from clients it does not trust, so a client cannot claim another address or scheme.
        if (!routes.TrustsForwardedHeaders(peer)) RemoveForwarded(context.Request.Headers);
        var edge = new EdgeRequest { EntryPoint = entryPoint, ClientIp = peer, OriginalPath = context.Request.Path.Value };
        context.Features.Set(edge);
        if (_edge.AcmeHttpChallenge is { } acme && context.Request.Path.StartsWithSegments("/.well-known/acme-challenge")) return AcmeAsync(context, acme, routes, edge, peer, start);
        return Route(context, routes, edge, peer, start);
    }

    /// <summary>An ACME server's HTTP-01 request is answered before any router (Traefik's acme-http@internal); other paths route on.</summary>
    private async Task AcmeAsync(HttpContext context, Acme.AcmeHttpChallenge acme, EntryPointRoutes routes, EdgeRequest edge, IPAddress? peer, long start)
    {
        if (await acme.TryAnswerAsync(context)) return;
        await Route(context, routes, edge, peer, start);
    }

    private Task Route(HttpContext context, EntryPointRoutes routes, EdgeRequest edge, IPAddress? peer, long start)
    {
        var input = new HttpContextRuleInput(context, peer);
        var https = context.Request.IsHttps;
        foreach (var route in routes.Routes)
        {
            if (route.Tls != https || !route.Rule.Matches(input)) continue;
            edge.Router = route.Name;
            edge.Service = route.Service;
            var served = route.Handler(context);
            if (!served.IsCompletedSuccessfully || edge.ProxyFailed) return ServedAsync(context, served, edge, start);
            Done(context, edge, start);
            return Task.CompletedTask;
        }
        var notFound = NotFound(context);
        if (!notFound.IsCompletedSuccessfully) return ServedAsync(context, notFound, edge, start);
        Done(context, edge, start);
        return Task.CompletedTask;
    }

    private async Task ServedAsync(HttpContext context, Task served, EdgeRequest edge, long start)
    {
        try
        {
            await served;
            if (!edge.ProxyFailed || context.Response.HasStarted) return;
            var status = context.Response.StatusCode;
            await context.Response.WriteAsync(status == StatusCodes.Status504GatewayTimeout ? "Gateway Timeout" : "Bad Gateway");
        }
        finally
        {
            Done(context, edge, start);
        }
    }

    /// <summary>
    /// ops hook 2: the request is done: Traefik's metrics and the edge's access-log line; a request the gateway's own
    /// pipeline served (its request context ran) has the gateway's line already, so it is counted, not logged twice.
    /// </summary>
    private void Done(HttpContext context, EdgeRequest edge, long start) =>
        _telemetry.Done(context, edge, start, gatewayLogged: context.Features.Get<GatewayRequest>() is not null);

    private static Task NotFound(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status404NotFound;
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync("404 page not found\n");
    }

    private static readonly string[] Forwarded =
        ["X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Port", "X-Forwarded-Proto", "X-Forwarded-Server", "X-Forwarded-Prefix", "X-Forwarded-Uri",
         "X-Forwarded-Method", "X-Forwarded-Tls-Client-Cert", "X-Forwarded-Tls-Client-Cert-Info", "X-Real-Ip"];

    private static void RemoveForwarded(IHeaderDictionary headers)
    {
        foreach (var name in Forwarded) headers.Remove(name);
    }
}

/// <summary>A request as the rules read it; a struct, so matching allocates nothing.</summary>
internal readonly struct HttpContextRuleInput(HttpContext context, IPAddress? clientIp) : IHttpRuleInput
{
    public string Host => context.Request.Host.Host;
    public string Path => context.Request.Path.Value ?? "/";
    public string Method => context.Request.Method;
    public IPAddress? ClientIp => clientIp;
    public int HeaderCount(string name) => context.Request.Headers.TryGetValue(name, out var v) ? v.Count : 0;
    public string HeaderAt(string name, int index) => context.Request.Headers[name][index] ?? "";
    public int QueryCount(string name) => context.Request.Query.TryGetValue(name, out var v) ? v.Count : 0;
    public string QueryAt(string name, int index) => context.Request.Query[name][index] ?? "";
}

/// <summary>
/// After endpoint routing, when the edge is on: a request a router sent to one of the gateway's own services
/// (<c>llm@internal</c>, ...) may reach only that service's routes; anything else is Traefik's 404.
/// </summary>
internal sealed class EdgeInternalGuard(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context)
    {
        var service = context.Edge()?.Service;
        if (service is null || service == "gateway@internal" || Allowed(service, context)) return next(context);
        context.Response.StatusCode = StatusCodes.Status404NotFound;
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync("404 page not found\n");
    }

    private static bool Allowed(string service, HttpContext context)
    {
        var route = context.GetEndpoint()?.Metadata.GetMetadata<GatewayRoute>();
        var path = context.Request.Path;
        return service switch
        {
            "llm@internal" => route?.Router == GatewayRoute.LlmRouter,
            "mcp@internal" => route?.Router == GatewayRoute.McpRouter,
            "sandboxes@internal" => route?.Router == GatewayRoute.SandboxesRouter,
            "admin@internal" => route?.Router == GatewayRoute.AdminRouter,
            "ui@internal" => path.StartsWithSegments("/ui"),
            "metrics@internal" or "prometheus@internal" => path.StartsWithSegments("/metrics"),
            "api@internal" => path.StartsWithSegments("/api"),
            "dashboard@internal" => path.StartsWithSegments("/dashboard") || path.StartsWithSegments("/ui"),
            _ => false,
        };
    }
}
