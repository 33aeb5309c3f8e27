namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// What redirectRegex and redirectScheme share (Traefik's redirect handler): the request's URL, as the middleware sees
/// it, is matched and rewritten; a changed URL is answered with a redirect, an unchanged one goes on. The status is 302,
/// or 307 for a method other than GET (the method must be kept); 301 and 308 when <c>permanent</c>.
/// </summary>
internal sealed class Redirector(GoRegex regex, GoTemplate replacement, bool permanent, Func<HttpContext, string> url)
{
    public RequestDelegate Wrap(RequestDelegate next) => http =>
    {
        var oldUrl = url(http);
        if (!regex.IsMatch(oldUrl)) return next(http);
        var newUrl = regex.ReplaceAll(oldUrl, replacement);
        if (newUrl == oldUrl) return next(http);
        // Go's url.Parse refuses control characters and a malformed host; Traefik's error handler answers 500 then.
        if (newUrl.Any(char.IsControl) || !Uri.TryCreate(newUrl, UriKind.RelativeOrAbsolute, out _))
            return TraefikText.StatusAsync(http, StatusCodes.Status500InternalServerError);
        var get = HttpMethods.IsGet(http.Request.Method);
        var status = (permanent, get) switch
        {
            (true, true) => StatusCodes.Status301MovedPermanently,
            (true, false) => StatusCodes.Status308PermanentRedirect,
            (false, true) => StatusCodes.Status302Found,
            (false, false) => StatusCodes.Status307TemporaryRedirect,
        };
        http.Response.Headers.Location = newUrl;
        return TraefikText.StatusAsync(http, status);
    };

    /// <summary>The path and query as they go upstream now (Go's RequestURI after earlier middlewares changed the URL).</summary>
    public static string RequestUri(HttpRequest request) => request.PathBase.Add(request.Path).ToUriComponent() + request.QueryString.ToUriComponent();
}
