using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Diagnostics;
using System.Security.Cryptography;
using AgenticGateway.OpenAi;
using AgenticGateway.Sandboxes.Agent;
using AgenticGateway.Sandboxes.Protocol;

namespace AgenticGateway.Sandboxes;

/// <summary>
/// Owns every sandbox's lifecycle: create (from the warm pool when it fits, cold otherwise), find (only by its owner),
/// extend, end (deleted, expired, out of quota, crashed), and at start-up the reaping of what a crashed run left.
/// </summary>
internal sealed partial class SandboxManager : BackgroundService
{
    private readonly SandboxOptions _options;
    private readonly IReadOnlyDictionary<string, ISandboxDriver> _drivers;
    private readonly SandboxMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, Sandbox> _live = new(StringComparer.Ordinal);
    private readonly SandboxCounts _counts = new();
    private readonly SandboxQuotas _quotas;
    private readonly SandboxPool _pool;
    private readonly ISandboxCluster? _cluster;
    private readonly Usage.UsageSampler _usage;

    /// <param name="drivers">Every offered driver by name (<see cref="SandboxOptions.OfferedDrivers"/>), the default among them.</param>
    /// <param name="stateDirectory">Where paused sandboxes and snapshots are kept (in the data directory); null: no persistence.</param>
    /// <param name="cluster">The other hosts (<c>sandboxes.hosts</c>), or null when this host's sandboxes are its own.</param>
    public SandboxManager(SandboxOptions options, IReadOnlyDictionary<string, ISandboxDriver> drivers, SandboxMetrics metrics, TimeProvider time, ILogger<SandboxManager> logger,
        string? stateDirectory = null, ISandboxCluster? cluster = null)
    {
        _store = options.Persistence.Enabled && stateDirectory is not null ? new Persistence.SnapshotStore(stateDirectory) : null;
        _cluster = cluster;
        _options = options;
        _drivers = drivers;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _quotas = new SandboxQuotas(_options.Quota, time);
        // A pool on a driver that cannot run here is not filled (it would fail every 2 s, slowing the other pools).
        var fillable = _options.Pools.Where(p => drivers[_options.DriverFor(p.Key, null)].Unavailable is null).ToImmutableDictionary();
        _pool = new SandboxPool(_options with { Pools = fillable }, StartWarmAsync, _counts, (runtime, instance, reason) => _ = DiscardAsync(runtime, instance, reason), time, logger);
        Unavailable = _options.Enabled == false ? "sandboxes.enabled is false" : drivers[options.Driver].Unavailable;
        _usage = new Usage.UsageSampler(time, id => _paused.ContainsKey(id), logger);
    }

    /// <summary>Every running sandbox's CPU, memory and disk, sampled (and kept for paused ones): E2B's metrics.</summary>
    public Usage.UsageSampler Usage => _usage;

    /// <summary>Why the sandbox API is off, or null when it is on.</summary>
    public string? Unavailable { get; }

    public SandboxOptions Options => _options;

    public SandboxMetrics Metrics => _metrics;

    public int Active => _live.Count;

    public int PoolReady(string runtime) => _pool.Ready(runtime);

    public async Task<(Sandbox? Sandbox, ApiError? Error)> CreateAsync(string owner, SandboxSpec spec, CancellationToken cancellationToken)
    {
        // The API refuses first; this holds for every caller (a gateway that only routes to other hosts runs none).
        if (Unavailable is { } off) return (null, new ApiError(503, $"Sandboxes are off on this gateway: {off}.", "service_unavailable", "sandboxes_disabled"));
        var started = Stopwatch.GetTimestamp();
        var pool = _options.Pools.GetValueOrDefault(spec.Runtime);
        var resources = spec.Resources;
        if (pool is not null && resources.Timeout > pool.MaxLifetime) resources = resources with { Timeout = pool.MaxLifetime };
        if (spec.Packages.Length > 0 && spec.Network.Mode == NetworkMode.None && (_options.PackageCache is null || spec.Runtime != "python"))
            return (null, new ApiError(400, $"packages cannot be installed: network is \"none\" and {(spec.Runtime == "python" ? "no package_cache is configured" : "only Python packages install from the package cache")}. Use network \"allowlist\" with the package index in allow_hosts, or configure sandboxes.package_cache.", "invalid_request_error", "packages_unavailable", "packages"));

        if (_quotas.TryAdmit(owner, resources.Timeout, LiveSecondsOf(owner, _time.GetUtcNow())) is { } refusal) return (null, refusal);
        var admitted = false;
        var id = NewId();
        var clustered = false;
        try
        {
            if (_cluster is not null)
            {
                if (await _cluster.AdmitAsync(owner, id, spec.Runtime, _live.Count, cancellationToken) is { } full) return (null, full);
                clustered = true;
            }
            // A pooled sandbox already counts towards max_total; only a cold start needs room of its own.
            var fromPool = spec.FitsPool(_options.Defaults, _options.DriverFor(spec.Runtime, null)) ? _pool.TryTake(spec.Runtime) : null;
            var instance = fromPool;
            if (instance is null)
            {
                if (!_counts.TryReserve(spec.Runtime, pool?.MaxTotal ?? int.MaxValue))
                    return (null, new ApiError(503, $"The gateway runs its maximum of {pool!.MaxTotal} {spec.Runtime} sandboxes; try again later.", "service_unavailable", "sandbox_capacity") { RetryAfterSeconds = 5 });
                try { instance = await StartAsync(id, spec, cancellationToken); }
                catch (Exception ex)
                {
                    _counts.Release(spec.Runtime);
                    if (ex is SandboxStartError start) return (null, start.Error);
                    throw;
                }
            }
            var sandbox = Admit(id, owner, spec with { Resources = resources }, instance);
            admitted = true;
            await AnnounceAsync(sandbox, fromPool is not null, fromPool is not null ? "pool" : "cold", started);
            return (sandbox, null);
        }
        finally
        {
            if (!admitted)
            {
                _quotas.Released(owner, TimeSpan.Zero);
                if (clustered) await _cluster!.WithdrawAsync(owner, id, spec.Runtime);
            }
        }
    }

    public Sandbox? Find(string owner, string id) =>
        _live.TryGetValue(id, out var s) && s.Owner == owner && !s.HasEnded && !s.IsPausing ? s : null;

    public IEnumerable<Sandbox> List(string owner) => _live.Values.Where(s => s.Owner == owner && !s.HasEnded && !s.IsPausing).OrderBy(s => s.CreatedAt);

    /// <summary>Every live sandbox, whoever owns it: what the admin UI lists and may end.</summary>
    public IEnumerable<Sandbox> All() => _live.Values.Where(s => !s.HasEnded).OrderBy(s => s.CreatedAt);

    /// <summary>Every paused sandbox on this host, whoever owns it: what it keeps routed here (<see cref="ISandboxCluster"/>).</summary>
    public IEnumerable<(string Id, string Owner, string Runtime)> AllPaused() =>
        _paused.Values.Select(s => (s.Manifest.Id, s.Manifest.Owner, s.Manifest.Spec.Runtime));

    public Sandbox? FindAny(string id) => _live.TryGetValue(id, out var s) && !s.HasEnded ? s : null;

    /// <summary>New expiry: now plus <paramref name="timeout"/>, within sandboxes.max.timeout, the pool's max_lifetime and the owner's quota.</summary>
    public ApiError? Extend(Sandbox sandbox, TimeSpan timeout)
    {
        if (timeout <= TimeSpan.Zero || timeout > _options.Max.Timeout)
            return ApiError.BadRequest($"timeout must be between 1 and {_options.Max.Timeout.TotalSeconds:0} seconds.", "timeout");
        var now = _time.GetUtcNow();
        var until = now + timeout;
        if (_options.Pools.GetValueOrDefault(sandbox.Runtime) is { } pool && until > sandbox.CreatedAt + pool.MaxLifetime)
            until = sandbox.CreatedAt + pool.MaxLifetime;
        sandbox.ExpiresAt = until;
        return null;
    }

    public async Task EndAsync(Sandbox sandbox, string reason)
    {
        if (!sandbox.TryEnd(reason)) return;
        await TearDownAsync(sandbox, reason);
    }

    /// <summary>What ending a sandbox does once <see cref="Sandbox.TryEnd"/> has made the caller the one to do it.</summary>
    private async Task TearDownAsync(Sandbox sandbox, string reason)
    {
        // Its seconds move from "live" to "used" before it leaves the live set, so no create slips in between.
        _quotas.Released(sandbox.Owner, _time.GetUtcNow() - sandbox.CreatedAt);
        _live.TryRemove(sandbox.Id, out _);
        // A paused sandbox's state stays on this host's disk: the other hosts keep sending its calls (resume) here.
        if (_cluster is not null) await (reason == "paused" ? _cluster.PausedAsync(sandbox) : _cluster.EndedAsync(sandbox));
        await sandbox.Instance.DisposeAsync();
        _counts.Release(sandbox.Runtime);
        _metrics.Ended(sandbox.Runtime, reason);
        SandboxLog.Ended(_logger, sandbox.Id, reason);
        _pool.Nudge();
    }

    /// <summary>Ends a sandbox whose instance died by itself (e.g. its agent was OOM-killed).</summary>
    /// <summary>A started instance becomes a live sandbox: listed, sampled. From here its quota is the sandbox's.</summary>
    private Sandbox Admit(string id, string owner, SandboxSpec spec, ISandboxInstance instance)
    {
        var now = _time.GetUtcNow();
        var sandbox = new Sandbox(id, owner, spec, instance, now, now + spec.Resources.Timeout);
        sandbox.ContextKnown(spec.Runtime);
        _live[id] = sandbox;
        _usage.Track(sandbox);
        return sandbox;
    }

    /// <summary>What follows an admission: the cluster registry, the watch for its end, the metric and the log line.</summary>
    /// <param name="how">How it started, for the log: pool, cold, resume, fork.</param>
    private async Task AnnounceAsync(Sandbox sandbox, bool pooled, string how, long started)
    {
        if (_cluster is not null) await _cluster.StartedAsync(sandbox);
        _ = WatchAsync(sandbox);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        _metrics.Created(sandbox.Runtime, pooled, seconds);
        SandboxLog.Created(_logger, sandbox.Id, sandbox.Runtime, sandbox.Owner, seconds * 1000, how);
    }

    private async Task WatchAsync(Sandbox sandbox)
    {
        await sandbox.Instance.Exited;
        if (!sandbox.HasEnded) await EndAsync(sandbox, sandbox.Instance.EndReason ?? "exited");
    }

    private double LiveSecondsOf(string owner, DateTimeOffset now) =>
        _live.Values.Where(s => s.Owner == owner).Sum(s => (now - s.CreatedAt).TotalSeconds);

    private async Task<ISandboxInstance> StartAsync(string id, SandboxSpec spec, CancellationToken cancellationToken)
    {
        var pool = _options.Pools.GetValueOrDefault(spec.Runtime);
        var launch = new SandboxLaunch(id, spec.Resources, _options.MaxProcesses, spec.Network, pool?.BootTimeout ?? TimeSpan.FromSeconds(10))
        {
            PackageCache = spec.Packages.Length > 0 ? _options.PackageCache : null,
            PreStartContext = spec.Runtime,
            Template = spec.Template,
        };
        var name = _options.DriverFor(spec.Runtime, spec.Isolation);
        var driver = _drivers[name];
        if (driver.Unavailable is { } why)
            throw new SandboxStartError(new ApiError(503, $"Isolation \"{name}\" is not available on this host: {why}", "service_unavailable", "sandbox_isolation_unavailable"));
        ISandboxInstance instance;
        try { instance = await driver.StartAsync(launch, cancellationToken); }
        catch (Bubblewrap.SandboxStartException ex)
        {
            SandboxLog.StartFailed(_logger, id, ex.Message);
            throw new SandboxStartError(new ApiError(503, $"The sandbox could not be started: {ex.Message}", "service_unavailable", "sandbox_start_failed") { RetryAfterSeconds = 1 });
        }
        try
        {
            await instance.Agent.CallAsync(AgentOps.ContextCreate, w => { w.WriteString("context", spec.Runtime); w.WriteString("language", spec.Runtime); }, cancellationToken);
            launch.Timeline.Mark("interpreter");
            if (spec.Template is { } template)
            {
                await Templates.TemplateAgent.ApplyAsync(instance.Agent, template, spec.Runtime, spec.Env, instance.TemplateInImage, cancellationToken);
                launch.Timeline.Mark("template");
            }
            if (spec.Packages.Length > 0)
            {
                await PackageInstaller.InstallAsync(instance.Agent, spec, _options, cancellationToken);
                // Python adds the user site directory to sys.path only if it exists at start: restart to see the packages.
                await instance.Agent.CallAsync(AgentOps.ContextRestart, w => w.WriteString("context", spec.Runtime), cancellationToken);
            }
            if (_logger.IsEnabled(LogLevel.Debug)) SandboxLog.StartPhases(_logger, id, launch.Timeline.ToString());
            return instance;
        }
        catch (Exception ex)
        {
            await instance.DisposeAsync();
            if (ex is SandboxStartError) throw;
            if (ex is AgentException t && spec.Template is not null)
                throw new SandboxStartError(new ApiError(503, $"The sandbox could not be started from template '{spec.Template.Name}': {t.Message}", "service_unavailable", "template_start_failed"));
            if (ex is AgentException a)
                throw new SandboxStartError(new ApiError(503, $"The sandbox's {spec.Runtime} interpreter did not start: {a.Message}", "service_unavailable", "sandbox_start_failed"));
            throw;
        }
    }

    private Task<ISandboxInstance> StartWarmAsync(string runtime, CancellationToken cancellationToken) =>
        StartAsync(NewId(), new SandboxSpec { Runtime = runtime, Resources = _options.Defaults }, cancellationToken);

    private async Task DiscardAsync(string runtime, ISandboxInstance instance, string reason)
    {
        await instance.DisposeAsync();
        _counts.Release(runtime);
        _metrics.Ended(runtime, reason);
        _pool.Nudge();
    }

    private static string NewId() => "sb-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(10));

    /// <summary>
    /// Reaps what a crashed run left before the host has started, not in <see cref="ExecuteAsync"/>: that runs on the
    /// thread pool while requests are already served, and a reap there killed the first sandboxes created meanwhile.
    /// </summary>
    public override Task StartAsync(CancellationToken cancellationToken)
    {
        if (Unavailable is null)
        {
            var reaped = _drivers.Values.Where(d => d.Unavailable is null).Sum(d => d.ReapOrphans());
            if (reaped > 0) SandboxLog.Reaped(_logger, reaped);
            LoadStates();
        }
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (Unavailable is not null)
        {
            SandboxLog.Disabled(_logger, Unavailable);
            return;
        }
        foreach (var (name, driver) in _drivers)
            if (name != _options.Driver && driver.Unavailable is { } why) SandboxLog.DriverUnavailable(_logger, name, why);
        SandboxLog.Enabled(_logger, string.Join("; ", _drivers.Where(d => d.Value.Unavailable is null).Select(d => d.Key == _options.Driver ? d.Value.Description + " (default)" : d.Value.Description)),
            string.Join(", ", _options.Pools.Select(p => $"{p.Key} min_ready={p.Value.MinReady}{(p.Value.Driver is { } d ? " on " + d : "")}")));
        var pool = _pool.RunAsync(stoppingToken);
        var sampling = _usage.RunAsync(stoppingToken);
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(250), _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var now = _time.GetUtcNow();
                ExpireStates(now);
                // Each owner's live sandbox-seconds once per tick (not once per sandbox), and only with a time quota.
                var liveSeconds = new Dictionary<string, double>(StringComparer.Ordinal);
                if (_options.Quota.MaxSandboxSeconds > 0)
                    foreach (var sandbox in _live.Values)
                        liveSeconds[sandbox.Owner] = liveSeconds.GetValueOrDefault(sandbox.Owner) + (now - sandbox.CreatedAt).TotalSeconds;
                foreach (var sandbox in _live.Values)
                {
                    if (sandbox.IsSaving) continue;     // a pause or snapshot in progress: dealt with on a later tick
                    if (now >= sandbox.ExpiresAt) _ = sandbox.Spec.AutoPause ? AutoPauseAsync(sandbox) : EndAsync(sandbox, "expired");
                    else if (_quotas.Exhausted(sandbox.Owner, liveSeconds.GetValueOrDefault(sandbox.Owner))) _ = EndAsync(sandbox, "quota");
                }
            }
        }
        catch (OperationCanceledException) { }
        await pool;
        await sampling;
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await PauseForShutdownAsync(cancellationToken);
        await Task.WhenAll(_live.Values.Select(s => EndAsync(s, "shutdown")).Concat(_pool.Drain().Select(p => DiscardAsync(p.Runtime, p.Instance, "shutdown"))));
        if (Unavailable is null)
            foreach (var driver in _drivers.Values.Where(d => d.Unavailable is null)) driver.RemoveHostState();
    }
}

/// <summary>A start failure already phrased for the caller.</summary>
internal sealed class SandboxStartError(ApiError error) : Exception(error.Message)
{
    public ApiError Error { get; } = error;
}
