using System.Collections.Immutable;
using System.Globalization;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// The CORS part of Traefik's <c>headers</c> middleware: a preflight (OPTIONS with Origin and
/// Access-Control-Request-Method) is answered here with 200 and never reaches the service; other responses get
/// Access-Control-Allow-Origin for an allowed origin, Allow-Credentials, Expose-Headers and Vary: Origin. With credentials a
/// "*" cannot be sent, so the request's own origin, method or headers are echoed instead, as Traefik does.
/// </summary>
internal sealed class CorsHeaders
{
    public required bool AllowCredentials { get; init; }
    public required ImmutableArray<string> AllowHeaders { get; init; }
    public required ImmutableArray<string> AllowMethods { get; init; }
    public required ImmutableArray<string> AllowOriginList { get; init; }
    public required ImmutableArray<GoRegex> AllowOriginListRegex { get; init; }
    public required ImmutableArray<string> ExposeHeaders { get; init; }
    public required long? MaxAge { get; init; }
    public required bool AddVaryHeader { get; init; }

    /// <summary>Answers a preflight and returns true, or returns false for any other request.</summary>
    public bool TryAnswerPreflight(HttpContext http)
    {
        var request = http.Request;
        var requestMethod = First(request.Headers.AccessControlRequestMethod);
        var origin = First(request.Headers.Origin);
        if (requestMethod.Length == 0 || origin.Length == 0 || !HttpMethods.IsOptions(request.Method)) return false;
        var headers = http.Response.Headers;
        if (AllowCredentials) headers.AccessControlAllowCredentials = "true";
        if (AllowHeaders.Contains("*") && AllowCredentials)
        {
            if (First(request.Headers.AccessControlRequestHeaders) is { Length: > 0 } requested) headers.AccessControlAllowHeaders = requested;
        }
        else if (AllowHeaders.Length > 0) headers.AccessControlAllowHeaders = string.Join(',', AllowHeaders);
        if (AllowMethods.Contains("*") && AllowCredentials) headers.AccessControlAllowMethods = requestMethod;
        else if (AllowMethods.Length > 0) headers.AccessControlAllowMethods = string.Join(',', AllowMethods);
        if (MatchOrigin(origin) is { } allowed) headers.AccessControlAllowOrigin = allowed;
        if (MaxAge is { } maxAge) headers.AccessControlMaxAge = maxAge.ToString(CultureInfo.InvariantCulture);
        SetExposeHeaders(headers);
        headers.ContentLength = 0;
        http.Response.StatusCode = StatusCodes.Status200OK;
        return true;
    }

    /// <summary>The CORS headers of an ordinary response, set just before it starts.</summary>
    public void ApplyToResponse(HttpContext http)
    {
        var headers = http.Response.Headers;
        if (MatchOrigin(First(http.Request.Headers.Origin)) is { } allowed) headers.AccessControlAllowOrigin = allowed;
        if (AllowCredentials) headers.AccessControlAllowCredentials = "true";
        SetExposeHeaders(headers);
        if (!AddVaryHeader) return;
        var vary = First(headers.Vary);
        if (vary == "Origin") return;
        headers.Vary = vary.Length == 0 ? "Origin" : vary + ",Origin";
    }

    private void SetExposeHeaders(IHeaderDictionary headers)
    {
        if (ExposeHeaders.Length > 0 && !(ExposeHeaders.Contains("*") && AllowCredentials))
            headers.AccessControlExposeHeaders = string.Join(',', ExposeHeaders);
    }

    private string? MatchOrigin(string origin)
    {
        foreach (var item in AllowOriginList)
        {
            if (item == origin) return item;
            // A wildcard cannot go with credentials, so the origin itself is allowed.
            if (item == "*") return AllowCredentials ? origin : item;
        }
        foreach (var regex in AllowOriginListRegex)
            if (regex.IsMatch(origin)) return origin;
        return null;
    }

    // Go's Header.Get: the first value, or "".
    private static string First(Microsoft.Extensions.Primitives.StringValues values) => values.Count == 0 ? "" : values[0] ?? "";
}
