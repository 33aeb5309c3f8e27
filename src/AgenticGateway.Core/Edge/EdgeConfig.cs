using System.Collections.Immutable;

namespace AgenticGateway.Edge;

// Traefik's configuration, validated and immutable. Names follow Traefik's (routers, services, middlewares, entry
// points); option values that only one middleware or service reads stay as EdgeNode and are validated by its builder.

/// <summary>Traefik's dynamic configuration (the file provider's http, tcp, udp and tls sections), merged from every file.</summary>
internal sealed record EdgeDynamicConfig
{
    public HttpSection Http { get; init; } = HttpSection.Empty;
    public TcpSection Tcp { get; init; } = TcpSection.Empty;
    public UdpSection Udp { get; init; } = UdpSection.Empty;
    public TlsSection Tls { get; init; } = TlsSection.Empty;

    public static readonly EdgeDynamicConfig Empty = new();

    public bool IsEmpty => Http.Routers.IsEmpty && Http.Services.IsEmpty && Http.Middlewares.IsEmpty && Tcp.Routers.IsEmpty && Udp.Routers.IsEmpty && Tls.Certificates.IsEmpty;
}

internal sealed record HttpSection(
    ImmutableDictionary<string, HttpRouterConfig> Routers,
    ImmutableDictionary<string, HttpServiceConfig> Services,
    ImmutableDictionary<string, MiddlewareConfig> Middlewares,
    ImmutableDictionary<string, ServersTransportConfig> ServersTransports)
{
    public static readonly HttpSection Empty = new(Names.Empty<HttpRouterConfig>(), Names.Empty<HttpServiceConfig>(), Names.Empty<MiddlewareConfig>(), Names.Empty<ServersTransportConfig>());
}

internal sealed record TcpSection(
    ImmutableDictionary<string, TcpRouterConfig> Routers,
    ImmutableDictionary<string, TcpServiceConfig> Services,
    ImmutableDictionary<string, MiddlewareConfig> Middlewares,
    ImmutableDictionary<string, TcpServersTransportConfig> ServersTransports)
{
    public static readonly TcpSection Empty = new(Names.Empty<TcpRouterConfig>(), Names.Empty<TcpServiceConfig>(), Names.Empty<MiddlewareConfig>(), Names.Empty<TcpServersTransportConfig>());
}

internal sealed record UdpSection(ImmutableDictionary<string, UdpRouterConfig> Routers, ImmutableDictionary<string, UdpServiceConfig> Services)
{
    public static readonly UdpSection Empty = new(Names.Empty<UdpRouterConfig>(), Names.Empty<UdpServiceConfig>());
}

/// <summary>Traefik's names: exact, case-sensitive (two routers may differ by case only, as in Traefik).</summary>
internal static class Names
{
    public static ImmutableDictionary<string, T> Empty<T>() => ImmutableDictionary.Create<string, T>(StringComparer.Ordinal);
}

// ---------- HTTP ----------

/// <summary>
/// An HTTP router. <see cref="Priority"/> 0 means Traefik's default: the rule's length. <see cref="EntryPoints"/> empty
/// means every entry point marked as default (all of them when none is marked).
/// </summary>
internal sealed record HttpRouterConfig(
    string Name,
    string Rule,
    Rules.HttpRule Matcher,
    int Priority,
    ImmutableArray<string> EntryPoints,
    ImmutableArray<string> Middlewares,
    string Service,
    RouterTlsConfig? Tls,
    string Path)
{
    /// <summary>The priority routers are ordered by: the explicit one, else the rule's length (Traefik's default).</summary>
    public int EffectivePriority => Priority != 0 ? Priority : Rule.Length;

    /// <summary>The router's observability section (access logs, metrics, tracing); null when absent (everything on).</summary>
    public RouterObservabilityConfig? Observability { get; init; }
}

/// <summary>A router's observability switches (Traefik v3.3+); each null means the entry point's setting.</summary>
internal sealed record RouterObservabilityConfig(bool? AccessLogs, bool? Metrics, bool? Tracing, string TraceVerbosity);

/// <summary>A router's tls section: present (even empty) means the router serves HTTPS only.</summary>
internal sealed record RouterTlsConfig(string? Options, string? CertResolver, ImmutableArray<TlsDomain> Domains, bool Passthrough = false);

internal sealed record TlsDomain(string Main, ImmutableArray<string> Sans);

/// <summary>One of Traefik's HTTP service kinds: loadBalancer, weighted, mirroring, failover.</summary>
internal abstract record HttpServiceConfig(string Name, string Path);

internal sealed record LoadBalancerConfig(
    string Name,
    string Path,
    ImmutableArray<ServerConfig> Servers,
    StickyConfig? Sticky,
    HealthCheckConfig? HealthCheck,
    bool PassHostHeader,
    string? ServersTransport,
    TimeSpan? FlushInterval,
    string Strategy) : HttpServiceConfig(Name, Path)
{
    /// <summary>Passive health checks: a server failing this many times within the window is out for the window.</summary>
    public PassiveHealthCheckConfig? PassiveHealthCheck { get; init; }
}

internal sealed record PassiveHealthCheckConfig(TimeSpan FailureWindow, int MaxFailedAttempts);

/// <summary>A server: its URL (scheme, host, port and an optional path prefix), weight, and whether path is kept as is.</summary>
internal sealed record ServerConfig(Uri Url, int Weight, bool PreservePath);

/// <summary>
/// Sticky sessions by cookie (Traefik's sticky.cookie). <see cref="CookieName"/> is the configured name made safe
/// for a cookie (Traefik's sanitising), or null: then the runtime names it with <see cref="GeneratedCookieName"/>.
/// </summary>
internal sealed record StickyConfig(string? CookieName, bool Secure, bool HttpOnly, string? SameSite, int MaxAge, string? Path, string? Domain)
{
    /// <summary>Traefik's default cookie name for a service: "_" and the first 5 hex digits of SHA-1("_TRAEFIK_BACKEND_" + its qualified name).</summary>
    public static string GeneratedCookieName(string qualifiedServiceName)
    {
        var hash = System.Security.Cryptography.SHA1.HashData(System.Text.Encoding.UTF8.GetBytes("_TRAEFIK_BACKEND_" + qualifiedServiceName));
        return "_" + Convert.ToHexStringLower(hash)[..5];
    }
}

/// <summary>Active health checks (Traefik's healthCheck).</summary>
internal sealed record HealthCheckConfig(
    string? Scheme,
    string Mode,
    string Path,
    string Method,
    int Status,
    int? Port,
    TimeSpan Interval,
    TimeSpan UnhealthyInterval,
    TimeSpan Timeout,
    string? Hostname,
    bool FollowRedirects,
    ImmutableArray<KeyValuePair<string, string>> Headers);

internal sealed record WeightedConfig(string Name, string Path, ImmutableArray<WeightedService> Services, StickyConfig? Sticky, bool HealthCheck) : HttpServiceConfig(Name, Path);

internal sealed record WeightedService(string Name, int Weight);

internal sealed record MirroringConfig(string Name, string Path, string Service, ImmutableArray<Mirror> Mirrors, long MaxBodySize, bool MirrorBody, bool HealthCheck) : HttpServiceConfig(Name, Path);

internal sealed record Mirror(string Name, int Percent);

internal sealed record FailoverConfig(string Name, string Path, string Service, string Fallback, bool HealthCheck) : HttpServiceConfig(Name, Path)
{
    /// <summary>Failover on answers too (Traefik's failover.errors): the statuses that send the request to the fallback, and how much body is kept to replay it (-1: no limit).</summary>
    public FailoverErrorsConfig? Errors { get; init; }
}

internal sealed record FailoverErrorsConfig(ImmutableArray<string> Status, long MaxRequestBodyBytes);

/// <summary>A middleware: its Traefik type (<c>stripPrefix</c>, <c>basicAuth</c>, ... or one of ours) and its options, read by its builder.</summary>
internal sealed record MiddlewareConfig(string Name, string Type, EdgeNode Options);

/// <summary>How the edge connects to a service's servers (Traefik's serversTransport).</summary>
internal sealed record ServersTransportConfig(
    string Name,
    string? ServerName,
    bool InsecureSkipVerify,
    ImmutableArray<string> RootCas,
    ImmutableArray<CertificateConfig> Certificates,
    int MaxIdleConnsPerHost,
    TimeSpan DialTimeout,
    TimeSpan ResponseHeaderTimeout,
    TimeSpan IdleConnTimeout,
    bool DisableHttp2)
{
    public ImmutableArray<string> CipherSuites { get; init; } = [];
    public string? MinVersion { get; init; }
    public string? MaxVersion { get; init; }
    /// <summary>HTTP/2 ping health check after this long without a frame (zero: none), and how long a ping may take.</summary>
    public TimeSpan ReadIdleTimeout { get; init; }
    public TimeSpan PingTimeout { get; init; } = TimeSpan.FromSeconds(15);
    /// <summary>The URI SAN the server's certificate must carry.</summary>
    public string? PeerCertUri { get; init; }
}

// ---------- TCP and UDP ----------

internal sealed record TcpRouterConfig(
    string Name,
    string Rule,
    Rules.TcpRule Matcher,
    int Priority,
    ImmutableArray<string> EntryPoints,
    ImmutableArray<string> Middlewares,
    string Service,
    RouterTlsConfig? Tls,
    string Path)
{
    /// <summary>The explicit priority, else the rule's length; Traefik puts a bare HostSNI(`*`) last (-1).</summary>
    public int EffectivePriority => Priority != 0 ? Priority : Matcher.IsCatchAll ? -1 : Rule.Length;
}

internal abstract record TcpServiceConfig(string Name, string Path);

/// <summary>TCP servers (<c>address</c>: host:port; <c>tls</c>: connect with TLS), PROXY protocol to them, and how long a half-closed connection lingers.</summary>
internal sealed record TcpLoadBalancerConfig(string Name, string Path, ImmutableArray<TcpServerConfig> Servers, int? ProxyProtocolVersion, TimeSpan TerminationDelay, string? ServersTransport) : TcpServiceConfig(Name, Path);

internal sealed record TcpServerConfig(string Address, bool Tls, int Weight);

internal sealed record TcpWeightedConfig(string Name, string Path, ImmutableArray<WeightedService> Services) : TcpServiceConfig(Name, Path);

internal sealed record TcpServersTransportConfig(string Name, TimeSpan DialTimeout, TimeSpan DialKeepAlive, TimeSpan TerminationDelay, string? ServerName, bool InsecureSkipVerify, ImmutableArray<string> RootCas)
{
    /// <summary>PROXY protocol version (1 or 2) sent to the servers; null for none.</summary>
    public int? ProxyProtocolVersion { get; init; }
    /// <summary>Whether the transport has a tls section (servers reached with TLS use it).</summary>
    public bool Tls { get; init; }
    public ImmutableArray<CertificateConfig> Certificates { get; init; } = [];
    public string? PeerCertUri { get; init; }
}

internal sealed record UdpRouterConfig(string Name, ImmutableArray<string> EntryPoints, string Service, string Path);

internal abstract record UdpServiceConfig(string Name, string Path);

internal sealed record UdpLoadBalancerConfig(string Name, string Path, ImmutableArray<string> Servers) : UdpServiceConfig(Name, Path);

internal sealed record UdpWeightedConfig(string Name, string Path, ImmutableArray<WeightedService> Services) : UdpServiceConfig(Name, Path);

// ---------- TLS ----------

internal sealed record TlsSection(
    ImmutableArray<CertificateConfig> Certificates,
    ImmutableDictionary<string, TlsOptionsConfig> Options,
    ImmutableDictionary<string, TlsStoreConfig> Stores)
{
    public static readonly TlsSection Empty = new([], Names.Empty<TlsOptionsConfig>(), Names.Empty<TlsStoreConfig>());
}

/// <summary>A certificate and its key: each a file path or the PEM text itself (Traefik accepts both).</summary>
internal sealed record CertificateConfig(string CertFile, string KeyFile, ImmutableArray<string> Stores, string Path);

/// <summary>
/// TLS options: versions as Traefik names them (<c>VersionTLS12</c>, <c>VersionTLS13</c>), IANA cipher suite names,
/// client authentication (<c>NoClientCert</c>, <c>RequestClientCert</c>, <c>RequireAnyClientCert</c>,
/// <c>VerifyClientCertIfGiven</c>, <c>RequireAndVerifyClientCert</c>) against CA files.
/// </summary>
internal sealed record TlsOptionsConfig(
    string Name,
    string? MinVersion,
    string? MaxVersion,
    ImmutableArray<string> CipherSuites,
    ImmutableArray<string> CurvePreferences,
    ImmutableArray<string> ClientCaFiles,
    string ClientAuthType,
    bool SniStrict,
    ImmutableArray<string> AlpnProtocols,
    string Path)
{
    /// <summary>No TLS session resumption by ticket (SslServerAuthenticationOptions.AllowTlsResume false).</summary>
    public bool DisableSessionTickets { get; init; }
}

internal sealed record TlsStoreConfig(string Name, CertificateConfig? DefaultCertificate, string? DefaultGeneratedResolver, TlsDomain? DefaultGeneratedDomain);

// ---------- static configuration ----------

/// <summary>
/// Traefik's static configuration as our config file holds it: <c>entryPoints</c>, <c>providers.file</c>,
/// <c>certificatesResolvers</c>, <c>api</c>, <c>metrics.prometheus</c>, <c>accessLog</c>. Start-up only, as in Traefik.
/// </summary>
internal sealed record EdgeStaticConfig
{
    public ImmutableDictionary<string, EntryPointConfig> EntryPoints { get; init; } = Names.Empty<EntryPointConfig>();
    public FileProviderConfig? FileProvider { get; init; }
    public ImmutableDictionary<string, CertResolverConfig> CertificatesResolvers { get; init; } = Names.Empty<CertResolverConfig>();
    /// <summary>Traefik's api section: the /api/* endpoints (always behind the admin credentials here) and the dashboard.</summary>
    public bool Api { get; init; }
    public bool Dashboard { get; init; }
    public PrometheusConfig Prometheus { get; init; } = PrometheusConfig.Default;
    /// <summary>The dynamic configuration written inline in our config file (http, tcp, udp, tls at the top level).</summary>
    public EdgeDynamicConfig Inline { get; init; } = EdgeDynamicConfig.Empty;

    public static readonly EdgeStaticConfig Empty = new();

    /// <summary>Whether the edge has anything to do: no entry points, provider or inline routers means today's gateway, untouched.</summary>
    public bool IsEnabled => !EntryPoints.IsEmpty || FileProvider is not null || !Inline.IsEmpty;
}

/// <summary>
/// An entry point: where it listens (<c>:8443</c>, <c>127.0.0.1:8000</c>, <c>:53/udp</c>), its default router settings
/// (redirections, tls, middlewares), timeouts, and whose forwarded headers and PROXY protocol headers it trusts.
/// </summary>
internal sealed record EntryPointConfig(
    string Name,
    string Address,
    System.Net.IPEndPoint EndPoint,
    bool Udp,
    bool AsDefault,
    RedirectionConfig? Redirection,
    RouterTlsConfig? DefaultTls,
    ImmutableArray<string> DefaultMiddlewares,
    TimeSpan ReadTimeout,
    TimeSpan WriteTimeout,
    TimeSpan IdleTimeout,
    TimeSpan GraceTimeout,
    TrustedIpsConfig ForwardedHeaders,
    TrustedIpsConfig? ProxyProtocol,
    int? Http2MaxConcurrentStreams,
    TimeSpan UdpTimeout,
    string Path)
{
    /// <summary>The entry point's default observability for its routers (a router's own section replaces it).</summary>
    public RouterObservabilityConfig? Observability { get; init; }
}

/// <summary>entryPoints.X.http.redirections.entryPoint: to (an entry point name or a port), scheme, permanent, priority.</summary>
internal sealed record RedirectionConfig(string To, string Scheme, bool Permanent, int Priority);

/// <summary>Trusted client addresses (IPs and CIDRs) or every client (<c>insecure</c>).</summary>
internal sealed record TrustedIpsConfig(ImmutableArray<string> TrustedIps, bool Insecure)
{
    public static readonly TrustedIpsConfig None = new([], false);
}

internal sealed record FileProviderConfig(string? Filename, string? Directory, bool Watch);

/// <summary>An ACME certificate resolver (Let's Encrypt, Pebble, any RFC 8555 server).</summary>
internal sealed record CertResolverConfig(
    string Name,
    string? Email,
    string CaServer,
    string? Storage,
    string KeyType,
    TimeSpan CertificatesDuration,
    string? HttpChallengeEntryPoint,
    bool TlsChallenge,
    ImmutableArray<string> CaCertificates,
    string Path);

internal sealed record PrometheusConfig(bool AddEntryPointsLabels, bool AddRoutersLabels, bool AddServicesLabels, ImmutableArray<double> Buckets)
{
    public static readonly PrometheusConfig Default = new(true, false, true, [0.1, 0.3, 1.2, 5.0]);
}
