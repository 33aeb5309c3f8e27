using AgenticGateway.Observability;
using AgenticGateway.Runtime;
using AgenticGateway.Configuration;

namespace AgenticGateway.Hosting;

/// <summary>
/// Watches the config file. A valid change is swapped in atomically (requests in flight finish on the snapshot
/// they started with); an invalid one is logged with every error and ignored. Settings that only take effect at start
/// (<see cref="StartupOnlySettings"/>) keep their running values, and a change to one is reported by name.
/// </summary>
/// <param name="allowUnsupported">As at start (--allow-unsupported): unenforceable security settings are warnings.</param>
/// <param name="veto">Why a valid configuration must still not be applied (it would open a network listener), or null.</param>
/// <param name="time">Runs the debounce timer (a test's fake clock moves past it).</param>
/// <param name="strict">As at start (--strict): a deployment of a provider not served is an error, not skipped.</param>
internal sealed class ConfigWatcher(string path, RuntimeHolder runtimes, ILogger<ConfigWatcher> logger, bool allowUnsupported = false,
    Func<GatewayOptions, string?>? veto = null, TimeProvider? time = null, bool strict = false) : IHostedService, IDisposable
{
    private static readonly TimeSpan Debounce = TimeSpan.FromMilliseconds(250);
    private readonly string _fullPath = Path.GetFullPath(path);
    private FileSystemWatcher? _watcher;
    private ITimer? _timer;
    private string? _lastText;
    /// <summary>The file's own settings at start (before command-line or test overrides): what start-up-only changes are measured against.</summary>
    private GatewayOptions? _startup;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _lastText = TryRead();
        if (_lastText is not null) _startup = ConfigLoader.Load(_lastText, _fullPath, allowUnsupported: allowUnsupported, strict: strict).Options;
        _timer = (time ?? TimeProvider.System).CreateTimer(_ => SafeReload(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        // The whole directory, not just the file's name: Kubernetes updates a mounted ConfigMap by swapping a "..data"
        // symlink, and editors often replace a file by renaming another over it. Reload compares the text, so changes
        // to other files cost one read.
        _watcher = new FileSystemWatcher(Path.GetDirectoryName(_fullPath)!)
        {
            NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.Size | NotifyFilters.CreationTime,
        };
        _watcher.Changed += (_, _) => Schedule();
        _watcher.Created += (_, _) => Schedule();
        _watcher.Renamed += (_, _) => Schedule();
        _watcher.Deleted += (_, _) => Schedule();
        _watcher.EnableRaisingEvents = true;
        return Task.CompletedTask;
    }

    private void Schedule() => _timer?.Change(Debounce, Timeout.InfiniteTimeSpan);

    private string? TryRead()
    {
        try { return File.ReadAllText(_fullPath); }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    private void SafeReload()
    {
        try { Reload(); }
        catch (Exception ex)
        {
            Log.ConfigRejected(logger, _fullPath, ex.Message);
        }
    }

    /// <summary>Loads and applies the file now; returns whether a new configuration was applied.</summary>
    public bool Reload()
    {
        var text = TryRead();
        if (text is null || text == _lastText) return false;
        _lastText = text;
        var result = ConfigLoader.Load(text, _fullPath, allowUnsupported: allowUnsupported, strict: strict);
        if (result.Options is null)
        {
            Log.ConfigRejected(logger, _fullPath, string.Join("\n", result.Errors.Select(e => "  - " + e)));
            return false;
        }
        if (veto?.Invoke(result.Options) is { } refusal)
        {
            Log.ConfigRejected(logger, _fullPath, "  - " + refusal);
            return false;
        }
        foreach (var warning in result.Warnings) Log.ConfigWarning(logger, warning);
        if (_startup is not null && StartupOnlySettings.Changed(_startup, result.Options) is { Count: > 0 } needRestart)
            Log.ConfigNeedsRestart(logger, _fullPath, string.Join(", ", needRestart));
        runtimes.Swap(StartupOnlySettings.Keep(result.Options, runtimes.Current.Options));
        Log.ConfigReloaded(logger, _fullPath, result.Options.Deployments.Length);
        return true;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        if (_watcher is not null) _watcher.EnableRaisingEvents = false;
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _watcher?.Dispose();
        _timer?.Dispose();
    }
}
