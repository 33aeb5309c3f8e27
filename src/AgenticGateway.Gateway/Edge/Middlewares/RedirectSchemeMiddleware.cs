using System.Globalization;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// Traefik's <c>redirectScheme</c> (and an entry point's <c>http.redirections</c>, which Traefik builds from it): a
/// request not already on <c>scheme</c> (and <c>port</c>) is redirected there. The client's scheme is the connection's, or
/// X-Forwarded-Proto's (http/ws, https/wss) when present; default ports are left out of the URL.
/// </summary>
internal sealed class RedirectSchemeMiddleware : IEdgeMiddlewareType
{
    // Traefik's: optional scheme, host (bracketed IPv6 or a name), optional port, the rest.
    private const string UriPattern = @"^(https?:\/\/)?(\[[\w:.]+\]|[\w\._-]+)?(:\d+)?(.*)$";

    public string Name => "redirectScheme";

    public EdgeMiddleware? Build(EdgeOptions options, EdgeBuildContext context)
    {
        var scheme = options.String("scheme") ?? "";
        var port = options.String("port") ?? "";
        var permanent = options.Bool("permanent") ?? false;
        options.ReportUnknown();
        if (scheme.Length == 0)
        {
            options.Error(EdgeNode.ChildPath(options.Path, "scheme"), "you must provide a target scheme");
            return null;
        }
        if (port.Length > 0 && !(int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p is > 0 and <= 65535))
        {
            options.Error(EdgeNode.ChildPath(options.Path, "port"), $"expected a port number from 1 to 65535, got '{port}'");
            return null;
        }
        return Create(options, scheme, port, permanent);
    }

    /// <summary>The middleware for an entry point's redirection (to, scheme, permanent), as Traefik builds one.</summary>
    public static EdgeMiddleware? Create(EdgeOptions options, string scheme, string port, bool permanent)
    {
        var targetPort = port.Length > 0 && !(scheme == "http" && port == "80" || scheme == "https" && port == "443") ? ":" + port : "";
        var regex = GoRegex.Compile(options, options.Path, UriPattern);
        if (regex is null) return null;
        return new Redirector(regex, GoTemplate.Parse(scheme + "://${2}" + targetPort + "${4}"), permanent, ClientUrl).Wrap;
    }

    private static string ClientUrl(HttpContext http)
    {
        var request = http.Request;
        var scheme = request.IsHttps ? "https" : "http";
        var forwardedProto = request.Headers["X-Forwarded-Proto"];
        if (forwardedProto.Count > 0 && forwardedProto[0] is { Length: > 0 } proto)
        {
            if (proto.Equals("http", StringComparison.OrdinalIgnoreCase) || proto.Equals("ws", StringComparison.OrdinalIgnoreCase)) scheme = "http";
            else if (proto.Equals("https", StringComparison.OrdinalIgnoreCase) || proto.Equals("wss", StringComparison.OrdinalIgnoreCase)) scheme = "https";
        }
        var host = request.Host.Host;
        var port = request.Host.Port is { } p ? ":" + p.ToString(CultureInfo.InvariantCulture) : "";
        // HostString.Host drops an IPv6 address's brackets; the URL needs them.
        if (host.Contains(':') && !host.StartsWith('[')) host = "[" + host + "]";
        if (scheme == "http" && port == ":80" || scheme == "https" && port == ":443") port = "";
        return scheme + "://" + host + port + Redirector.RequestUri(request);
    }
}
