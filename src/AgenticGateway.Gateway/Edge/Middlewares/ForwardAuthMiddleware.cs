using System.Collections.Frozen;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Encodings.Web;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// Traefik's <c>forwardAuth</c>: each request is first sent (GET, no body unless <c>forwardBody</c>) with its headers and
/// X-Forwarded-Method/Proto/Host/Port/Uri/For to <c>address</c>. A 2xx lets it through, with <c>authResponseHeaders</c>
/// (and those matching <c>authResponseHeadersRegex</c>) copied from the answer onto the request and
/// <c>addAuthCookiesToResponse</c> cookies added to the response; any other answer goes back to the client as the auth
/// server wrote it (a relative Location made absolute unless <c>preserveLocationHeader</c>), or a 401 redirects to
/// <c>authSigninURL</c> when set.
/// </summary>
internal sealed partial class ForwardAuthMiddleware : IEdgeMiddlewareType
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    // Traefik reads an unbounded answer when maxResponseBodySize is unset; a cap keeps a broken auth server from exhausting memory.
    private const long DefaultMaxResponseBody = 16 * 1024 * 1024;

    private static readonly FrozenSet<string> HopHeaders = FrozenSet.Create(StringComparer.OrdinalIgnoreCase,
        "Connection", "Keep-Alive", "TE", "Trailer", "Transfer-Encoding", "Upgrade", "Proxy-Connection");

    // The X-Forwarded headers Traefik manages (and drops from the auth request unless trustForwardHeader).
    private static readonly FrozenSet<string> ForwardedHeaders = FrozenSet.Create(StringComparer.OrdinalIgnoreCase,
        "X-Forwarded-Proto", "X-Forwarded-Scheme", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Port", "X-Forwarded-Server",
        "X-Forwarded-Uri", "X-Forwarded-Method", "X-Forwarded-Prefix", "X-Forwarded-Tls-Client-Cert", "X-Forwarded-Tls-Client-Cert-Info",
        "X-Scheme", "X-Real-Ip");

    public string Name => "forwardAuth";

    private sealed record Settings(
        Uri Address, HttpMessageInvoker Client, bool? TrustForwardHeader, string[] AuthResponseHeaders, GoRegex? AuthResponseHeadersRegex,
        string[] AuthRequestHeaders, FrozenSet<string> AuthCookies, string HeaderField, bool ForwardBody, long MaxBodySize, long MaxResponseBodySize,
        bool PreserveLocationHeader, bool PreserveRequestMethod, string AuthSigninUrl, ILogger Logger, string Middleware);

    public EdgeMiddleware? Build(EdgeOptions options, EdgeBuildContext context)
    {
        var address = options.RequiredString("address");
        var tls = options.Map("tls");
        var tlsSettings = new ForwardAuthClients.TlsSettings("", "", "", false);
        if (tls is not null)
        {
            tlsSettings = new(tls.String("ca") ?? "", tls.String("cert") ?? "", tls.String("key") ?? "", tls.Bool("insecureSkipVerify") ?? false);
            tls.Bool("caOptional");
            tls.ReportUnknown();
        }
        var trust = options.Bool("trustForwardHeader");
        var responseHeaders = options.Strings("authResponseHeaders");
        var responseRegex = options.String("authResponseHeadersRegex") ?? "";
        var requestHeaders = options.Strings("authRequestHeaders");
        var cookies = options.Strings("addAuthCookiesToResponse");
        var headerField = options.String("headerField") ?? "";
        var forwardBody = options.Bool("forwardBody") ?? false;
        var maxBody = options.Long("maxBodySize", min: -1) ?? -1;
        var maxResponse = options.Long("maxResponseBodySize", min: -1);
        var preserveLocation = options.Bool("preserveLocationHeader") ?? false;
        var preserveMethod = options.Bool("preserveRequestMethod") ?? false;
        var signin = options.String("authSigninURL") ?? "";
        options.ReportUnknown();

        var addressPath = EdgeNode.ChildPath(options.Path, "address");
        Uri? uri = null;
        if (address.Length > 0 && !(Uri.TryCreate(address, UriKind.Absolute, out uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)))
        {
            options.Error(addressPath, $"expected an absolute http or https URL, got '{address}'");
            return null;
        }
        var regex = responseRegex.Length == 0 ? null : GoRegex.Compile(options, EdgeNode.ChildPath(options.Path, "authResponseHeadersRegex"), responseRegex);
        if (uri is null || responseRegex.Length > 0 && regex is null) return null;
        var client = ForwardAuthClients.Get(tlsSettings, options, EdgeNode.ChildPath(options.Path, "tls"));
        if (client is null) return null;

        var logger = context.Loggers.CreateLogger<ForwardAuthMiddleware>();
        if (tls?.Has("caOptional") == true) LogDeprecated(logger, context.Name, "tls.caOptional");
        if (forwardBody && maxBody < 0) LogUnlimitedBody(logger, context.Name);
        var allowed = requestHeaders.ToList();
        // With trust and a filter, the X-Forwarded headers pass the filter too (Traefik adds them to the list).
        if (trust == true && allowed.Count > 0) allowed.AddRange(ForwardedHeaders);
        var settings = new Settings(uri, client, trust, [.. responseHeaders], regex, [.. allowed], cookies.ToFrozenSet(StringComparer.Ordinal), headerField,
            forwardBody, maxBody, maxResponse ?? DefaultMaxResponseBody, preserveLocation, preserveMethod, signin, logger, context.Name);
        return next => http => AuthenticateAsync(http, settings, next);
    }

    private static async Task AuthenticateAsync(HttpContext http, Settings s, RequestDelegate next)
    {
        using var authRequest = new HttpRequestMessage(s.PreserveRequestMethod ? new HttpMethod(http.Request.Method) : HttpMethod.Get, s.Address);
        if (s.ForwardBody && !HttpMethods.IsConnect(http.Request.Method))
        {
            var body = await ReadLimitedAsync(http.Request.Body, s.MaxBodySize, http.RequestAborted);
            if (body is null) { await TraefikText.StatusErrorAsync(http, StatusCodes.Status401Unauthorized); return; }
            // The service still gets the body the auth server saw.
            http.Request.Body = new MemoryStream(body, writable: false);
            authRequest.Content = new ByteArrayContent(body);
        }
        CopyRequestHeaders(http, authRequest, s);

        HttpResponseMessage authResponse;
        byte[]? authBody;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
        timeout.CancelAfter(Timeout);
        try
        {
            authResponse = await s.Client.SendAsync(authRequest, timeout.Token);
            authBody = await ReadLimitedAsync(await authResponse.Content.ReadAsStreamAsync(timeout.Token), s.MaxResponseBodySize, timeout.Token);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
        {
            if (http.RequestAborted.IsCancellationRequested) return;
            LogAuthServerFailed(s.Logger, s.Middleware, s.Address.GetLeftPart(UriPartial.Path), e.Message);
            await TraefikText.StatusErrorAsync(http, StatusCodes.Status500InternalServerError);
            return;
        }
        using var _ = authResponse;
        if (authBody is null) { await TraefikText.StatusErrorAsync(http, StatusCodes.Status401Unauthorized); return; }

        var status = (int)authResponse.StatusCode;
        if (s.HeaderField.Length > 0 && http.Edge() is { } edge && Values(authResponse, s.HeaderField) is [var user, ..]) edge.User = user;
        if (s.AuthSigninUrl.Length > 0 && status == StatusCodes.Status401Unauthorized)
        {
            await RedirectAsync(http, s.AuthSigninUrl);
            return;
        }
        if (status is < 200 or >= 300)
        {
            await RelayAsync(http, authResponse, authBody, s);
            return;
        }

        foreach (var name in s.AuthResponseHeaders)
        {
            http.Request.Headers.Remove(name);
            if (Values(authResponse, name) is { Length: > 0 } values) http.Request.Headers[name] = values;
        }
        if (s.AuthResponseHeadersRegex is { } regex)
        {
            foreach (var name in http.Request.Headers.Keys.ToList())
                if (regex.IsMatch(Canonical(name))) http.Request.Headers.Remove(name);
            foreach (var (name, values) in authResponse.Headers.Concat(authResponse.Content.Headers))
                if (regex.IsMatch(Canonical(name))) http.Request.Headers[Canonical(name)] = values.ToArray();
        }
        var authCookies = Values(authResponse, "Set-Cookie");
        if (authCookies.Length > 0)
        {
            http.Response.OnStarting(() =>
            {
                // The service's cookies with a listed name give way to the auth server's.
                var kept = http.Response.Headers.SetCookie.Where(c => !s.AuthCookies.Contains(CookieName(c))).ToList();
                kept.AddRange(authCookies.Where(c => s.AuthCookies.Contains(CookieName(c))));
                http.Response.Headers.SetCookie = kept.ToArray();
                return Task.CompletedTask;
            });
        }
        await next(http);
    }

    private static void CopyRequestHeaders(HttpContext http, HttpRequestMessage authRequest, Settings s)
    {
        var request = http.Request;
        var connectionListed = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var value in request.Headers.Connection)
            foreach (var token in (value ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)) connectionListed.Add(token);
        var headers = new Dictionary<string, string[]>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, values) in request.Headers)
        {
            if (HopHeaders.Contains(name) || connectionListed.Contains(name) || name.Equals("Host", StringComparison.OrdinalIgnoreCase) || name.StartsWith(':')) continue;
            if (s.TrustForwardHeader == false && ForwardedHeaders.Contains(name)) continue;
            headers[name] = values.ToArray()!;
        }
        if (s.AuthRequestHeaders.Length > 0)
        {
            var filtered = new Dictionary<string, string[]>(StringComparer.OrdinalIgnoreCase);
            foreach (var name in s.AuthRequestHeaders)
                if (headers.TryGetValue(name, out var values)) filtered[name] = values;
            headers = filtered;
        }
        var clientIp = http.Connection.RemoteIpAddress is { } ip ? (ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip).ToString() : null;
        var proto = request.IsHttps ? "https" : "http";
        var uri = Redirector.RequestUri(request);
        if (s.TrustForwardHeader is null)
        {
            // Traefik's behaviour when trustForwardHeader is unset: these are always the edge's own values.
            if (clientIp is not null) headers["X-Forwarded-For"] = [clientIp];
            headers["X-Forwarded-Proto"] = [proto];
            headers["X-Forwarded-Method"] = [request.Method];
            headers["X-Forwarded-Host"] = [request.Host.Value ?? ""];
            headers["X-Forwarded-Uri"] = [uri];
        }
        else
        {
            if (clientIp is not null)
                headers["X-Forwarded-For"] = [headers.TryGetValue("X-Forwarded-For", out var prior) ? string.Join(", ", prior) + ", " + clientIp : clientIp];
            headers.TryAdd("X-Forwarded-Method", [request.Method]);
            headers.TryAdd("X-Forwarded-Proto", [proto]);
            headers.TryAdd("X-Forwarded-Port", [ForwardedPort(request, headers)]);
            headers.TryAdd("X-Forwarded-Host", [request.Host.Value ?? ""]);
            headers.TryAdd("X-Forwarded-Uri", [uri]);
        }
        foreach (var (name, values) in headers)
        {
            if (authRequest.Headers.TryAddWithoutValidation(name, values)) continue;
            // Content headers belong to the body; without a forwarded body there is nothing to describe.
            if (authRequest.Content is not null && !name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                authRequest.Content.Headers.TryAddWithoutValidation(name, values);
        }
    }

    private static string ForwardedPort(HttpRequest request, Dictionary<string, string[]> headers)
    {
        if (request.Host.Port is { } port) return port.ToString(CultureInfo.InvariantCulture);
        if (headers.TryGetValue("X-Forwarded-Proto", out var proto) && proto is ["https" or "wss", ..]) return "443";
        return request.IsHttps ? "443" : "80";
    }

    private static async Task RelayAsync(HttpContext http, HttpResponseMessage authResponse, byte[] body, Settings s)
    {
        var response = http.Response;
        foreach (var (name, values) in authResponse.Headers.Concat(authResponse.Content.Headers))
        {
            if (HopHeaders.Contains(name) || name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)) continue;
            response.Headers[name] = values.ToArray();
        }
        if (authResponse.Headers.Location is { } location)
        {
            // Go's Response.Location resolves a relative Location against the auth server's URL.
            response.Headers.Location = s.PreserveLocationHeader || location.IsAbsoluteUri
                ? Values(authResponse, "Location")[0]
                : new Uri(s.Address, location).AbsoluteUri;
        }
        response.StatusCode = (int)authResponse.StatusCode;
        response.ContentLength = body.Length;
        await response.Body.WriteAsync(body, http.RequestAborted);
    }

    /// <summary>Go's http.Redirect with 302: Location, and for GET or HEAD a small HTML body with the link.</summary>
    private static Task RedirectAsync(HttpContext http, string url)
    {
        var response = http.Response;
        response.Headers.Location = url;
        response.StatusCode = StatusCodes.Status302Found;
        if (!HttpMethods.IsGet(http.Request.Method) && !HttpMethods.IsHead(http.Request.Method)) return Task.CompletedTask;
        response.ContentType = "text/html; charset=utf-8";
        return response.WriteAsync($"<a href=\"{HtmlEncoder.Default.Encode(url)}\">Found</a>.\n\n", http.RequestAborted);
    }

    /// <summary>Reads a body up to <paramref name="max"/> bytes (no limit when negative); null when it is longer.</summary>
    private static async Task<byte[]?> ReadLimitedAsync(Stream body, long max, CancellationToken cancel)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        while (true)
        {
            var read = await body.ReadAsync(chunk, cancel);
            if (read == 0) return buffer.ToArray();
            if (max >= 0 && buffer.Length + read > max) return null;
            buffer.Write(chunk, 0, read);
        }
    }

    private static string[] Values(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values) ? values.ToArray() : [];

    private static string CookieName(string? setCookie)
    {
        if (setCookie is null) return "";
        var end = setCookie.IndexOfAny(['=', ';']);
        return (end < 0 ? setCookie : setCookie[..end]).Trim();
    }

    /// <summary>Go's canonical header key ("x-auth-user" is "X-Auth-User"), which Traefik's regex sees.</summary>
    private static string Canonical(string name) => string.Create(name.Length, name, static (span, source) =>
    {
        var upper = true;
        for (var i = 0; i < source.Length; i++)
        {
            var c = source[i];
            span[i] = upper ? char.ToUpperInvariant(c) : char.ToLowerInvariant(c);
            upper = c == '-';
        }
    });

    [LoggerMessage(EventId = 1, Level = LogLevel.Error, Message = "Middleware {Middleware}: error calling the authentication server {Address}: {Reason}")]
    private static partial void LogAuthServerFailed(ILogger logger, string middleware, string address, string reason);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Middleware {Middleware}: forwardBody without maxBodySize reads request bodies of any size; set maxBodySize")]
    private static partial void LogUnlimitedBody(ILogger logger, string middleware);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "Middleware {Middleware}: the forwardAuth option {Option} is deprecated in Traefik and has no effect")]
    private static partial void LogDeprecated(ILogger logger, string middleware, string option);
}
