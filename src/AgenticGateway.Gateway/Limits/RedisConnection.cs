using AgenticGateway.Observability;
using StackExchange.Redis;

namespace AgenticGateway.Limits;

/// <summary>
/// The shared Redis, when configured, and whether it is reachable now. The connection is made in the background
/// (nothing at start-up or on a request waits for it) and the multiplexer reconnects by itself after that. Until it
/// is connected, and after a failed call, Redis counts as down; while down a probe pings it every second and marks it
/// up again once the multiplexer is back, so replicas converge on shared counters when it returns.
/// </summary>
internal sealed class RedisConnection : IDisposable
{
    private static readonly TimeSpan ProbeInterval = TimeSpan.FromSeconds(1);

    private readonly ConfigurationOptions _options;
    private readonly ILogger _logger;
    private readonly Timer _probe;
    private readonly CancellationTokenSource _disposed = new();
    private ConnectionMultiplexer? _mux;
    private volatile IDatabase? _database;
    private volatile bool _up;
    private int _probing;

    public RedisConnection(string url, bool failOpen, TimeSpan callTimeout, ILogger<RedisConnection> logger)
    {
        _logger = logger;
        FailOpen = failOpen;
        CallTimeout = callTimeout;
        _options = Parse(url);
        Endpoint = _options.EndPoints.Count > 0 ? _options.EndPoints[0].ToString() ?? url : url;
        _probe = new Timer(_ => _ = ProbeAsync(), null, Timeout.InfiniteTimeSpan, ProbeInterval);
        // The first connect runs on the thread pool: the constructor (resolved while the host is built) never waits on it.
        _ = Task.Run(ConnectAsync);
    }

    public string Endpoint { get; }
    public bool FailOpen { get; }
    /// <summary>True once connected and while calls succeed; false while connecting and after a failed call.</summary>
    public bool IsUp => _up;

    /// <summary>The database; only meaningful while <see cref="IsUp"/> (before the first connect it throws a <see cref="RedisConnectionException"/>).</summary>
    public IDatabase Database => _database ?? throw new RedisConnectionException(ConnectionFailureType.UnableToConnect, CommandFlags.None, $"Redis at {Endpoint} is not connected yet", null, CommandStatus.Unknown);

    /// <summary>How long a limit check may wait for Redis before it counts as down (<c>storage.redis_timeout</c>).</summary>
    public TimeSpan CallTimeout { get; }

    public void MarkDown(Exception ex)
    {
        if (!_up) return;
        _up = false;
        Log.RedisDown(_logger, Endpoint, FailOpen ? "fail-open" : "fail-closed", ex.Message);
    }

    /// <summary>
    /// Connects once. With <c>AbortOnConnectFail</c> off, an unreachable Redis still yields a multiplexer (after the
    /// connect timeout) that keeps reconnecting on its own; the probe then notices when it is up.
    /// </summary>
    private async Task ConnectAsync()
    {
        var connecting = ConnectionMultiplexer.ConnectAsync(_options);
        try
        {
            var mux = await connecting.WaitAsync(_disposed.Token);
            _database = mux.GetDatabase();
            Volatile.Write(ref _mux, mux);
            if (_disposed.IsCancellationRequested)
            {
                Interlocked.Exchange(ref _mux, null)?.Dispose();
                return;
            }
            if (mux.IsConnected)
            {
                _up = true;
                Log.RedisConnected(_logger, Endpoint);
            }
            else Log.RedisDown(_logger, Endpoint, FailOpen ? "fail-open" : "fail-closed", "not reachable at start; reconnecting in the background");
        }
        catch (OperationCanceledException) when (_disposed.IsCancellationRequested)
        {
            // Disposed while connecting: the multiplexer, when it comes, must not go on reconnecting.
            _ = connecting.ContinueWith(t => t.Result.Dispose(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
            return;
        }
        catch (Exception ex)
        {
            // A configuration the client refuses outright: logged, and tried again by the probe.
            Log.RedisDown(_logger, Endpoint, FailOpen ? "fail-open" : "fail-closed", ex.Message);
        }
        StartProbe();
    }

    private void StartProbe()
    {
        try { _probe.Change(ProbeInterval, ProbeInterval); }
        catch (ObjectDisposedException) { }
    }

    private async Task ProbeAsync()
    {
        if (_up || Interlocked.Exchange(ref _probing, 1) == 1) return;
        try
        {
            if (Volatile.Read(ref _mux) is null)
            {
                _probe.Change(Timeout.InfiniteTimeSpan, ProbeInterval);
                await ConnectAsync();
                return;
            }
            await _database!.PingAsync().WaitAsync(CallTimeout, _disposed.Token);
            _up = true;
            Log.RedisUp(_logger, Endpoint);
        }
        catch (Exception) { }
        finally { Volatile.Write(ref _probing, 0); }
    }

    /// <summary>redis://[:password@]host:port[/db], rediss:// for TLS, or StackExchange's own "host:port,password=..." form.</summary>
    public static ConfigurationOptions Parse(string url)
    {
        ConfigurationOptions options;
        if (url.StartsWith("redis://", StringComparison.OrdinalIgnoreCase) || url.StartsWith("rediss://", StringComparison.OrdinalIgnoreCase))
        {
            var uri = new Uri(url);
            options = new ConfigurationOptions { Ssl = uri.Scheme == "rediss" };
            options.EndPoints.Add(uri.Host, uri.IsDefaultPort || uri.Port <= 0 ? 6379 : uri.Port);
            if (uri.UserInfo.Length > 0)
            {
                var info = uri.UserInfo;
                var colon = info.IndexOf(':');
                options.Password = Uri.UnescapeDataString(colon >= 0 ? info[(colon + 1)..] : info);
            }
            if (int.TryParse(uri.AbsolutePath.Trim('/'), out var db)) options.DefaultDatabase = db;
        }
        else options = ConfigurationOptions.Parse(url);
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = 2000;
        options.SyncTimeout = 1000;
        options.ConnectRetry = 1;
        // Fail a command at once while disconnected instead of queueing it for the reconnect: a limit check that timed
        // out has already been answered from this node's counters, and must not be counted in Redis later as well.
        options.BacklogPolicy = BacklogPolicy.FailFast;
        // Reconnect attempts once a second, as often as the probe pings, so the shared counters come back as soon as Redis does.
        options.ReconnectRetryPolicy = new LinearRetry(1000);
        return options;
    }

    public void Dispose()
    {
        _disposed.Cancel();
        _probe.Dispose();
        Interlocked.Exchange(ref _mux, null)?.Dispose();
    }
}
