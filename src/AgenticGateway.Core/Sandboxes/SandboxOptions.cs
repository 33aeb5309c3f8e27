using System.Collections.Immutable;

namespace AgenticGateway.Sandboxes;

/// <summary>The sandbox gateway's settings (<c>sandboxes:</c> in the config). Every default is written here.</summary>
internal sealed record SandboxOptions
{
    /// <summary>Off turns the /v1/sandboxes API into 404s. On by default where the driver can run.</summary>
    public bool? Enabled { get; init; }
    /// <summary>Isolation backend, chosen by name: "bubblewrap" (Linux namespaces), "firecracker" (microVMs, KVM) or "qemu" (microVMs, KVM or TCG).</summary>
    public string Driver { get; init; } = "bubblewrap";
    /// <summary>
    /// Every driver this gateway offers (<c>drivers:</c>; the default <see cref="Driver"/> always among them): what a
    /// runtime's pool (<c>pools.&lt;runtime&gt;.driver</c>) or a create request (<c>"isolation"</c>) may choose.
    /// </summary>
    public ImmutableArray<string> OfferedDrivers { get; init; } = ["bubblewrap"];
    /// <summary>The firecracker driver's settings; used when <see cref="Driver"/> is "firecracker".</summary>
    public Firecracker.FirecrackerOptions Firecracker { get; init; } = new();
    /// <summary>The qemu driver's settings; used when <see cref="Driver"/> is "qemu".</summary>
    public Qemu.QemuOptions Qemu { get; init; } = new();
    public SandboxResources Defaults { get; init; } = new();
    /// <summary>The most a sandbox may ask for; larger requests are refused.</summary>
    public SandboxResources Max { get; init; } = new() { Timeout = TimeSpan.FromHours(24), MemoryMb = 8192, Cpu = 4, DiskMb = 16384 };
    /// <summary>Default wall-clock limit of one execute or foreground command.</summary>
    public TimeSpan ExecuteTimeout { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>Output kept per execute or command (stdout and stderr together); the rest is dropped and marked truncated.</summary>
    public int MaxOutputBytes { get; init; } = 1 << 20;
    /// <summary>Largest file accepted by an upload.</summary>
    public long MaxFileBytes { get; init; } = 100L << 20;
    /// <summary>Processes per sandbox (cgroup pids.max): what holds a fork bomb.</summary>
    public int MaxProcesses { get; init; } = 256;
    /// <summary>A local directory of Python wheels and npm tarballs that <c>packages: [...]</c> installs from.</summary>
    public string? PackageCache { get; init; }
    /// <summary>Warm pools per runtime. A runtime without an entry has no pool (every create is cold).</summary>
    public ImmutableDictionary<string, PoolOptions> Pools { get; init; } = ImmutableDictionary<string, PoolOptions>.Empty.Add("python", new PoolOptions());
    public QuotaOptions Quota { get; init; } = new();
    /// <summary>
    /// USD per second of sandbox work done for the hosted code interpreter (a run's wall-clock time, with its
    /// container's start when the run made one): charged to the caller's budgets and written to the spend log. 0 (the
    /// default) makes sandbox time free, yet still logged. LiteLLM prices only a whole session
    /// (<c>code_interpreter_cost_per_session</c>), which says nothing about a run's length; its naming is kept.
    /// </summary>
    public decimal CostPerSecond { get; init; }
    /// <summary>The operator's bounds on network "allowlist": a ceiling on allow_hosts, and private networks opted in.</summary>
    public Egress.EgressOptions Egress { get; init; } = new();
    /// <summary>
    /// A host name on which the E2B-compatible API answers at the root (<c>e2b.host</c>: E2B_API_URL=https://host), as
    /// it always does under /e2b; null: the prefix only.
    /// </summary>
    public string? E2bHost { get; init; }
    /// <summary>Pause, resume, snapshots and forks: the per-owner caps on what is kept on disk.</summary>
    public PersistenceOptions Persistence { get; init; } = new();
    /// <summary>Several sandbox hosts sharing a Redis (<c>hosts:</c>); null: this process's sandboxes are its own.</summary>
    public Hosts.SandboxHostsOptions? Hosts { get; init; }

    public static readonly ImmutableArray<string> Runtimes = ["python", "node", "bash"];
    public static readonly ImmutableArray<string> Drivers = ["bubblewrap", "firecracker", "qemu"];

    /// <summary>The driver a sandbox runs on: the request's isolation, else its runtime's, else the default.</summary>
    public string DriverFor(string runtime, string? isolation) => isolation ?? Pools.GetValueOrDefault(runtime)?.Driver ?? Driver;
}

/// <summary>What one sandbox gets: wall-clock lifetime, memory, CPUs and a size-capped writable disk.</summary>
internal sealed record SandboxResources
{
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(5);
    public int MemoryMb { get; init; } = 512;
    public double Cpu { get; init; } = 1;
    public int DiskMb { get; init; } = 512;
}

/// <summary>Seed 000's SandboxPoolConfig: how many ready sandboxes to keep per runtime, and for how long.</summary>
internal sealed record PoolOptions
{
    public int MinReady { get; init; } = 2;
    /// <summary>Sandboxes of this runtime alive at once, pooled and in use together; creates beyond it are refused (503).</summary>
    public int MaxTotal { get; init; } = 50;
    /// <summary>A ready sandbox unused this long is replaced by a fresh one.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(10);
    /// <summary>No sandbox of this runtime lives longer than this, whatever timeout it asks for.</summary>
    public TimeSpan MaxLifetime { get; init; } = TimeSpan.FromHours(24);
    /// <summary>A sandbox whose agent has not answered in this time is killed.</summary>
    public TimeSpan BootTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>The driver this runtime's sandboxes (pooled or not) run on; null: <c>sandboxes.driver</c>.</summary>
    public string? Driver { get; init; }
}

/// <summary>Per key (the master key counts as one owner): sandboxes alive at once, and sandbox-seconds per period.</summary>
internal sealed record QuotaOptions
{
    public int MaxConcurrent { get; init; } = 20;
    /// <summary>Sandbox-seconds a key may use per <see cref="Period"/>; 0 means no limit.</summary>
    public long MaxSandboxSeconds { get; init; }
    public TimeSpan Period { get; init; } = TimeSpan.FromDays(1);
}

/// <summary>
/// Per owner (key): paused sandboxes and snapshots kept at once, and the disk their state may take together. State
/// lives in the data directory (<c>storage.data_dir</c>/sandbox-state), so paused sandboxes survive a restart.
/// </summary>
internal sealed record PersistenceOptions
{
    /// <summary>Off: pause, resume and snapshots are refused (auto-pause ends the sandbox instead).</summary>
    public bool Enabled { get; init; } = true;
    public int MaxPaused { get; init; } = 10;
    public int MaxSnapshots { get; init; } = 10;
    /// <summary>Disk for one owner's paused sandboxes and snapshots together, in MiB.</summary>
    public long MaxDiskMb { get; init; } = 10240;
    /// <summary>Paused sandboxes and snapshots older than this are deleted; null keeps them until deleted.</summary>
    public TimeSpan? Ttl { get; init; }
}
