using AgenticGateway.Edge;
using Microsoft.Net.Http.Headers;

namespace AgenticGateway.Edge.Runtime;

/// <summary>Traefik's weighted service: services chosen by weight (smooth round robin), optionally sticky by cookie.</summary>
internal sealed class WeightedService(string name, EdgeService[] children, int[] weights, StickyConfig? sticky, bool healthCheck) : EdgeService(name)
{
    private readonly WeightedCycle _cycle = new(weights);
    private readonly string? _cookieName = sticky is null ? null : sticky.CookieName ?? StickyConfig.GeneratedCookieName(name);

    public override bool IsUp => !healthCheck || children.Any(c => c.IsUp);

    public override Task InvokeAsync(HttpContext context)
    {
        if (_cookieName is not null && context.Request.Cookies[_cookieName] is { Length: > 0 } pinned)
        {
            foreach (var child in children)
                if (child.Name == pinned && (!healthCheck || child.IsUp)) return child.InvokeAsync(context);
        }
        var i = _cycle.Next(static (c, s) => !s.healthCheck || s.children[c].IsUp, (children, healthCheck));
        if (i < 0)
        {
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            return context.Response.WriteAsync("no available server");
        }
        if (_cookieName is not null)
        {
            var cookie = new SetCookieHeaderValue(_cookieName, children[i].Name) { Path = sticky!.Path ?? "/", HttpOnly = sticky.HttpOnly, Secure = sticky.Secure, Domain = sticky.Domain };
            if (sticky.MaxAge != 0) cookie.MaxAge = TimeSpan.FromSeconds(sticky.MaxAge);
            context.Response.Headers.Append(HeaderNames.SetCookie, cookie.ToString());
        }
        return children[i].InvokeAsync(context);
    }
}

/// <summary>Traefik's failover service: the main service while it is up (its health checks say so), else the fallback.</summary>
internal sealed class FailoverService(string name, EdgeService main, EdgeService fallback, bool healthCheck) : EdgeService(name)
{
    public override bool IsUp => !healthCheck || main.IsUp || fallback.IsUp;

    public override Task InvokeAsync(HttpContext context) => main.IsUp ? main.InvokeAsync(context) : fallback.InvokeAsync(context);
}

/// <summary>
/// Traefik's mirroring service: the request goes to the main service, whose answer the client gets, and a copy to each
/// mirror for its percentage of requests, whose answers are discarded. The body is copied only up to maxBodySize (a
/// larger one is not mirrored), and the copy is sent after the main request, off the client's path.
/// </summary>
internal sealed partial class MirroringService(string name, EdgeService main, (EdgeService Service, int Percent)[] mirrors, long maxBodySize, bool mirrorBody, ILogger logger)
    : EdgeService(name)
{
    private long _count;

    public override bool IsUp => main.IsUp;

    public override async Task InvokeAsync(HttpContext context)
    {
        var n = Interlocked.Increment(ref _count);
        List<EdgeService>? chosen = null;
        foreach (var (service, percent) in mirrors)
            if (Chosen(n, percent)) (chosen ??= []).Add(service);
        if (chosen is null)
        {
            await main.InvokeAsync(context);
            return;
        }
        byte[]? body = null;
        if (mirrorBody && ((context.Request.ContentLength ?? 0) != 0 || context.Request.Headers.TransferEncoding.Count > 0))
        {
            if (maxBodySize < 0) context.Request.EnableBuffering(bufferThreshold: 64 * 1024);
            else context.Request.EnableBuffering(bufferThreshold: 64 * 1024, bufferLimit: maxBodySize);
            try
            {
                using var copy = new MemoryStream();
                await context.Request.Body.CopyToAsync(copy, context.RequestAborted);
                body = copy.ToArray();
            }
            catch (IOException)
            {
                // Larger than maxBodySize: Traefik answers 413 for such a mirrored request.
                context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
                return;
            }
            context.Request.Body.Position = 0;
        }
        var copyRequest = Snapshot(context, body);
        await main.InvokeAsync(context);
        foreach (var mirror in chosen) _ = SendCopyAsync(mirror, copyRequest, context.RequestServices);
    }

    /// <summary>Every hundred requests, each mirror gets its percentage, spread evenly.</summary>
    private static bool Chosen(long n, int percent) => percent >= 100 || (percent > 0 && (n * percent / 100) != ((n - 1) * percent / 100));

    private static (string Method, string Scheme, HostString Host, PathString PathBase, PathString Path, QueryString Query, KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues>[] Headers, byte[]? Body, System.Net.IPAddress? Remote, EdgeRequest? Edge) Snapshot(HttpContext context, byte[]? body)
    {
        var r = context.Request;
        return (r.Method, r.Scheme, r.Host, r.PathBase, r.Path, r.QueryString, r.Headers.ToArray(), body, context.Connection.RemoteIpAddress, context.Edge());
    }

    private async Task SendCopyAsync(EdgeService mirror, (string Method, string Scheme, HostString Host, PathString PathBase, PathString Path, QueryString Query, KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues>[] Headers, byte[]? Body, System.Net.IPAddress? Remote, EdgeRequest? Edge) r, IServiceProvider services)
    {
        try
        {
            var copy = new DefaultHttpContext { RequestServices = services };
            copy.Request.Method = r.Method;
            copy.Request.Scheme = r.Scheme;
            copy.Request.Host = r.Host;
            copy.Request.PathBase = r.PathBase;
            copy.Request.Path = r.Path;
            copy.Request.QueryString = r.Query;
            foreach (var (k, v) in r.Headers) copy.Request.Headers[k] = v;
            if (r.Body is null)
            {
                copy.Request.Headers.ContentLength = null;
                copy.Request.Headers.TransferEncoding = default;
            }
            else
            {
                copy.Request.Body = new MemoryStream(r.Body, writable: false);
                copy.Request.Headers.ContentLength = r.Body.Length;
                copy.Request.Headers.TransferEncoding = default;
            }
            copy.Connection.RemoteIpAddress = r.Remote;
            copy.Response.Body = Stream.Null;
            if (r.Edge is { } edge) copy.Features.Set(new EdgeRequest { EntryPoint = edge.EntryPoint, Router = edge.Router, ClientIp = edge.ClientIp, StrippedPrefix = edge.StrippedPrefix });
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            copy.RequestAborted = timeout.Token;
            await mirror.InvokeAsync(copy);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException or InvalidOperationException)
        {
            Log.MirrorFailed(logger, Name, mirror.Name, ex.Message);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1902, Level = LogLevel.Debug, Message = "edge: mirroring service {Service}: the copy to {Mirror} failed: {Reason}")]
        public static partial void MirrorFailed(ILogger logger, string service, string mirror, string reason);
    }
}

/// <summary>
/// One of the gateway's own services (<c>llm@internal</c>, <c>admin@internal</c>, ...): the request continues into the
/// gateway's pipeline (authentication, limits, the service). Which of the gateway's routes it may reach is checked once
/// the route is known (<see cref="EdgeInternalGuard"/>); <c>gateway@internal</c> reaches all of them.
/// </summary>
internal sealed class InternalService(string name, RequestDelegate gateway) : EdgeService(name)
{
    public override bool IsUp => true;

    public override Task InvokeAsync(HttpContext context) => gateway(context);
}
