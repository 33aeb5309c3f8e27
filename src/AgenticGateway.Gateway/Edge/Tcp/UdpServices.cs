namespace AgenticGateway.Edge.Tcp;

/// <summary>
/// Builds udp.services: <c>loadBalancer</c> (servers' addresses by round robin) and <c>weighted</c> (services by weight),
/// each as "the next server address for a new session".
/// </summary>
internal static class UdpServices
{
    public static Dictionary<string, Func<string?>> Build(UdpSection udp, List<string> errors)
    {
        var built = new Dictionary<string, Func<string?>>(StringComparer.Ordinal);
        var building = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in udp.Services.Keys)
            Resolve(name, null);
        return built;

        Func<string?>? Resolve(string reference, string? from)
        {
            var name = EdgeNames.Local(reference);
            if (built.TryGetValue(name, out var done))
                return done;
            if (!udp.Services.TryGetValue(name, out var config))
            {
                if (from is not null)
                    errors.Add($"{from}: unknown UDP service {reference}");
                return null;
            }
            if (!building.Add(name))
            {
                errors.Add($"{config.Path}: weighted services refer to each other in a cycle through {name}");
                return null;
            }
            Func<string?>? next = null;
            switch (config)
            {
                case UdpLoadBalancerConfig lb:
                    for (var i = 0; i < lb.Servers.Length; i++)
                    {
                        if (TcpServices.ParseAddress(lb.Servers[i]) is null)
                            errors.Add($"{lb.Path}.servers[{i}].address: '{lb.Servers[i]}' is not host:port");
                    }
                    var servers = new WeightedRoundRobin<string>([.. lb.Servers.Select(s => (s, 1))]);
                    next = () => servers.TryNext(out var server) ? server : null;
                    break;
                case UdpWeightedConfig weighted:
                    var children = new List<(Func<string?>, int)>();
                    for (var i = 0; i < weighted.Services.Length; i++)
                    {
                        if (Resolve(weighted.Services[i].Name, $"{weighted.Path}.services[{i}].name") is { } child)
                            children.Add((child, weighted.Services[i].Weight));
                    }
                    var balancer = new WeightedRoundRobin<Func<string?>>(children);
                    next = () => balancer.TryNext(out var child) ? child() : null;
                    break;
            }
            building.Remove(name);
            if (next is not null)
                built[name] = next;
            return next;
        }
    }
}
