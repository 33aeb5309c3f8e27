using System.Collections.Immutable;
using Microsoft.Extensions.Primitives;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// Traefik's <c>errors</c>: an answer whose status is in <c>status</c> is replaced, before any of it reaches the
/// client, by a GET to <c>service</c> at <c>query</c> ({status}, {originalStatus} and {url} filled in), answered with
/// the original status or its <c>statusRewrites</c> target. The error request carries the original Host and headers
/// (only <c>errorRequestHeaders</c> when that is set; none when it is an empty list).
/// </summary>
internal sealed class ErrorsType : IEdgeMiddlewareType
{
    public string Name => "errors";

    public EdgeMiddleware? Build(EdgeOptions options, EdgeBuildContext context)
    {
        var status = StatusRanges.Parse(options.Strings("status"), options, EdgeNode.ChildPath(options.Path, "status"));
        var rewrites = new List<(StatusRanges From, int To)>();
        var rewritesPath = EdgeNode.ChildPath(options.Path, "statusRewrites");
        foreach (var (from, to) in options.StringMap("statusRewrites"))
        {
            var ranges = StatusRanges.Parse([from], options, rewritesPath);
            if (int.TryParse(to, out var code) && code is >= 100 and <= 999) rewrites.Add((ranges, code));
            else options.Error(EdgeNode.ChildPath(rewritesPath, from), $"'{to}' is not a status code");
        }
        var serviceName = options.String("service") ?? "";
        var query = options.String("query") ?? "";
        var headersNode = options.Child("errorRequestHeaders");
        ImmutableArray<string>? requestHeaders = headersNode is null ? null : options.Strings("errorRequestHeaders");
        options.ReportUnknown();
        var service = serviceName.Length == 0 ? null : context.Service(serviceName);
        if (serviceName.Length == 0) options.Error(EdgeNode.ChildPath(options.Path, "service"), "is required: the service that serves the error pages");
        else if (service is null) options.Error(EdgeNode.ChildPath(options.Path, "service"), $"service '{serviceName}' does not exist");
        if (service is null || status.IsEmpty) return status.IsEmpty && service is not null ? (next => next) : null;

        var settings = new Settings(status, [.. rewrites], service, serviceName, query, requestHeaders, context.Name);
        var logger = context.Loggers.CreateLogger<ErrorsType>();
        return next => http => CatchAsync(http, next, settings, logger);
    }

    private sealed record Settings(StatusRanges Status, ImmutableArray<(StatusRanges From, int To)> Rewrites, RequestDelegate Service, string ServiceName,
        string Query, ImmutableArray<string>? RequestHeaders, string Name);

    private static async Task CatchAsync(HttpContext http, RequestDelegate next, Settings settings, ILogger logger)
    {
        var headers = (List<KeyValuePair<string, StringValues>>)[.. http.Response.Headers];
        var catcher = new Catcher(http, settings.Status);
        catcher.Install();
        try
        {
            await next(http);
        }
        finally
        {
            await catcher.UninstallAsync();
        }
        if (!catcher.Caught || http.Response.HasStarted) return;

        var original = http.Response.StatusCode;
        var code = original;
        foreach (var (from, to) in settings.Rewrites)
            if (from.Contains(original)) { code = to; break; }
        await ServeErrorPageAsync(http, settings, headers, original, code, logger);
    }

    private static async Task ServeErrorPageAsync(HttpContext http, Settings settings, List<KeyValuePair<string, StringValues>> headers, int original, int code, ILogger logger)
    {
        var request = http.Request;
        var url = $"{request.Scheme}://{request.Host}{request.PathBase}{request.Path}{request.QueryString}";
        var target = "/" + settings.Query.TrimStart('/');
        target = target.Replace("{status}", code.ToString(), StringComparison.Ordinal)
            .Replace("{originalStatus}", original.ToString(), StringComparison.Ordinal)
            .Replace("{url}", QueryEscape(url), StringComparison.Ordinal);
        var question = target.IndexOf('?');
        var saved = (request.Method, request.Path, request.QueryString, request.Body, request.ContentLength);
        var savedHeaders = (List<KeyValuePair<string, StringValues>>)[.. request.Headers];

        request.Method = HttpMethods.Get;
        request.Path = PathString.FromUriComponent(question < 0 ? target : target[..question]);
        request.QueryString = question < 0 ? QueryString.Empty : new QueryString(target[question..]);
        request.Body = Stream.Null;
        if (settings.RequestHeaders is { } keep)
        {
            var host = request.Headers.Host;
            request.Headers.Clear();
            request.Headers.Host = host;
            foreach (var name in keep)
                if (savedHeaders.FirstOrDefault(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)) is { Key: not null } h) request.Headers[h.Key] = h.Value;
        }
        request.Headers.ContentLength = null;
        request.Headers.ContentType = default;

        var response = http.Response;
        response.Headers.Clear();
        foreach (var (k, v) in headers) response.Headers[k] = v;
        response.StatusCode = code;
        var forcer = new StatusForcer(http, code);
        forcer.Install();
        try
        {
            await settings.Service(http);
        }
        catch (Exception ex) when (!http.RequestAborted.IsCancellationRequested && !response.HasStarted)
        {
            TrafficLog.ErrorPageFailed(logger, settings.Name, settings.ServiceName, ex.Message);
            await forcer.UninstallAsync();
            await TraefikText.ErrorAsync(http, code, TraefikText.StatusText(code));
        }
        finally
        {
            await forcer.UninstallAsync();
            // Outer middlewares and the access log see the request as it came.
            (request.Method, request.Path, request.QueryString, request.Body, request.ContentLength) = saved;
            request.Headers.Clear();
            foreach (var (k, v) in savedHeaders) request.Headers[k] = v;
        }
        if (!response.HasStarted) response.StatusCode = code;
    }

    /// <summary>Go's url.QueryEscape: spaces as '+', everything but unreserved characters percent-encoded.</summary>
    private static string QueryEscape(string value) => Uri.EscapeDataString(value).Replace("%20", "+", StringComparison.Ordinal);

    /// <summary>Discards an answer whose status is caught, from its first byte; passes any other.</summary>
    private sealed class Catcher(HttpContext context, StatusRanges status) : ResponseBodyInterceptor(context)
    {
        private bool? _caught;

        public bool Caught => _caught ?? status.Contains(Context.Response.StatusCode);

        private bool Decide() => _caught ??= status.Contains(Context.Response.StatusCode);

        protected override ValueTask WriteCoreAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
            Decide() ? ValueTask.CompletedTask : Inner.Stream.WriteAsync(data, cancellationToken);

        protected override Task StartCoreAsync(CancellationToken cancellationToken) => Decide() ? Task.CompletedTask : Inner.StartAsync(cancellationToken);
        protected override Task FlushCoreAsync(CancellationToken cancellationToken) => Decide() ? Task.CompletedTask : Inner.Stream.FlushAsync(cancellationToken);
        protected override Task CompleteCoreAsync() => Decide() ? Task.CompletedTask : Inner.CompleteAsync();
    }

    /// <summary>The error page goes out with the caught (or rewritten) status, whatever status its service answered.</summary>
    private sealed class StatusForcer(HttpContext context, int code) : ResponseBodyInterceptor(context)
    {
        protected override ValueTask WriteCoreAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            Force();
            return Inner.Stream.WriteAsync(data, cancellationToken);
        }

        protected override Task StartCoreAsync(CancellationToken cancellationToken)
        {
            Force();
            return Inner.StartAsync(cancellationToken);
        }

        protected override Task FlushCoreAsync(CancellationToken cancellationToken)
        {
            Force();
            return Inner.Stream.FlushAsync(cancellationToken);
        }

        private void Force()
        {
            if (!Context.Response.HasStarted) Context.Response.StatusCode = code;
        }
    }
}
