using System.Collections.Immutable;
using AgenticGateway.Edge.Runtime;

namespace AgenticGateway.Edge.Api;

/// <summary>A router, service or middleware as Traefik's API lists it: its full name, provider, status, errors and configuration.</summary>
internal sealed record EdgeApiItem(string Name, string Provider, string Kind, string Status, ImmutableArray<string> Errors, ImmutableArray<string> UsedBy, object? Config)
{
    /// <summary>Routers: the effective entry points (Traefik's <c>using</c>) and priority (the rule's length when not set).</summary>
    public ImmutableArray<string> Using { get; init; } = [];
    public ImmutableArray<string> EntryPoints { get; init; } = [];
    public int Priority { get; init; }
    public string Rule { get; init; } = "";
    public string Service { get; init; } = "";
    public ImmutableArray<string> Middlewares { get; init; } = [];
    /// <summary>Services: Traefik's type (loadbalancer, weighted, mirroring, failover) and each server's UP/DOWN.</summary>
    public string Type { get; init; } = "";
    public IReadOnlyList<KeyValuePair<string, string>> ServerStatus { get; init; } = [];
    public int ServersCount { get; init; }
}

/// <summary>
/// What the edge runs, in Traefik's API terms, read from one snapshot: the configured routers, services and middlewares
/// with their status, plus the internal ones (the gateway's default routers, <c>gateway@internal</c>, ...) that carry
/// traffic. Built per API call from the current snapshot (cheap: one object per item).
/// </summary>
internal sealed class EdgeView
{
    public required ImmutableArray<EdgeApiItem> Routers { get; init; }
    public required ImmutableArray<EdgeApiItem> Services { get; init; }
    public required ImmutableArray<EdgeApiItem> Middlewares { get; init; }

    public static EdgeView Of(EdgeSnapshot snapshot, EdgeStaticConfig statics)
    {
        var defaults = DefaultEntryPoints(statics);
        var routers = ImmutableArray.CreateBuilder<EdgeApiItem>();
        var serviceUsers = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        void Uses(string service, string router)
        {
            if (!serviceUsers.TryGetValue(service, out var list)) serviceUsers[service] = list = [];
            if (!list.Contains(router)) list.Add(router);
        }
        foreach (var status in snapshot.Routers)
        {
            if (status.Config is not HttpRouterConfig config) continue;
            ImmutableArray<string> eps = config.EntryPoints.IsEmpty ? defaults : config.EntryPoints;
            var service = EdgeBuilder.FullName(config.Service, status.Provider);
            Uses(service, status.Name);
            routers.Add(new EdgeApiItem(status.Name, status.Provider, "router", status.Status, status.Errors, [], config)
            {
                EntryPoints = eps,
                Using = [.. eps.Where(snapshot.EntryPoints.ContainsKey)],
                Priority = config.EffectivePriority,
                Rule = config.Rule,
                Service = config.Service,
                Middlewares = config.Middlewares,
            });
        }
        // The internal routers (the gateway's default one on its listener, entry point redirections): Traefik lists its own too.
        var internals = new Dictionary<string, (EdgeRoute Route, List<string> EntryPoints)>(StringComparer.Ordinal);
        foreach (var (ep, table) in snapshot.EntryPoints)
        {
            foreach (var route in table.Routes)
            {
                if (!route.Name.EndsWith("@internal", StringComparison.Ordinal)) continue;
                if (!internals.TryGetValue(route.Name, out var found)) internals[route.Name] = found = (route, []);
                found.EntryPoints.Add(ep);
            }
        }
        foreach (var (name, (route, eps)) in internals)
        {
            eps.Sort(StringComparer.Ordinal);
            Uses(route.Service, name);
            routers.Add(new EdgeApiItem(name, "internal", "router", "enabled", [], [], null)
            {
                EntryPoints = [.. eps], Using = [.. eps], Priority = route.Priority, Rule = "PathPrefix(`/`)", Service = route.Service, Middlewares = [],
            });
        }

        var services = ImmutableArray.CreateBuilder<EdgeApiItem>();
        foreach (var status in snapshot.ServiceStatus)
        {
            var config = status.Config as HttpServiceConfig;
            var built = snapshot.Services.GetValueOrDefault(status.Name);
            services.Add(new EdgeApiItem(status.Name, status.Provider, "service", status.Status, status.Errors, Users(serviceUsers, status.Name, status.UsedBy), config)
            {
                Type = config switch { LoadBalancerConfig => "loadbalancer", WeightedConfig => "weighted", MirroringConfig => "mirroring", FailoverConfig => "failover", _ => "" },
                ServerStatus = built?.ServerStatus ?? [],
                ServersCount = config is LoadBalancerConfig lb ? lb.Servers.Length : 0,
            });
        }
        foreach (var (name, _) in snapshot.Services)
        {
            // The gateway's own services, listed when a router uses them (as Traefik lists api@internal and the like).
            if (!name.EndsWith("@internal", StringComparison.Ordinal) || !serviceUsers.ContainsKey(name)) continue;
            services.Add(new EdgeApiItem(name, "internal", "service", "enabled", [], Users(serviceUsers, name, []), null));
        }

        var middlewares = ImmutableArray.CreateBuilder<EdgeApiItem>();
        foreach (var status in snapshot.Middlewares)
        {
            var config = status.Config as MiddlewareConfig;
            middlewares.Add(new EdgeApiItem(status.Name, status.Provider, "middleware", status.Status, status.Errors, status.UsedBy, config)
            {
                Type = config?.Type.ToLowerInvariant() ?? "",
            });
        }
        return new EdgeView { Routers = routers.ToImmutable(), Services = services.ToImmutable(), Middlewares = middlewares.ToImmutable() };
    }

    private static ImmutableArray<string> Users(Dictionary<string, List<string>> users, string name, ImmutableArray<string> known)
    {
        var all = new SortedSet<string>(known, StringComparer.Ordinal);
        if (users.TryGetValue(name, out var list)) all.UnionWith(list);
        return [.. all];
    }

    /// <summary>Where a router without entryPoints listens: the entry points marked asDefault, else all (HTTP) ones, else the gateway's listener.</summary>
    public static ImmutableArray<string> DefaultEntryPoints(EdgeStaticConfig statics)
    {
        var http = statics.EntryPoints.Values.Where(e => !e.Udp).ToList();
        var marked = http.Where(e => e.AsDefault).Select(e => e.Name).ToList();
        if (marked.Count > 0) return [.. marked.Order(StringComparer.Ordinal)];
        if (http.Count > 0) return [.. http.Select(e => e.Name).Order(StringComparer.Ordinal)];
        return [EdgeEntryPoint.Gateway];
    }
}
