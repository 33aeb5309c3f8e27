using AgenticGateway.Configuration;
using AgenticGateway.Edge;
using AgenticGateway.Runtime;

namespace AgenticGateway.Edge.Runtime;

/// <summary>
/// The edge's current snapshot, and its hot reload: when the file provider's files change (providers.file.watch) or
/// the config file's inline routers do (the gateway's own reload), a new snapshot is built and swapped in atomically.
/// Requests in flight finish on the snapshot they started with; connections (pooled per servers transport) are kept.
/// A file that does not parse leaves the running configuration as it was, with its errors logged.
/// </summary>
internal sealed partial class EdgeHolder(EdgeBuilder builder, RuntimeHolder runtimes, EdgeProviderFiles files, ILogger<EdgeHolder> logger, IServiceProvider services)
    : IHostedService, IDisposable
{
    // ACME, when a certificate resolver is configured: it follows each configuration for the domains to certify.
    private readonly Acme.AcmeManager? _acme = services.GetService<Acme.AcmeManager>();

    private readonly Lock _gate = new();
    private volatile EdgeSnapshot? _current;
    private RequestDelegate? _gateway;
    private GatewayOptions? _builtFrom;
    private EdgeDynamicConfig? _builtFiles;
    private CancellationTokenSource? _stopping;

    public EdgeSnapshot Current => _current ?? throw new InvalidOperationException("the edge has not started");

    private volatile AgenticGateway.Edge.Tcp.EdgeTcpSnapshot _tcp = AgenticGateway.Edge.Tcp.EdgeTcpSnapshot.Empty;

    /// <summary>The TCP and UDP routers, TLS certificates and options: what each new connection to an entry point reads.</summary>
    public AgenticGateway.Edge.Tcp.EdgeTcpSnapshot TcpSnapshot => _tcp;

    private readonly Tls.ICertificateSource[] _certificates = services.GetService<Acme.AcmeManager>() is null ? [] : [services.GetRequiredService<Acme.AcmeCertificates>()];
    private Tls.IAcmeTlsChallenge? AcmeTls => _acme is null ? null : services.GetRequiredService<Acme.AcmeTlsChallenge>();
    private readonly ILoggerFactory _loggers = services.GetRequiredService<ILoggerFactory>();

    /// <summary>Answers ACME HTTP-01 challenges (true when it did) while a certificate resolver is configured.</summary>
    public Acme.AcmeHttpChallenge? AcmeHttpChallenge => _acmeHttp;
    private readonly Acme.AcmeHttpChallenge? _acmeHttp = services.GetService<Acme.AcmeManager>() is null ? null : services.GetRequiredService<Acme.AcmeHttpChallenge>();

    /// <summary>Raised after each swap (the ACME manager and the TCP/UDP routers follow the new configuration).</summary>
    public event Action<EdgeSnapshot>? Swapped;

    /// <summary>Builds the first snapshot; <paramref name="gateway"/> is the rest of the pipeline, where internal services go.</summary>
    public void Start(RequestDelegate gateway)
    {
        lock (_gate)
        {
            _gateway = gateway;
            Rebuild();
        }
    }

    /// <summary>Rebuilds if the inline configuration or the provider's files changed since the last build.</summary>
    public void Refresh()
    {
        lock (_gate)
        {
            if (_gateway is null) return;
            if (ReferenceEquals(_builtFrom, runtimes.Current.Options) && ReferenceEquals(_builtFiles, files.Current)) return;
            Rebuild();
        }
    }

    private void Rebuild()
    {
        var options = runtimes.Current.Options;
        var fileConfig = files.Current;
        var merged = EdgeMerge.Merge(options.Edge.Inline, fileConfig, out var conflicts);
        // A middleware whose options do not decode would disable its routers: such a change is not applied.
        if (_current is not null && builder.CheckMiddlewares(merged, options) is { Count: > 0 } refused)
        {
            Log.MiddlewaresRefused(logger, refused.Count, string.Join("; ", refused));
            _builtFrom = options;
            _builtFiles = fileConfig;
            return;
        }
        foreach (var conflict in conflicts) Log.Conflict(logger, conflict);
        var next = builder.Build(merged, options, _gateway!);
        var tcpErrors = new List<string>();
        var tcp = AgenticGateway.Edge.Tcp.EdgeTcpSnapshot.Build(merged, options.Edge, _certificates, AcmeTls, _loggers, tcpErrors);
        foreach (var error in tcpErrors) Log.Conflict(logger, error);
        next.Start();
        var old = _current;
        _current = next;
        _tcp = tcp;
        _builtFrom = options;
        _builtFiles = fileConfig;
        Log.Built(logger, next.Routers.Length, next.Routers.Count(r => r.Status == "enabled"), next.ServiceStatus.Length);
        old?.Dispose();
        _acme?.Update(merged, options.Edge);
        Swapped?.Invoke(next);
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _stopping = new CancellationTokenSource();
        files.Changed += Refresh;
        _ = WatchRuntimeAsync(_stopping.Token);
        return Task.CompletedTask;
    }

    /// <summary>The config file's reload swaps the gateway's options; the inline routers follow within a second.</summary>
    private async Task WatchRuntimeAsync(CancellationToken stopping)
    {
        try
        {
            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
            while (await timer.WaitForNextTickAsync(stopping))
            {
                try { Refresh(); }
                catch (Exception ex) when (ex is not OperationCanceledException) { Log.RebuildFailed(logger, ex); }
            }
        }
        catch (OperationCanceledException) { }
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        files.Changed -= Refresh;
        _stopping?.Cancel();
        return Task.CompletedTask;
    }

    // The container disposes the holder twice (as itself and as the hosted service its factory returned).
    public void Dispose()
    {
        _stopping?.Cancel();
        _current?.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1904, Level = LogLevel.Information, Message = "edge: configuration loaded: {Routers} routers ({Enabled} enabled), {Services} services")]
        public static partial void Built(ILogger logger, int routers, int enabled, int services);

        [LoggerMessage(EventId = 1905, Level = LogLevel.Warning, Message = "edge: {Conflict}")]
        public static partial void Conflict(ILogger logger, string conflict);

        [LoggerMessage(EventId = 1909, Level = LogLevel.Error, Message = "edge: the new configuration has {Count} middleware error(s) and was not applied; the running configuration stays: {Errors}")]
        public static partial void MiddlewaresRefused(ILogger logger, int count, string errors);

        [LoggerMessage(EventId = 1906, Level = LogLevel.Error, Message = "edge: rebuilding the configuration failed; the previous one stays")]
        public static partial void RebuildFailed(ILogger logger, Exception ex);
    }
}

/// <summary>The inline configuration and the provider's files together; a name defined in both is kept from the config file and reported.</summary>
internal static class EdgeMerge
{
    public static EdgeDynamicConfig Merge(EdgeDynamicConfig inline, EdgeDynamicConfig files, out List<string> conflicts)
    {
        var found = new List<string>();
        if (files.IsEmpty && files.Http.ServersTransports.IsEmpty) { conflicts = found; return inline; }
        if (inline.IsEmpty && inline.Http.ServersTransports.IsEmpty) { conflicts = found; return files; }
        System.Collections.Immutable.ImmutableDictionary<string, T> Join<T>(System.Collections.Immutable.ImmutableDictionary<string, T> a, System.Collections.Immutable.ImmutableDictionary<string, T> b, string what)
        {
            var result = a;
            foreach (var (k, v) in b)
            {
                if (result.ContainsKey(k)) found.Add($"the {what} \"{k}\" is defined both in the config file and in the provider's files; the config file's is used");
                else result = result.Add(k, v);
            }
            return result;
        }
        var merged = new EdgeDynamicConfig
        {
            Http = new HttpSection(Join(inline.Http.Routers, files.Http.Routers, "router"), Join(inline.Http.Services, files.Http.Services, "service"),
                Join(inline.Http.Middlewares, files.Http.Middlewares, "middleware"), Join(inline.Http.ServersTransports, files.Http.ServersTransports, "servers transport")),
            Tcp = new TcpSection(Join(inline.Tcp.Routers, files.Tcp.Routers, "TCP router"), Join(inline.Tcp.Services, files.Tcp.Services, "TCP service"),
                Join(inline.Tcp.Middlewares, files.Tcp.Middlewares, "TCP middleware"), Join(inline.Tcp.ServersTransports, files.Tcp.ServersTransports, "TCP servers transport")),
            Udp = new UdpSection(Join(inline.Udp.Routers, files.Udp.Routers, "UDP router"), Join(inline.Udp.Services, files.Udp.Services, "UDP service")),
            Tls = new TlsSection([.. inline.Tls.Certificates, .. files.Tls.Certificates], Join(inline.Tls.Options, files.Tls.Options, "TLS option"), Join(inline.Tls.Stores, files.Tls.Stores, "TLS store")),
        };
        conflicts = found;
        return merged;
    }
}
