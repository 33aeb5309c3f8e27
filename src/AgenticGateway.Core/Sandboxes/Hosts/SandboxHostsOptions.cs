namespace AgenticGateway.Sandboxes.Hosts;

/// <summary>
/// <c>sandboxes.hosts:</c>: this gateway is one of several sandbox hosts that share a Redis (<c>storage.redis_url</c>).
/// Each host records the sandboxes it runs there, and any replica sends a sandbox's calls to the host that holds it.
/// Absent, sandboxes are this process's alone (the default).
/// </summary>
internal sealed record SandboxHostsOptions
{
    /// <summary>This host's name among the others (<c>id</c>): unique per host. Default: the machine's host name.</summary>
    public required string Id { get; init; }
    /// <summary>Where the other replicas reach this host's API (<c>advertise_url</c>), such as http://10.0.0.5:4000.</summary>
    public required Uri AdvertiseUrl { get; init; }
    /// <summary>
    /// The key every host shares (<c>secret</c>, at least 32 characters): a call one host forwards to another is signed
    /// with it, so a client cannot pass for a host. Kept as bytes, which a record's printed form never shows.
    /// </summary>
    public required byte[] Secret { get; init; }
    /// <summary>How often this host renews its entries in Redis (<c>heartbeat</c>).</summary>
    public TimeSpan Heartbeat { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>How long entries live without a renewal (<c>ttl</c>): a dead host's sandboxes are forgotten after it.</summary>
    public TimeSpan Ttl { get; init; } = TimeSpan.FromSeconds(20);
    /// <summary>
    /// Sandboxes this host runs at once before a create goes to a less loaded host (<c>max_sandboxes</c>); 0 (the
    /// default): no limit of its own, every create made here stays here.
    /// </summary>
    public int MaxSandboxes { get; init; }
    /// <summary>How long a forwarded call may take to connect to the host that holds the sandbox (<c>connect_timeout</c>).</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);
}
