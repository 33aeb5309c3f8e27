using Microsoft.Extensions.Logging;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// Traefik's <c>stripPrefix</c>: the first of <c>prefixes</c> the path starts with is removed (the path keeps a leading
/// slash) and recorded for X-Forwarded-Prefix. A stripped path that is not clean ("//x", "/../x") is refused with 400.
/// <c>forceSlash</c> is deprecated in Traefik and still honoured: it also drops the slash after the prefix.
/// </summary>
internal sealed partial class StripPrefixMiddleware : IEdgeMiddlewareType
{
    public string Name => "stripPrefix";

    public EdgeMiddleware? Build(EdgeOptions options, EdgeBuildContext context)
    {
        var prefixes = options.Strings("prefixes").Select(p => p.Trim()).ToArray();
        var forceSlashSet = options.Bool("forceSlash");
        options.ReportUnknown();
        if (forceSlashSet is not null)
            LogForceSlashDeprecated(context.Loggers.CreateLogger<StripPrefixMiddleware>(), context.Name);
        var forceSlash = forceSlashSet == true;
        return next => http =>
        {
            var path = http.Request.Path.Value ?? "";
            foreach (var prefix in prefixes)
            {
                if (!path.StartsWith(prefix, StringComparison.Ordinal)) continue;
                var rest = path[prefix.Length..];
                var stripped = forceSlash ? "/" + (rest.StartsWith('/') ? rest[1..] : rest) : EdgePaths.EnsureLeadingSlash(rest);
                if (!EdgePaths.IsClean(stripped)) return TraefikText.StatusErrorAsync(http, StatusCodes.Status400BadRequest);
                EdgePaths.Set(http.Request, stripped);
                EdgePaths.AddStrippedPrefix(http, prefix);
                break;
            }
            return next(http);
        };
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "Middleware {Middleware}: the stripPrefix option forceSlash is deprecated in Traefik; remove it")]
    private static partial void LogForceSlashDeprecated(ILogger logger, string middleware);
}
