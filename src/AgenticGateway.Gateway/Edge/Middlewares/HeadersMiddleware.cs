using System.Collections.Immutable;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// Traefik's <c>headers</c> middleware: custom request and response headers (an empty value removes the header), CORS
/// (<see cref="CorsHeaders"/>) and security headers (<see cref="SecureHeaders"/>). Response headers are set as the
/// response starts, after the service wrote its own, so they replace the service's: security headers first, then custom and
/// CORS ones, which win where they overlap, as in Traefik.
/// </summary>
internal sealed partial class HeadersMiddleware : IEdgeMiddlewareType
{
    // Options Traefik v3 still parses but ignores (unrolled/secure dropped HPKP; v3 removed the SSL redirect options).
    private static readonly string[] Inert = ["sslRedirect", "sslTemporaryRedirect", "sslHost", "sslForceHost", "featurePolicy", "publicKey"];

    public string Name => "headers";

    public EdgeMiddleware? Build(EdgeOptions options, EdgeBuildContext context)
    {
        var customRequest = options.StringMap("customRequestHeaders");
        var customResponse = options.StringMap("customResponseHeaders");
        var cors = ReadCors(options);
        var secure = ReadSecure(options, out var inert);
        var any = !customRequest.IsEmpty || !customResponse.IsEmpty || cors is not null || secure is not null || inert.Count > 0;
        options.ReportUnknown();
        if (inert.Count > 0)
            LogInertOptions(context.Loggers.CreateLogger<HeadersMiddleware>(), context.Name, string.Join(", ", inert));
        if (!any)
        {
            options.Error(options.Path, "headers configuration not valid: set custom, CORS or security headers");
            return null;
        }
        return next => http =>
        {
            if (cors is not null && cors.TryAnswerPreflight(http)) return Task.CompletedTask;
            foreach (var (name, value) in customRequest) SetRequestHeader(http, name, value);
            if (!customResponse.IsEmpty || cors is not null)
            {
                http.Response.OnStarting(static state =>
                {
                    var (http, customResponse, cors) = ((HttpContext, ImmutableArray<KeyValuePair<string, string>>, CorsHeaders?))state;
                    foreach (var (name, value) in customResponse)
                    {
                        if (value.Length == 0) http.Response.Headers.Remove(name);
                        else http.Response.Headers[name] = value;
                    }
                    cors?.ApplyToResponse(http);
                    return Task.CompletedTask;
                }, (http, customResponse, cors));
            }
            if (secure is null) return next(http);
            if (!secure.Allow(http, out var refusal)) return refusal;
            var ssl = secure.IsSsl(http);
            // Registered after the custom headers' callback, so it runs before it (ASP.NET runs them last-in first-out).
            http.Response.OnStarting(static state =>
            {
                var (http, secure, ssl) = ((HttpContext, SecureHeaders, bool))state;
                secure.ApplyToResponse(http, ssl);
                return Task.CompletedTask;
            }, (http, secure, ssl));
            return next(http);
        };
    }

    private static void SetRequestHeader(HttpContext http, string name, string value)
    {
        if (value.Length == 0)
        {
            http.Request.Headers.Remove(name);
            if (name.Equals("X-Forwarded-For", StringComparison.OrdinalIgnoreCase) && http.Edge() is { } edge) edge.OmitForwardedFor = true;
        }
        else if (name.Equals("Host", StringComparison.OrdinalIgnoreCase)) http.Request.Host = new HostString(value);
        else http.Request.Headers[name] = value;
    }

    private static CorsHeaders? ReadCors(EdgeOptions options)
    {
        var regexes = options.Strings("accessControlAllowOriginListRegex");
        var compiled = ImmutableArray.CreateBuilder<GoRegex>();
        for (var i = 0; i < regexes.Length; i++)
            if (GoRegex.Compile(options, $"{EdgeNode.ChildPath(options.Path, "accessControlAllowOriginListRegex")}[{i}]", regexes[i]) is { } r) compiled.Add(r);
        var cors = new CorsHeaders
        {
            AllowCredentials = options.Bool("accessControlAllowCredentials") ?? false,
            AllowHeaders = options.Strings("accessControlAllowHeaders"),
            AllowMethods = options.Strings("accessControlAllowMethods"),
            AllowOriginList = options.Strings("accessControlAllowOriginList"),
            AllowOriginListRegex = compiled.ToImmutable(),
            ExposeHeaders = options.Strings("accessControlExposeHeaders"),
            MaxAge = options.Long("accessControlMaxAge"),
            AddVaryHeader = options.Bool("addVaryHeader") ?? false,
        };
        var defined = cors.AllowCredentials || !cors.AllowHeaders.IsEmpty || !cors.AllowMethods.IsEmpty || !cors.AllowOriginList.IsEmpty ||
            !regexes.IsEmpty || !cors.ExposeHeaders.IsEmpty || cors.MaxAge is not null || cors.AddVaryHeader;
        return defined ? cors : null;
    }

    private static SecureHeaders? ReadSecure(EdgeOptions options, out List<string> inert)
    {
        var statics = ImmutableArray.CreateBuilder<KeyValuePair<string, string>>();
        var frameOptions = options.String("customFrameOptionsValue") ?? "";
        var frameDeny = options.Bool("frameDeny") ?? false;
        if (frameOptions.Length > 0) statics.Add(new("X-Frame-Options", frameOptions));
        else if (frameDeny) statics.Add(new("X-Frame-Options", "DENY"));
        var nosniff = options.Bool("contentTypeNosniff") ?? false;
        if (nosniff) statics.Add(new("X-Content-Type-Options", "nosniff"));
        var xss = options.String("customBrowserXSSValue") ?? "";
        var xssFilter = options.Bool("browserXssFilter") ?? false;
        if (xss.Length > 0) statics.Add(new("X-XSS-Protection", xss));
        else if (xssFilter) statics.Add(new("X-XSS-Protection", "1; mode=block"));
        var csp = options.String("contentSecurityPolicy") ?? "";
        if (csp.Length > 0) statics.Add(new("Content-Security-Policy", csp));
        var cspReportOnly = options.String("contentSecurityPolicyReportOnly") ?? "";
        if (cspReportOnly.Length > 0) statics.Add(new("Content-Security-Policy-Report-Only", cspReportOnly));
        var referrer = options.String("referrerPolicy") ?? "";
        if (referrer.Length > 0) statics.Add(new("Referrer-Policy", referrer));
        var permissions = options.String("permissionsPolicy") ?? "";
        if (permissions.Length > 0) statics.Add(new("Permissions-Policy", permissions));

        var stsSeconds = options.Long("stsSeconds");
        var secure = new SecureHeaders
        {
            AllowedHosts = options.Strings("allowedHosts"),
            HostsProxyHeaders = options.Strings("hostsProxyHeaders"),
            SslProxyHeaders = options.StringMap("sslProxyHeaders"),
            StsSeconds = stsSeconds ?? 0,
            StsIncludeSubdomains = options.Bool("stsIncludeSubdomains") ?? false,
            StsPreload = options.Bool("stsPreload") ?? false,
            ForceStsHeader = options.Bool("forceSTSHeader") ?? false,
            IsDevelopment = options.Bool("isDevelopment") ?? false,
            Static = statics.ToImmutable(),
        };
        inert = Inert.Where(options.Has).ToList();
        var defined = !secure.AllowedHosts.IsEmpty || !secure.HostsProxyHeaders.IsEmpty || !secure.SslProxyHeaders.IsEmpty || stsSeconds is not null ||
            secure.StsIncludeSubdomains || secure.StsPreload || secure.ForceStsHeader || frameDeny || frameOptions.Length > 0 || nosniff || xssFilter ||
            xss.Length > 0 || csp.Length > 0 || cspReportOnly.Length > 0 || referrer.Length > 0 || permissions.Length > 0 || secure.IsDevelopment;
        return defined ? secure : null;
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "Middleware {Middleware}: headers options {Options} have no effect in Traefik v3 and none here (use redirectScheme, redirectRegex or permissionsPolicy)")]
    private static partial void LogInertOptions(ILogger logger, string middleware, string options);
}
