using AgenticGateway.Limits;
using AgenticGateway.Sandboxes;

namespace AgenticGateway.Services.Sandboxes.Hosts;

/// <summary>Several sandbox hosts (<c>sandboxes.hosts</c>): the registry, its heartbeat, and the forwarding step.</summary>
internal static class SandboxHosts
{
    /// <summary>Registers the hosts' services when configured; the manager takes the registry as its <see cref="ISandboxCluster"/>.</summary>
    public static void Add(IServiceCollection services, SandboxOptions options)
    {
        if (options.Hosts is not { } hosts) return;
        services.AddHttpForwarder();
        services.AddSingleton(sp => new SandboxRegistry(sp.GetRequiredService<RedisConnection>(), options, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<SandboxRegistry>>()));
        services.AddSingleton<ISandboxCluster>(sp => sp.GetRequiredService<SandboxRegistry>());
        services.AddSingleton(sp => new HostSignature(hosts.Secret, hosts.Id, sp.GetRequiredService<TimeProvider>()));
        // A forwarded upload may be as large as the largest file a host accepts, plus its multipart framing.
        services.AddSingleton(sp => new HostForwarder(sp.GetRequiredService<Yarp.ReverseProxy.Forwarder.IHttpForwarder>(), sp.GetRequiredService<HostSignature>(),
            hosts.ConnectTimeout, options.MaxFileBytes + (1 << 20)));
        services.AddSingleton<HostMetrics>();
        services.AddSingleton<HostHeartbeat>();
        services.AddHostedService(sp => sp.GetRequiredService<HostHeartbeat>());
    }

    /// <summary>The pipeline step, or null when this gateway is its only sandbox host.</summary>
    public static Type? Step(SandboxOptions options) => options.Hosts is null ? null : typeof(SandboxHostStep);
}
