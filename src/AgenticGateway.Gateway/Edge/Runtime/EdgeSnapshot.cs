using System.Collections.Frozen;
using System.Collections.Immutable;
using AgenticGateway.Edge;
using AgenticGateway.Edge.Rules;

namespace AgenticGateway.Edge.Runtime;

/// <summary>One router as built: its rule, whether it takes TLS requests only, and its chain ending in the service.</summary>
internal sealed class EdgeRoute(string name, HttpRule rule, int priority, bool tls, string service, RequestDelegate handler)
{
    public string Name { get; } = name;
    public HttpRule Rule { get; } = rule;
    public int Priority { get; } = priority;
    /// <summary>Traefik: a router with a tls section serves HTTPS requests only, one without serves plain HTTP only.</summary>
    public bool Tls { get; } = tls;
    public string Service { get; } = service;
    public RequestDelegate Handler { get; } = handler;
}

/// <summary>An entry point's routers, highest priority first, and whose forwarded headers it trusts.</summary>
internal sealed class EntryPointRoutes(string name, EdgeRoute[] routes, TrustedIpsConfig forwardedHeaders)
{
    public string Name { get; } = name;
    public EdgeRoute[] Routes { get; } = routes;
    public TrustedIpsConfig ForwardedHeaders { get; } = forwardedHeaders;
    // The static configuration checked each range already (StaticConfigReader); one that does not parse matches nothing.
    private readonly IpRange[] _trusted = Ranges(forwardedHeaders.TrustedIps);

    private static IpRange[] Ranges(IEnumerable<string> texts)
    {
        var ranges = new List<IpRange>();
        foreach (var text in texts) if (IpRange.TryParse(text, out var range, out _)) ranges.Add(range);
        return [.. ranges];
    }

    public bool TrustsForwardedHeaders(System.Net.IPAddress? peer)
    {
        if (ForwardedHeaders.Insecure) return true;
        if (peer is null) return false;
        foreach (var range in _trusted) if (range.Contains(peer)) return true;
        return false;
    }
}

/// <summary>What Traefik's API shows of a router, service or middleware: its status and, when disabled, why.</summary>
internal sealed record EdgeItemStatus(string Name, string Kind, string Provider, string Status, ImmutableArray<string> Errors, ImmutableArray<string> UsedBy, object Config);

/// <summary>
/// The edge as built from one configuration: routers per entry point, services, and each item's status for the API.
/// Immutable; a reload builds a new one and swaps it in (<see cref="EdgeHolder"/>), requests in flight finish on theirs.
/// </summary>
internal sealed class EdgeSnapshot : IDisposable
{
    private readonly CancellationTokenSource _stopping = new();

    public EdgeSnapshot(EdgeDynamicConfig config, FrozenDictionary<string, EntryPointRoutes> entryPoints, FrozenDictionary<string, EdgeService> services,
        ImmutableArray<EdgeItemStatus> routers, ImmutableArray<EdgeItemStatus> serviceStatus, ImmutableArray<EdgeItemStatus> middlewares)
    {
        Config = config;
        EntryPoints = entryPoints;
        Services = services;
        Routers = routers;
        ServiceStatus = serviceStatus;
        Middlewares = middlewares;
    }

    public EdgeDynamicConfig Config { get; }
    public FrozenDictionary<string, EntryPointRoutes> EntryPoints { get; }
    public FrozenDictionary<string, EdgeService> Services { get; }
    public ImmutableArray<EdgeItemStatus> Routers { get; }
    public ImmutableArray<EdgeItemStatus> ServiceStatus { get; }
    public ImmutableArray<EdgeItemStatus> Middlewares { get; }

    /// <summary>Starts the services' health checks; they stop when the snapshot is replaced.</summary>
    public void Start()
    {
        foreach (var service in Services.Values) service.Start(_stopping.Token);
    }

    private int _disposed;

    /// <summary>Stops the health checks. Idempotent: the holder and the container may both dispose it.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stopping.Cancel();
        _stopping.Dispose();
    }
}
