using System.Net;
using AgenticGateway.Edge;
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

    public EdgeStep(RequestDelegate next, EdgeHolder edge)
    {
        _next = next;
        _edge = edge;
        edge.Start(next);
    }

    public Task InvokeAsync(HttpContext context)
    {
        var snapshot = _edge.Current;
        var entryPoint = context.Features.Get<EdgeEntryPoint>()?.Name ?? EdgeEntryPoint.Gateway;
        if (!snapshot.EntryPoints.TryGetValue(entryPoint, out var routes)) return NotFound(context);
        var peer = context.Connection.RemoteIpAddress;
        if (peer is { IsIPv4MappedToIPv6: true }) peer = peer.MapToIPv4();
        // Traefik drops X-Forwarded-* from clients it does not trust, so a client cannot claim another address or scheme.
        if (!routes.TrustsForwardedHeaders(peer)) RemoveForwarded(context.Request.Headers);
        var edge = new EdgeRequest { EntryPoint = entryPoint, ClientIp = peer };
        context.Features.Set(edge);
        if (_edge.AcmeHttpChallenge is { } acme && context.Request.Path.StartsWithSegments("/.well-known/acme-challenge")) return AcmeAsync(context, acme, routes, edge, peer);
        return Route(context, routes, edge, peer);
    }

    /// <summary>An ACME server's HTTP-01 request is answered before any router (Traefik's acme-http@internal); other paths route on.</summary>
    private static async Task AcmeAsync(HttpContext context, Acme.AcmeHttpChallenge acme, EntryPointRoutes routes, EdgeRequest edge, IPAddress? peer)
    {
        if (await acme.TryAnswerAsync(context)) return;
        await Route(context, routes, edge, peer);
    }

    private static Task Route(HttpContext context, EntryPointRoutes routes, EdgeRequest edge, IPAddress? peer)
    {
        var input = new HttpContextRuleInput(context, peer);
        var https = context.Request.IsHttps;
        foreach (var route in routes.Routes)
        {
            if (route.Tls != https || !route.Rule.Matches(input)) continue;
            edge.Router = route.Name;
            edge.Service = route.Service;
            var served = route.Handler(context);
            return served.IsCompletedSuccessfully && !edge.ProxyFailed ? Task.CompletedTask : ServedAsync(context, served, edge);
        }
        return NotFound(context);
    }

    private static async Task ServedAsync(HttpContext context, Task served, EdgeRequest edge)
    {
        await served;
        if (!edge.ProxyFailed || context.Response.HasStarted) return;
        var status = context.Response.StatusCode;
        await context.Response.WriteAsync(status == StatusCodes.Status504GatewayTimeout ? "Gateway Timeout" : "Bad Gateway");
    }

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
