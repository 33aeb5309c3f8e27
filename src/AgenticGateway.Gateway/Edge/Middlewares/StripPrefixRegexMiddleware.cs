namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// Traefik's <c>stripPrefixRegex</c>: the first of the <c>regex</c> list whose match starts the path removes that match
/// (recorded for X-Forwarded-Prefix); a stripped path that is not clean is refused with 400, as in <c>stripPrefix</c>.
/// </summary>
internal sealed class StripPrefixRegexMiddleware : IEdgeMiddlewareType
{
    public string Name => "stripPrefixRegex";

    public EdgeMiddleware? Build(EdgeOptions options, EdgeBuildContext context)
    {
        var patterns = options.Strings("regex");
        options.ReportUnknown();
        var expressions = new List<GoRegex>();
        for (var i = 0; i < patterns.Length; i++)
            if (GoRegex.Compile(options, $"{EdgeNode.ChildPath(options.Path, "regex")}[{i}]", patterns[i].Trim()) is { } regex) expressions.Add(regex);
        if (expressions.Count != patterns.Length) return null;
        return next => http =>
        {
            var path = http.Request.Path.Value ?? "";
            foreach (var expression in expressions)
            {
                var match = expression.FirstMatch(path);
                // Only a match whose text starts the path is a prefix; Traefik tries the next expression otherwise.
                if (!match.Success || match.Length == 0 || !path.StartsWith(match.Value, StringComparison.Ordinal)) continue;
                var prefix = match.Value;
                var stripped = EdgePaths.EnsureLeadingSlash(path[prefix.Length..]);
                if (!EdgePaths.IsClean(stripped)) return TraefikText.StatusErrorAsync(http, StatusCodes.Status400BadRequest);
                EdgePaths.Set(http.Request, stripped);
                EdgePaths.AddStrippedPrefix(http, prefix);
                break;
            }
            return next(http);
        };
    }
}
