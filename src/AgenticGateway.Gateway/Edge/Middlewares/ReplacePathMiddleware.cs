namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// Traefik's <c>replacePath</c>: the path becomes <c>path</c> (written escaped, as a URL's path), and the path it had goes
/// upstream in X-Replaced-Path. The query string is kept.
/// </summary>
internal sealed class ReplacePathMiddleware : IEdgeMiddlewareType
{
    public const string ReplacedPathHeader = "X-Replaced-Path";

    public string Name => "replacePath";

    public EdgeMiddleware? Build(EdgeOptions options, EdgeBuildContext context)
    {
        var escaped = options.String("path") ?? "";
        options.ReportUnknown();
        // Traefik fails every request with 500 when the path does not unescape; the configuration is the fault, so say so once.
        if (!EdgePaths.TryUnescape(escaped, out var path, out var error))
        {
            options.Error(EdgeNode.ChildPath(options.Path, "path"), error!);
            return null;
        }
        return next => http =>
        {
            http.Request.Headers.Append(ReplacedPathHeader, EdgePaths.Escaped(http.Request));
            EdgePaths.Set(http.Request, EdgePaths.EnsureLeadingSlash(path));
            return next(http);
        };
    }
}
