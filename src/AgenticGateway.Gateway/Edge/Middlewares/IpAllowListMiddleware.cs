using Microsoft.AspNetCore.WebUtilities;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// Traefik's <c>ipAllowList</c> (and its v2 name <c>ipWhiteList</c>): only clients whose address, chosen by the
/// <c>ipStrategy</c>, is in <c>sourceRange</c> pass; others get <c>rejectStatusCode</c> (403 by default) with its text.
/// </summary>
internal sealed class IpAllowListMiddleware(string name) : IEdgeMiddlewareType
{
    public string Name => name;

    public EdgeMiddleware? Build(EdgeOptions options, EdgeBuildContext context)
    {
        var sourceRange = options.Strings("sourceRange");
        var strategy = IpStrategy.Read(options.Map("ipStrategy"));
        var reject = StatusCodes.Status403Forbidden;
        // rejectStatusCode is ipAllowList's only; ipWhiteList never had it.
        if (name == "ipAllowList" && options.Int("rejectStatusCode") is { } code and not 0)
        {
            if (code is >= 100 and <= 999 && ReasonPhrases.GetReasonPhrase(code).Length > 0) reject = code;
            else options.Error(EdgeNode.ChildPath(options.Path, "rejectStatusCode"), $"invalid HTTP status code {code}");
        }
        options.ReportUnknown();
        if (sourceRange.IsEmpty)
        {
            options.Error(EdgeNode.ChildPath(options.Path, "sourceRange"), "is required: at least one IP address or CIDR range");
            return null;
        }
        var ranges = IpRanges.Read(options, "sourceRange", sourceRange);
        if (ranges.IsEmpty) return null;
        return next => http => ranges.Contains(strategy.ClientIp(http)) ? next(http) : TraefikText.StatusAsync(http, reject);
    }
}
