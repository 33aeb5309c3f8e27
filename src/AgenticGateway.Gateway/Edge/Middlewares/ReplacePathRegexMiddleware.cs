namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// Traefik's <c>replacePathRegex</c>: when <c>regex</c> matches the escaped path, every match is replaced by
/// <c>replacement</c> (Go's <c>$1</c> / <c>${name}</c>), the old path goes upstream in X-Replaced-Path, and a result that
/// is not clean is refused with 400.
/// </summary>
internal sealed class ReplacePathRegexMiddleware : IEdgeMiddlewareType
{
    public string Name => "replacePathRegex";

    public EdgeMiddleware? Build(EdgeOptions options, EdgeBuildContext context)
    {
        var pattern = options.RequiredString("regex").Trim();
        var replacementText = (options.String("replacement") ?? "").Trim();
        options.ReportUnknown();
        var regex = GoRegex.Compile(options, EdgeNode.ChildPath(options.Path, "regex"), pattern);
        if (regex is null) return null;
        var replacement = GoTemplate.Parse(replacementText);
        return next => http =>
        {
            var current = EdgePaths.Escaped(http.Request);
            if (!regex.IsMatch(current)) return next(http);
            http.Request.Headers.Append(ReplacePathMiddleware.ReplacedPathHeader, current);
            // A replacement can build a malformed escape out of its text and a group; Traefik answers that with 500 and Go's message.
            if (!EdgePaths.TryUnescape(regex.ReplaceAll(current, replacement), out var path, out var error))
                return TraefikText.ErrorAsync(http, StatusCodes.Status500InternalServerError, error!);
            path = EdgePaths.EnsureLeadingSlash(path);
            if (!EdgePaths.IsClean(path)) return TraefikText.StatusErrorAsync(http, StatusCodes.Status400BadRequest);
            EdgePaths.Set(http.Request, path);
            return next(http);
        };
    }
}
