using System.Collections.Immutable;
using System.Globalization;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// The security part of Traefik's <c>headers</c> middleware (Traefik runs unrolled/secure for it): a host not in
/// <c>allowedHosts</c> is refused (Traefik answers 500 "Bad Host"), and the response gets Strict-Transport-Security (on
/// HTTPS, or always with <c>forceSTSHeader</c>), X-Frame-Options, X-Content-Type-Options, X-XSS-Protection,
/// Content-Security-Policy (and -Report-Only), Referrer-Policy and Permissions-Policy. <c>isDevelopment</c> turns off the
/// host check and HSTS, as it does in Traefik.
/// </summary>
internal sealed class SecureHeaders
{
    public required ImmutableArray<string> AllowedHosts { get; init; }
    public required ImmutableArray<string> HostsProxyHeaders { get; init; }
    public required ImmutableArray<KeyValuePair<string, string>> SslProxyHeaders { get; init; }
    public required long StsSeconds { get; init; }
    public required bool StsIncludeSubdomains { get; init; }
    public required bool StsPreload { get; init; }
    public required bool ForceStsHeader { get; init; }
    public required bool IsDevelopment { get; init; }
    /// <summary>The headers every response gets (everything but HSTS, which depends on the request).</summary>
    public required ImmutableArray<KeyValuePair<string, string>> Static { get; init; }

    /// <summary>The host check; false when the request was refused (the answer is written).</summary>
    public bool Allow(HttpContext http, out Task refusal)
    {
        refusal = Task.CompletedTask;
        if (AllowedHosts.IsEmpty || IsDevelopment) return true;
        var host = http.Request.Host.Value ?? "";
        foreach (var header in HostsProxyHeaders)
        {
            if (First(http.Request.Headers[header]) is { Length: > 0 } proxied) { host = proxied; break; }
        }
        foreach (var allowed in AllowedHosts)
            if (string.Equals(allowed, host, StringComparison.OrdinalIgnoreCase)) return true;
        // unrolled/secure's answer, which Traefik returns as it is.
        refusal = TraefikText.ErrorAsync(http, StatusCodes.Status500InternalServerError, "Bad Host");
        return false;
    }

    /// <summary>The response headers for this request, set just before the response starts (they replace the service's).</summary>
    public void ApplyToResponse(HttpContext http, bool ssl)
    {
        var headers = http.Response.Headers;
        if (StsSeconds != 0 && (ssl || ForceStsHeader) && !IsDevelopment)
        {
            var value = "max-age=" + StsSeconds.ToString(CultureInfo.InvariantCulture);
            if (StsIncludeSubdomains) value += "; includeSubDomains";
            if (StsPreload) value += "; preload";
            headers.StrictTransportSecurity = value;
        }
        foreach (var (name, value) in Static) headers[name] = value;
    }

    /// <summary>Whether the request came over HTTPS: the connection, or a configured proxy header with its value.</summary>
    public bool IsSsl(HttpContext http)
    {
        if (http.Request.IsHttps) return true;
        foreach (var (name, value) in SslProxyHeaders)
            if (First(http.Request.Headers[name]) == value) return true;
        return false;
    }

    private static string First(Microsoft.Extensions.Primitives.StringValues values) => values.Count == 0 ? "" : values[0] ?? "";
}
