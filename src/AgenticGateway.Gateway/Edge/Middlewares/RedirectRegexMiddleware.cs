namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// Traefik's <c>redirectRegex</c>: the request's full URL (<c>scheme://host[:port]/path?query</c>) matched by
/// <c>regex</c> and rewritten with <c>replacement</c> (Go's <c>${1}</c>); a changed URL is a redirect there.
/// </summary>
internal sealed class RedirectRegexMiddleware : IEdgeMiddlewareType
{
    public string Name => "redirectRegex";

    public EdgeMiddleware? Build(EdgeOptions options, EdgeBuildContext context)
    {
        var pattern = options.RequiredString("regex");
        var replacement = options.RequiredString("replacement");
        var permanent = options.Bool("permanent") ?? false;
        options.ReportUnknown();
        var regex = GoRegex.Compile(options, EdgeNode.ChildPath(options.Path, "regex"), pattern);
        if (regex is null) return null;
        var redirector = new Redirector(regex, GoTemplate.Parse(replacement), permanent, Url);
        return redirector.Wrap;
    }

    // The scheme is the connection's (X-Forwarded-Proto does not count here, unlike redirectScheme), the host as the client sent it.
    private static string Url(HttpContext http) =>
        (http.Request.IsHttps ? "https://" : "http://") + http.Request.Host.Value + Redirector.RequestUri(http.Request);
}
