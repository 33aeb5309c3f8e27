using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using AgenticGateway.Configuration;
using AgenticGateway.Cedar;
using AgenticGateway.Routing;
using AgenticGateway.Runtime;

namespace AgenticGateway.Policies;

/// <summary>A loaded policy set and the settings it was loaded with; replaced whole on a reload.</summary>
internal sealed record PolicySnapshot(PolicySet Set, RoutingPolicyOptions Options, ImmutableArray<string> Files, DateTimeOffset LoadedAt);

/// <summary>What a reload did: the set it loaded, or every error while the old set stays.</summary>
internal sealed record PolicyReloadResult(bool Succeeded, int Loaded, ImmutableArray<string> Files, ImmutableArray<string> Policies, ImmutableArray<string> Errors, int Kept,
    DateTimeOffset At, string Trigger);

/// <summary>
/// The routing policies in force (<see cref="Current"/>, null when none are configured: the request path then does
/// nothing but that null check). Reloads when a policy file changes (debounced), on <c>POST /policies/reload</c>, and
/// when a config reload changes <c>routing_policies</c>; a reload that fails keeps the set in force.
/// </summary>
internal sealed class RoutingPolicies : IHostedService, IDisposable
{
    private static readonly TimeSpan Debounce = TimeSpan.FromMilliseconds(250);
    private readonly RuntimeHolder _runtimes;
    private readonly PolicyMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<RoutingPolicies> _logger;
    private readonly Lock _gate = new();
    private readonly ConditionalWeakTable<ModelGroup, ICedarEntity[]> _groupEntities = new();
    private volatile PolicySnapshot? _current;
    private RoutingPolicyOptions? _configured;
    private PolicyReloadResult? _last;
    private FileSystemWatcher? _watcher;
    private ITimer? _timer;

    public RoutingPolicies(RuntimeHolder runtimes, PolicyMetrics metrics, TimeProvider time, ILogger<RoutingPolicies> logger)
    {
        _runtimes = runtimes;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        // Loaded here, not when hosted services start: the first request must already see them.
        Configure(runtimes.Current.Options.RoutingPolicies, "start");
    }

    public PolicySnapshot? Current => _current;
    public PolicyReloadResult? LastReload => Volatile.Read(ref _last);
    public TimeProvider Time => _time;

    /// <summary>The group's deployments as Cedar resources, made once per group (a config reload makes new groups).</summary>
    public ICedarEntity[] EntitiesOf(ModelGroup group)
    {
        if (_groupEntities.TryGetValue(group, out var known)) return known;
        var made = Array.ConvertAll(group.Deployments, d => (ICedarEntity)new DeploymentEntity(d.Options, d.State, _time));
        return _groupEntities.GetValue(group, _ => made);
    }

    /// <summary>Reloads the configured files now (POST /policies/reload, the file watcher).</summary>
    public PolicyReloadResult Reload(string trigger)
    {
        lock (_gate)
        {
            if (_configured is not { } options)
            {
                return Remember(new PolicyReloadResult(false, 0, [], [], ["routing_policies is not configured"], 0, _time.GetUtcNow(), trigger));
            }
            return LoadLocked(options, trigger);
        }
    }

    private void Configure(RoutingPolicyOptions? options, string trigger)
    {
        lock (_gate)
        {
            if (options == _configured && (options is null || _current is not null)) return;
            var previous = _configured;
            _configured = options;
            StopWatching();
            if (options is null)
            {
                if (previous is not null) PolicyLog.Disabled(_logger);
                _current = null;
                _metrics.Unloaded();
                return;
            }
            // A config reload validated the files already; if they changed since, the old set stays (and the error is said).
            LoadLocked(options, trigger);
            if (options.Watch) TryWatch(options.Path);
        }
    }

    private PolicyReloadResult LoadLocked(RoutingPolicyOptions options, string trigger)
    {
        var compiled = RoutingPolicyFiles.Compile(options.Path);
        var now = _time.GetUtcNow();
        var kept = _current?.Set.Policies.Length ?? 0;
        if (!compiled.Succeeded)
        {
            _metrics.Reloaded(false, kept);
            PolicyLog.ReloadFailed(_logger, options.Path, trigger, kept, string.Join("\n", compiled.Errors.Select(e => "  - " + e)));
            return Remember(new PolicyReloadResult(false, 0, compiled.Files, [], compiled.Errors, kept, now, trigger));
        }
        var set = compiled.Set!;
        _current = new PolicySnapshot(set, options, compiled.Files, now);
        _metrics.Reloaded(true, set.Policies.Length);
        PolicyLog.Loaded(_logger, options.Path, set.Policies.Length, trigger);
        return Remember(new PolicyReloadResult(true, set.Policies.Length, compiled.Files, [.. set.Policies.Select(p => p.Id)], [], 0, now, trigger));
    }

    private PolicyReloadResult Remember(PolicyReloadResult result)
    {
        Volatile.Write(ref _last, result);
        return result;
    }

    // A watcher can fail to start (inotify limits, a directory gone or unreadable): the gateway carries on without
    // watching, since POST /policies/reload still works, rather than fail a config reload or start-up.
    private void TryWatch(string path)
    {
        try { Watch(path); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or PlatformNotSupportedException)
        {
            StopWatching();
            PolicyLog.NotWatched(_logger, path, ex.Message);
        }
    }

    private void Watch(string path)
    {
        var directory = Directory.Exists(path) ? path : Path.GetDirectoryName(path);
        if (directory is null || !Directory.Exists(directory)) return;
        _timer ??= _time.CreateTimer(_ => SafeReload(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        // The directory, not the file: editors and Kubernetes replace files by renaming others over them.
        _watcher = new FileSystemWatcher(directory)
        {
            NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.Size | NotifyFilters.CreationTime,
        };
        FileSystemEventHandler changed = (_, e) => { if (Concerns(path, e.FullPath)) Schedule(); };
        _watcher.Changed += changed;
        _watcher.Created += changed;
        _watcher.Deleted += changed;
        _watcher.Renamed += (_, e) => { if (Concerns(path, e.FullPath) || Concerns(path, e.OldFullPath)) Schedule(); };
        _watcher.EnableRaisingEvents = true;
    }

    /// <summary>Whether a change in the watched directory is to the policies: the file itself, or a .cedar file of the directory (or a symlink swap).</summary>
    private static bool Concerns(string path, string changed) =>
        string.Equals(changed, path, StringComparison.Ordinal) || changed.EndsWith(RoutingPolicyFiles.Extension, StringComparison.Ordinal)
        || Path.GetFileName(changed).StartsWith("..", StringComparison.Ordinal);

    private void Schedule() => _timer?.Change(Debounce, Timeout.InfiniteTimeSpan);

    private void SafeReload()
    {
        // A timer callback: an exception here would end the process. Whatever goes wrong, the old set stays.
        try { Reload("file change"); }
        catch (Exception ex)
        {
            PolicyLog.ReloadFailed(_logger, _configured?.Path ?? "", "file change", _current?.Set.Policies.Length ?? 0, ex.Message);
        }
    }

    private void StopWatching()
    {
        _watcher?.Dispose();
        _watcher = null;
    }

    private void OnReconfigured(GatewayRuntime runtime)
    {
        // Raised by the config reload: a failure here must not break the reload of everything else; the old set stays.
        try { Configure(runtime.Options.RoutingPolicies, "config reload"); }
        catch (Exception ex)
        {
            PolicyLog.ReloadFailed(_logger, runtime.Options.RoutingPolicies?.Path ?? "", "config reload", _current?.Set.Policies.Length ?? 0, ex.Message);
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _runtimes.Reconfigured += OnReconfigured;
        // A reload between construction and now would have been missed.
        Configure(_runtimes.Current.Options.RoutingPolicies, "config reload");
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _runtimes.Reconfigured -= OnReconfigured;
        lock (_gate) StopWatching();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        StopWatching();
        _timer?.Dispose();
    }
}
