using AgenticGateway.Configuration;
using AgenticGateway.Edge;

namespace AgenticGateway.Edge.Runtime;

/// <summary>
/// Traefik's file provider: the dynamic configuration in <c>providers.file.filename</c> or every file of
/// <c>providers.file.directory</c>, read at start (an error stops the gateway, every one listed, as for the config
/// file) and, with <c>watch: true</c>, again on each change: a change that does not parse is logged and the running
/// configuration stays.
/// </summary>
internal sealed partial class EdgeProviderFiles : IHostedService, IDisposable
{
    private readonly FileProviderConfig? _config;
    private readonly string _baseDirectory;
    private readonly ILogger<EdgeProviderFiles> _logger;
    private FileSystemWatcher? _watcher;
    private Timer? _debounce;

    public EdgeProviderFiles(GatewayOptions options, string baseDirectory, ILogger<EdgeProviderFiles> logger)
    {
        _config = options.Edge.FileProvider;
        _baseDirectory = baseDirectory;
        _logger = logger;
        Current = EdgeDynamicConfig.Empty;
        if (_config is null) return;
        var (config, errors) = EdgeFileProvider.Load(_config, baseDirectory);
        if (errors.Count > 0) throw new EdgeConfigException(errors);
        Current = config;
    }

    /// <summary>The last configuration the files gave without errors.</summary>
    public EdgeDynamicConfig Current { get; private set; }

    public event Action? Changed;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_config is not { Watch: true }) return Task.CompletedTask;
        var target = Path.GetFullPath(_config.Directory ?? _config.Filename!, _baseDirectory);
        var path = _config.Directory is not null ? target : Path.GetDirectoryName(target)!;
        _debounce = new Timer(_ => Reload(), null, Timeout.Infinite, Timeout.Infinite);
        // Editors save by writing a temporary file and renaming it: watch the directory, not the file.
        _watcher = new FileSystemWatcher(path) { IncludeSubdirectories = false, NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size };
        if (_config.Filename is not null) _watcher.Filter = Path.GetFileName(_config.Filename);
        _watcher.Changed += (_, _) => Touch();
        _watcher.Created += (_, _) => Touch();
        _watcher.Deleted += (_, _) => Touch();
        _watcher.Renamed += (_, _) => Touch();
        _watcher.EnableRaisingEvents = true;
        return Task.CompletedTask;
    }

    /// <summary>A burst of events (an editor's save) becomes one reload, 200 ms after the last.</summary>
    private void Touch() => _debounce?.Change(200, Timeout.Infinite);

    internal void Reload()
    {
        try
        {
            var (config, errors) = EdgeFileProvider.Load(_config!, _baseDirectory);
            if (errors.Count > 0)
            {
                Log.ReloadRefused(_logger, errors.Count, string.Join("; ", errors));
                return;
            }
            Current = config;
            Log.Reloaded(_logger);
            Changed?.Invoke();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Log.ReloadRefused(_logger, 1, ex.Message);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        if (_watcher is not null) _watcher.EnableRaisingEvents = false;
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _watcher?.Dispose();
        _debounce?.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1907, Level = LogLevel.Information, Message = "edge: the file provider's configuration changed; reloading")]
        public static partial void Reloaded(ILogger logger);

        [LoggerMessage(EventId = 1908, Level = LogLevel.Error, Message = "edge: the file provider's configuration has {Count} error(s) and was not applied; the running configuration stays: {Errors}")]
        public static partial void ReloadRefused(ILogger logger, int count, string errors);
    }
}

/// <summary>The file provider's files have errors at start: the gateway does not start, and says each one.</summary>
internal sealed class EdgeConfigException(IReadOnlyList<string> errors)
    : Exception("The edge's dynamic configuration has errors:\n  " + string.Join("\n  ", errors))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}
