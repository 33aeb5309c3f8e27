using AgenticGateway.Observability;
using StackExchange.Redis;

namespace AgenticGateway.Limits;

/// <summary>
/// The shared Redis, when configured, and whether it is reachable now. A failed call marks it down; while down a
/// probe pings it every second and marks it up again, so replicas converge on shared counters once it returns.
/// </summary>
internal sealed class RedisConnection : IDisposable
{
    private readonly ConnectionMultiplexer _mux;
    private readonly ILogger _logger;
    private readonly Timer _probe;
    private volatile bool _up = true;
    private int _probing;

    public RedisConnection(string url, bool failOpen, TimeSpan callTimeout, ILogger<RedisConnection> logger)
    {
        _logger = logger;
        FailOpen = failOpen;
        CallTimeout = callTimeout;
        var options = Parse(url);
        Endpoint = options.EndPoints.Count > 0 ? options.EndPoints[0].ToString() ?? url : url;
        _mux = ConnectionMultiplexer.Connect(options);
        _probe = new Timer(_ => _ = ProbeAsync(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    public string Endpoint { get; }
    public bool FailOpen { get; }
    public bool IsUp => _up;
    public IDatabase Database => _mux.GetDatabase();

    /// <summary>How long a limit check may wait for Redis before it counts as down (<c>storage.redis_timeout</c>).</summary>
    public TimeSpan CallTimeout { get; }

    public void MarkDown(Exception ex)
    {
        if (!_up) return;
        _up = false;
        Log.RedisDown(_logger, Endpoint, FailOpen ? "fail-open" : "fail-closed", ex.Message);
    }

    private async Task ProbeAsync()
    {
        if (_up || Interlocked.Exchange(ref _probing, 1) == 1) return;
        try
        {
            await _mux.GetDatabase().PingAsync().WaitAsync(CallTimeout);
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
        return options;
    }

    public void Dispose()
    {
        _probe.Dispose();
        _mux.Dispose();
    }
}
