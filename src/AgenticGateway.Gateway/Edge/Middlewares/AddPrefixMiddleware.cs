namespace AgenticGateway.Edge.Middlewares;

/// <summary>Traefik's <c>addPrefix</c>: <c>prefix</c> is put in front of the path before the request goes on.</summary>
internal sealed class AddPrefixMiddleware : IEdgeMiddlewareType
{
    public string Name => "addPrefix";

    public EdgeMiddleware? Build(EdgeOptions options, EdgeBuildContext context)
    {
        var prefix = options.String("prefix");
        options.ReportUnknown();
        if (string.IsNullOrEmpty(prefix))
        {
            options.Error(EdgeNode.ChildPath(options.Path, "prefix"), "prefix cannot be empty");
            return null;
        }
        return next => http =>
        {
            EdgePaths.Set(http.Request, EdgePaths.EnsureLeadingSlash(prefix + http.Request.Path.Value));
            return next(http);
        };
    }
}
