using System.Globalization;
using System.IO.Hashing;
using System.Net;
using System.Text;
using AgenticGateway.Edge;
using Microsoft.Net.Http.Headers;
using Yarp.ReverseProxy.Forwarder;

namespace AgenticGateway.Edge.Runtime;

/// <summary>One server of a load balancer, with its health as the health checker last saw it.</summary>
internal sealed class EdgeServer(ServerConfig config, string destinationPrefix, ForwarderRequestConfig requestConfig)
{
    public ServerConfig Config { get; } = config;
    /// <summary>What YARP prefixes the request path with: scheme, authority and the server's own path.</summary>
    public string DestinationPrefix { get; } = destinationPrefix;
    public ForwarderRequestConfig RequestConfig { get; } = requestConfig;
    /// <summary>The sticky cookie's value for this server: a hash of its URL, so the URL itself is not disclosed.</summary>
    public string CookieValue { get; } = Convert.ToHexStringLower(XxHash64.Hash(Encoding.UTF8.GetBytes(config.Url.AbsoluteUri)));
    public volatile bool Healthy = true;
    /// <summary>The URL as logs, metrics and the API show it: without credentials a user wrote into it (user:password@).</summary>
    public string Display { get; } = string.IsNullOrEmpty(config.Url.UserInfo) ? config.Url.OriginalString : config.Url.OriginalString.Replace(config.Url.UserInfo + "@", "", StringComparison.Ordinal);
}

/// <summary>
/// Traefik's loadBalancer service: weighted round robin over the healthy servers, sticky sessions by cookie, the
/// client's Host passed on (passHostHeader) or replaced, and the request proxied by YARP's forwarder (streams copied as
/// they come, WebSocket and HTTP/2 upgrades, gRPC trailers). A connection failure before any response byte sets
/// <see cref="EdgeRequest.ProxyFailed"/> and leaves the 502 unwritten, so the retry middleware may try again.
/// </summary>
internal sealed class LoadBalancerService : EdgeService
{
    private readonly LoadBalancerConfig _config;
    private readonly EdgeServer[] _servers;
    private readonly WeightedCycle _cycle;
    private readonly IHttpForwarder _forwarder;
    private readonly HttpMessageInvoker _invoker;
    private readonly HttpTransformer _transformer;
    private readonly string? _cookieName;
    private readonly HealthChecker? _health;

    public LoadBalancerService(string name, LoadBalancerConfig config, IHttpForwarder forwarder, HttpMessageInvoker invoker, ServersTransportConfig? transport, ILogger logger, TimeProvider time)
        : base(name)
    {
        _config = config;
        _forwarder = forwarder;
        _invoker = invoker;
        _servers = config.Servers.Select(s => Server(s, config, transport)).ToArray();
        _cycle = new WeightedCycle(_servers.Select(s => s.Config.Weight).ToArray());
        _transformer = new EdgeTransformer(config.PassHostHeader);
        _cookieName = config.Sticky is null ? null : config.Sticky.CookieName ?? StickyConfig.GeneratedCookieName(name);
        if (config.HealthCheck is { } hc) _health = new HealthChecker(name, hc, _servers, invoker, logger, time);
    }

    public IReadOnlyList<EdgeServer> Servers => _servers;

    public override bool IsUp
    {
        get
        {
            foreach (var s in _servers) if (s.Healthy) return true;
            return false;
        }
    }

    public override IReadOnlyList<KeyValuePair<string, string>> ServerStatus =>
        _servers.Select(s => new KeyValuePair<string, string>(s.Display, s.Healthy ? "UP" : "DOWN")).ToArray();

    public override void Start(CancellationToken stopping) => _health?.Start(stopping);

    public override Task InvokeAsync(HttpContext context)
    {
        var server = Choose(context);
        if (server is null)
        {
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            return context.Response.WriteAsync("no available server");
        }
        if (context.Edge() is { } edge) edge.Server = server.Display;
        var sending = _forwarder.SendAsync(context, server.DestinationPrefix, _invoker, server.RequestConfig, _transformer);
        return sending.IsCompletedSuccessfully && sending.Result == ForwarderError.None ? Task.CompletedTask : SentAsync(context, sending);
    }

    private static async Task SentAsync(HttpContext context, ValueTask<ForwarderError> sending)
    {
        var error = await sending;
        if (error == ForwarderError.None || context.Response.HasStarted) return;
        // Only when no server answered (it could not be reached, or did not answer in time): a request a server may
        // have acted on and answered is never replayed.
        if (error is not (ForwarderError.Request or ForwarderError.RequestTimedOut)) return;
        // The forwarder set 502 or 504 and wrote no body: the retry middleware may try again; the edge step writes
        // Traefik's text ("Bad Gateway") if nothing does.
        if (context.Edge() is { } edge) edge.ProxyFailed = true;
    }

    private EdgeServer? Choose(HttpContext context)
    {
        if (_cookieName is not null && context.Request.Cookies[_cookieName] is { Length: > 0 } pinned)
        {
            foreach (var s in _servers)
                if (s.Healthy && string.Equals(s.CookieValue, pinned, StringComparison.Ordinal)) return s;
        }
        if (context.Edge()?.AffinityKey is { Length: > 0 } key) return ByAffinity(key);
        var i = _cycle.Next(static (c, servers) => servers[c].Healthy, _servers);
        if (i < 0) return null;
        var server = _servers[i];
        if (_cookieName is not null) SetCookie(context, server);
        return server;
    }

    /// <summary>
    /// Rendezvous hashing: the healthy server with the highest hash of (key, server) wins, so a conversation stays on
    /// its server, and only the conversations of a server that goes down move (weights scale the scores).
    /// </summary>
    private EdgeServer? ByAffinity(string key)
    {
        EdgeServer? best = null;
        var bestScore = double.MinValue;
        Span<byte> buffer = stackalloc byte[256];
        foreach (var s in _servers)
        {
            if (!s.Healthy) continue;
            var text = Encoding.UTF8.GetMaxByteCount(key.Length + s.CookieValue.Length + 1) <= buffer.Length ? buffer : new byte[Encoding.UTF8.GetMaxByteCount(key.Length + s.CookieValue.Length + 1)];
            var n = Encoding.UTF8.GetBytes(key, text);
            text[n++] = 0;
            n += Encoding.UTF8.GetBytes(s.CookieValue, text[n..]);
            var hash = XxHash64.HashToUInt64(text[..n]);
            // -w / ln(u), u uniform in (0,1): weighted rendezvous scores.
            var u = (hash >> 11) * (1.0 / (1UL << 53)) + double.Epsilon;
            var score = -Math.Max(s.Config.Weight, 1) / Math.Log(u);
            if (score > bestScore) { bestScore = score; best = s; }
        }
        return best;
    }

    private void SetCookie(HttpContext context, EdgeServer server)
    {
        var sticky = _config.Sticky!;
        var cookie = new SetCookieHeaderValue(_cookieName, server.CookieValue)
        {
            Path = sticky.Path ?? "/",
            HttpOnly = sticky.HttpOnly,
            Secure = sticky.Secure,
            Domain = sticky.Domain,
            SameSite = sticky.SameSite?.ToLowerInvariant() switch
            {
                "none" => Microsoft.Net.Http.Headers.SameSiteMode.None,
                "lax" => Microsoft.Net.Http.Headers.SameSiteMode.Lax,
                "strict" => Microsoft.Net.Http.Headers.SameSiteMode.Strict,
                _ => Microsoft.Net.Http.Headers.SameSiteMode.Unspecified,
            },
        };
        if (sticky.MaxAge != 0) cookie.MaxAge = TimeSpan.FromSeconds(sticky.MaxAge);
        context.Response.Headers.Append(HeaderNames.SetCookie, cookie.ToString());
    }

    private static EdgeServer Server(ServerConfig server, LoadBalancerConfig config, ServersTransportConfig? transport)
    {
        var url = server.Url;
        // h2c:// is Traefik's scheme for HTTP/2 without TLS (prior knowledge): gRPC to a plain-text backend.
        var h2c = url.Scheme.Equals("h2c", StringComparison.OrdinalIgnoreCase);
        var scheme = h2c ? "http" : url.Scheme.ToLowerInvariant();
        var prefix = $"{scheme}://{url.Authority}{url.AbsolutePath.TrimEnd('/')}";
        var request = new ForwarderRequestConfig
        {
            // No idle cut on long streams (SSE, WebSocket, gRPC); Traefik has none by default either.
            ActivityTimeout = transport is { ResponseHeaderTimeout.Ticks: > 0 } t ? t.ResponseHeaderTimeout : TimeSpan.FromHours(1),
            Version = h2c ? HttpVersion.Version20 : (transport?.DisableHttp2 == true ? HttpVersion.Version11 : HttpVersion.Version20),
            VersionPolicy = h2c ? HttpVersionPolicy.RequestVersionExact : HttpVersionPolicy.RequestVersionOrLower,
            AllowResponseBuffering = false,
        };
        return new EdgeServer(server, prefix, request);
    }
}

/// <summary>
/// The request as the server sees it: Traefik's forwarded headers (X-Forwarded-For/-Host/-Port/-Proto/-Server/-Prefix,
/// X-Real-Ip; the entry point removed untrusted ones already), and the client's Host kept unless passHostHeader is false.
/// </summary>
internal sealed class EdgeTransformer(bool passHostHeader) : HttpTransformer
{
    private static readonly string ServerName = Dns.GetHostName();

    public override async ValueTask TransformRequestAsync(HttpContext context, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        await base.TransformRequestAsync(context, proxyRequest, destinationPrefix, cancellationToken);
        var request = context.Request;
        proxyRequest.Headers.Host = passHostHeader ? request.Host.Value : null;
        var headers = proxyRequest.Headers;
        var remote = context.Connection.RemoteIpAddress;
        var remoteText = remote?.IsIPv4MappedToIPv6 == true ? remote.MapToIPv4().ToString() : remote?.ToString();
        // The headers middleware removed it (customRequestHeaders X-Forwarded-For: ""): Traefik then sends none.
        if (context.Edge()?.OmitForwardedFor == true) headers.Remove("X-Forwarded-For");
        else if (remoteText is not null)
        {
            var existing = request.Headers["X-Forwarded-For"];
            headers.Remove("X-Forwarded-For");
            headers.TryAddWithoutValidation("X-Forwarded-For", existing.Count == 0 ? remoteText : $"{string.Join(", ", existing.ToArray())}, {remoteText}");
        }
        var websocket = request.Headers.Upgrade.ToString().Equals("websocket", StringComparison.OrdinalIgnoreCase);
        SetIfAbsent(request, headers, "X-Forwarded-Proto", request.IsHttps ? (websocket ? "wss" : "https") : (websocket ? "ws" : "http"));
        SetIfAbsent(request, headers, "X-Forwarded-Host", request.Host.Value ?? "");
        SetIfAbsent(request, headers, "X-Forwarded-Port", (request.Host.Port ?? context.Connection.LocalPort).ToString(CultureInfo.InvariantCulture));
        headers.Remove("X-Forwarded-Server");
        headers.TryAddWithoutValidation("X-Forwarded-Server", ServerName);
        if (!request.Headers.ContainsKey("X-Real-Ip") && remoteText is not null) headers.TryAddWithoutValidation("X-Real-Ip", remoteText);
        if (context.Edge()?.StrippedPrefix is { Length: > 0 } prefix)
        {
            headers.Remove("X-Forwarded-Prefix");
            headers.TryAddWithoutValidation("X-Forwarded-Prefix", prefix);
        }
    }

    private static void SetIfAbsent(HttpRequest request, System.Net.Http.Headers.HttpRequestHeaders headers, string name, string value)
    {
        if (request.Headers.ContainsKey(name)) return;
        headers.TryAddWithoutValidation(name, value);
    }
}
