using AgenticGateway.Configuration;
using AgenticGateway.Mcp;
using AgenticGateway.Mcp.Federation;
using AgenticGateway.Mcp.Pinning;
using AgenticGateway.Mcp.Upstreams;
using AgenticGateway.Runtime;

namespace AgenticGateway.Services.Mcp;

/// <summary>
/// The federation the configuration asks for, rebuilt when a reload changes <c>mcp:</c> (the request path compares
/// one reference; a changed section builds a new federation and the old one is disposed once calls in it are done).
/// Starts with the pins loaded and every server listed once, so pins are recorded before the first client asks.
/// </summary>
internal sealed partial class McpGateway(RuntimeHolder runtimes, ToolPins pins, IServiceProvider services, ILoggerFactory loggers) : IHostedService, IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly HttpClient _http = new(new SocketsHttpHandler
    {
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(90),
        ConnectTimeout = TimeSpan.FromSeconds(10),
        AllowAutoRedirect = false,
        UseCookies = false,
    }, disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
    private McpOptions? _builtFrom;
    private McpFederation? _current;
    private readonly ILogger _log = loggers.CreateLogger("AgenticGateway.Mcp");

    public ToolPins Pins => pins;

    /// <summary>The federation of the running configuration.</summary>
    public McpFederation Federation
    {
        get
        {
            var options = runtimes.Configured.Mcp;
            var current = Volatile.Read(ref _current);
            if (current is not null && ReferenceEquals(options, _builtFrom)) return current;
            return Rebuild(options);
        }
    }

    private McpFederation Rebuild(McpOptions options)
    {
        McpFederation? old;
        McpFederation next;
        lock (_lock)
        {
            // Another thread rebuilt it, or a reload left mcp: as it was (a new but equal object).
            if (_current is not null && StartupOnlySettings.SameValue(options, _builtFrom))
            {
                _builtFrom = options;
                return _current;
            }
            old = _current;
            next = new McpFederation(options, Upstreams(options), options.Pinning ? pins : null, loggers.CreateLogger<McpFederation>());
            _builtFrom = options;
            Volatile.Write(ref _current, next);
        }
        if (old is not null)
        {
            LogReloaded(_log, options.Servers.Length);
            // Calls already in the old federation finish on it; a minute is longer than any sane tool call.
            _ = Task.Delay(TimeSpan.FromMinutes(1)).ContinueWith(_ => old.DisposeAsync().AsTask(), TaskScheduler.Default);
        }
        _ = next.WarmAsync(CancellationToken.None);
        return next;
    }

    private IEnumerable<(IMcpUpstream, McpServerConfig?)> Upstreams(McpOptions options)
    {
        foreach (var server in options.Servers)
        {
            IMcpUpstream upstream = server.Transport switch
            {
                McpTransport.OpenApi => AgenticGateway.Mcp.OpenApi.OpenApiUpstream.Create(server, loggers, new AgenticGateway.Mcp.OpenApi.OpenApiLimits { MaxResponseBytes = options.MaxResultBytes }),
                _ => new ClientUpstream(server, _http, loggers),
            };
            yield return (upstream, server);
        }
        // On by default where the sandbox API is (enabled, and its driver can run here); mcp.sandbox_server decides otherwise.
        if (options.SandboxServer ?? services.GetService<AgenticGateway.Sandboxes.SandboxManager>()?.Unavailable is null)
        {
            // A singleton shared by every federation: its DisposeAsync ends nothing, sandboxes outlive a reload.
            if (services.GetService<SandboxToolServer>() is { } sandbox) yield return (sandbox, null);
        }
    }

    /// <summary>With MCP servers configured, the pins are read and every server listed once before clients ask.</summary>
    public async Task StartAsync(CancellationToken ct)
    {
        if (!runtimes.Configured.Mcp.Enabled) return;
        try { await pins.EnsureLoadedAsync(ct); }
        catch (Exception ex) when (ex is not OperationCanceledException) { LogPinsUnreadable(_log, ex.Message); }
        _ = Federation;
    }

    public Task StopAsync(CancellationToken ct) => Task.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _current, null) is { } f) await f.DisposeAsync();
        _http.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "MCP servers reloaded ({Count} configured)")]
    private static partial void LogReloaded(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MCP tool pins could not be read at start: {Reason}")]
    private static partial void LogPinsUnreadable(ILogger logger, string reason);
}
