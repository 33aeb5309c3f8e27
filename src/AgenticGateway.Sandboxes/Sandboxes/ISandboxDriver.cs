using AgenticGateway.Sandboxes.Agent;

namespace AgenticGateway.Sandboxes;

/// <summary>
/// An isolation backend, chosen by name from config: it starts a sandbox with the guest agent running inside and
/// hands back the agent's connection. Everything above it (API, pool, quotas) is backend-neutral.
/// </summary>
internal interface ISandboxDriver
{
    string Name { get; }

    /// <summary>What isolation it provides here, for the start-up log (e.g. "bubblewrap, cgroups V1").</summary>
    string Description { get; }

    /// <summary>Null when the backend can run here; otherwise why not (missing binary, wrong OS).</summary>
    string? Unavailable { get; }

    /// <summary>Starts a sandbox and returns once its agent has said it is ready.</summary>
    Task<ISandboxInstance> StartAsync(SandboxLaunch launch, CancellationToken cancellationToken);

    /// <summary>Removes whatever an earlier run of this gateway (same data directory) left behind; returns how many sandboxes.</summary>
    int ReapOrphans();

    /// <summary>
    /// At shutdown, once every sandbox has ended: removes what the driver keeps on the host for this data directory
    /// (extracted guest files, snapshot templates, socket directories), so nothing is left in /run or /tmp.
    /// </summary>
    void RemoveHostState();
}

/// <summary>What a driver needs to start one sandbox.</summary>
internal sealed record SandboxLaunch(string Id, SandboxResources Resources, int MaxProcesses, NetworkPolicy Network, TimeSpan BootTimeout)
{
    /// <summary>Read-only host directory mounted at /opt/agw-packages (the package cache), if any.</summary>
    public string? PackageCache { get; init; }

    /// <summary>
    /// The context (named after its language) the agent starts at launch, so the interpreter boots alongside the agent
    /// rather than after a context.create round trip; null for none. Drivers that cannot pass it leave it to that create.
    /// </summary>
    public string? PreStartContext { get; init; }

    /// <summary>
    /// The template the sandbox starts from, if any: a driver that can boot it from an image with the template's home
    /// in it does (and says so in <see cref="ISandboxInstance.TemplateInImage"/>); otherwise the layer is copied in.
    /// </summary>
    public Templates.SandboxTemplate? Template { get; init; }

    /// <summary>Where the start's phases are marked, for the debug log.</summary>
    public StartTimeline Timeline { get; init; } = new();
}

/// <summary>A running sandbox as its driver sees it.</summary>
internal interface ISandboxInstance : IAsyncDisposable
{
    AgentConnection Agent { get; }

    /// <summary>Completes when the sandbox has ended (its agent exited, or it was killed).</summary>
    Task Exited { get; }

    /// <summary>The driver that runs it ("bubblewrap", "qemu", "firecracker").</summary>
    string Isolation { get; }

    /// <summary>The guest image version it booted (microVMs), or null where there is no image (bubblewrap).</summary>
    string? Image { get; }

    /// <summary>Why it ended, when the driver can tell (e.g. "oom").</summary>
    string? EndReason { get; }

    /// <summary>It booted from its template's boot image: the template's home is in place, nothing to copy in.</summary>
    bool TemplateInImage { get; }
}

internal enum NetworkMode { None, Allowlist }

/// <summary>No network at all, or egress through the filtering proxy to the listed host names only.</summary>
internal sealed record NetworkPolicy(NetworkMode Mode, IReadOnlyList<string> AllowHosts)
{
    public static readonly NetworkPolicy None = new(NetworkMode.None, []);
}
