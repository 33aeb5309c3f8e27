namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// Traefik's <c>chain</c>: other middlewares by name, applied in order, as one. The names resolve like a router's
/// (<c>name@file</c> allowed); a cycle is refused by the caller that resolves names.
/// </summary>
internal sealed class ChainType : IEdgeMiddlewareType
{
    public string Name => "chain";

    public EdgeMiddleware? Build(EdgeOptions options, EdgeBuildContext context)
    {
        var names = options.Strings("middlewares");
        options.ReportUnknown();
        var path = EdgeNode.ChildPath(options.Path, "middlewares");
        if (names.IsEmpty)
        {
            options.Error(path, "is required: the names of the middlewares to chain");
            return null;
        }
        var parts = new List<EdgeMiddleware>();
        var ok = true;
        foreach (var name in names)
        {
            var middleware = context.Middleware(name);
            if (middleware is null)
            {
                options.Error(path, $"middleware '{name}' does not exist");
                ok = false;
            }
            else parts.Add(middleware);
        }
        if (!ok) return null;
        return next =>
        {
            // Built inside out, so the first name runs first.
            for (var i = parts.Count - 1; i >= 0; i--) next = parts[i](next);
            return next;
        };
    }
}
