using System.Text.Json;
using AgenticGateway.Configuration;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace AgenticGateway.Mcp.Upstreams;

/// <summary>
/// An MCP server reached with the SDK's client: a managed stdio child process, or a Streamable HTTP or SSE endpoint.
/// One long-lived connection serves every caller (HTTP ones through a pooled handler). A connection that fails is
/// dropped and made again on the next use, no sooner than a backoff that doubles up to a minute, so a dead server costs
/// a fast refusal, not a connect attempt per call; a stdio child that exits is restarted the same way.
/// </summary>
internal sealed partial class ClientUpstream : IMcpUpstream
{
    private static readonly TimeSpan MinBackoff = TimeSpan.FromMilliseconds(500), MaxBackoff = TimeSpan.FromMinutes(1);
    private const int MaxPages = 100;

    private readonly McpServerConfig _config;
    private readonly HttpClient? _http;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _connectLock = new(1, 1);
    private McpClient? _client;
    private TimeSpan _backoff = TimeSpan.Zero;
    private long _retryAt;
    private Exception? _lastFailure;
    private bool _disposed;

    public ClientUpstream(McpServerConfig config, HttpClient? http, ILoggerFactory loggers, TimeProvider? time = null)
    {
        if (config.Transport is not (McpTransport.Http or McpTransport.Sse or McpTransport.Stdio))
            throw new ArgumentException($"{config.Transport} is not a client transport", nameof(config));
        _config = config;
        _http = http;
        _loggers = loggers;
        _log = loggers.CreateLogger("AgenticGateway.Mcp.Upstream");
        _time = time ?? TimeProvider.System;
    }

    public string Name => _config.Name;
    public event Action<IMcpUpstream>? ListChanged;

    public async ValueTask<IReadOnlyList<Tool>> ListToolsAsync(CancellationToken ct)
    {
        var client = await ClientAsync(ct);
        var tools = new List<Tool>();
        string? cursor = null;
        for (var page = 0; page < MaxPages; page++)
        {
            var result = await Guard(client, c => c.ListToolsAsync(new ListToolsRequestParams { Cursor = cursor }, ct));
            tools.AddRange(result.Tools);
            // The raw list does not fill the client's tool cache, which tools/call consults for x-mcp-header arguments
            // (and warns on every call without it).
            client.AddKnownTools(result.Tools);
            if ((cursor = result.NextCursor) is null) break;
        }
        return tools;
    }

    public async ValueTask<IReadOnlyList<Resource>> ListResourcesAsync(CancellationToken ct)
    {
        var client = await ClientAsync(ct);
        if (client.ServerCapabilities.Resources is null) return [];
        var items = new List<Resource>();
        string? cursor = null;
        for (var page = 0; page < MaxPages; page++)
        {
            var result = await Guard(client, c => c.ListResourcesAsync(new ListResourcesRequestParams { Cursor = cursor }, ct));
            items.AddRange(result.Resources);
            if ((cursor = result.NextCursor) is null) break;
        }
        return items;
    }

    public async ValueTask<IReadOnlyList<Prompt>> ListPromptsAsync(CancellationToken ct)
    {
        var client = await ClientAsync(ct);
        if (client.ServerCapabilities.Prompts is null) return [];
        var items = new List<Prompt>();
        string? cursor = null;
        for (var page = 0; page < MaxPages; page++)
        {
            var result = await Guard(client, c => c.ListPromptsAsync(new ListPromptsRequestParams { Cursor = cursor }, ct));
            items.AddRange(result.Prompts);
            if ((cursor = result.NextCursor) is null) break;
        }
        return items;
    }

    public async ValueTask<CallToolResult> CallToolAsync(string tool, IReadOnlyDictionary<string, JsonElement>? arguments, McpCallContext context, CancellationToken ct)
    {
        var request = new CallToolRequestParams { Name = tool, Arguments = arguments is null ? null : new Dictionary<string, JsonElement>(arguments) };
        if (ForwardedHeaders(context) is { } headers)
        {
            // The caller's own credentials for this server: a connection of its own, never the shared one.
            await using var own = await ConnectAsync(headers, ct);
            return await own.CallToolAsync(request, ct);
        }
        var client = await ClientAsync(ct);
        return await Guard(client, c => c.CallToolAsync(request, ct));
    }

    public async ValueTask<ReadResourceResult> ReadResourceAsync(string uri, McpCallContext context, CancellationToken ct)
    {
        var request = new ReadResourceRequestParams { Uri = uri };
        if (ForwardedHeaders(context) is { } headers)
        {
            await using var own = await ConnectAsync(headers, ct);
            return await own.ReadResourceAsync(request, ct);
        }
        var client = await ClientAsync(ct);
        return await Guard(client, c => c.ReadResourceAsync(request, ct));
    }

    public async ValueTask<GetPromptResult> GetPromptAsync(string name, IReadOnlyDictionary<string, JsonElement>? arguments, McpCallContext context, CancellationToken ct)
    {
        var request = new GetPromptRequestParams { Name = name, Arguments = arguments is null ? null : new Dictionary<string, JsonElement>(arguments) };
        if (ForwardedHeaders(context) is { } headers)
        {
            await using var own = await ConnectAsync(headers, ct);
            return await own.GetPromptAsync(request, ct);
        }
        var client = await ClientAsync(ct);
        return await Guard(client, c => c.GetPromptAsync(request, ct));
    }

    /// <summary>Runs a request on the shared connection; a transport failure drops the connection so the next use reconnects.</summary>
    private async ValueTask<T> Guard<T>(McpClient client, Func<McpClient, ValueTask<T>> request)
    {
        try
        {
            return await request(client);
        }
        catch (Exception ex) when (ex is not (McpProtocolException or OperationCanceledException))
        {
            await DropAsync(client, ex);
            throw;
        }
    }

    private Dictionary<string, string>? ForwardedHeaders(McpCallContext context)
    {
        if (context.Headers.Count == 0 || _config.Transport == McpTransport.Stdio) return null;
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (k, v) in _config.Headers) headers[k] = v.Value ?? "";
        foreach (var (k, v) in context.Headers) headers[k] = v;
        return headers;
    }

    private async ValueTask<McpClient> ClientAsync(CancellationToken ct)
    {
        if (Volatile.Read(ref _client) is { } live) return live;
        ObjectDisposedException.ThrowIf(_disposed, this);
        await _connectLock.WaitAsync(ct);
        try
        {
            if (_client is { } raced) return raced;
            if (_time.GetTimestamp() < Volatile.Read(ref _retryAt))
                throw new McpUpstreamUnavailableException(Name, $"MCP server '{Name}' is unavailable (retrying in {_time.GetElapsedTime(_time.GetTimestamp(), _retryAt).TotalSeconds:0.#} s): {_lastFailure?.Message}", _lastFailure);
            try
            {
                var client = await ConnectAsync(null, ct);
                _backoff = TimeSpan.Zero;
                _lastFailure = null;
                Volatile.Write(ref _client, client);
                LogConnected(_log, Name, _config.Transport.ToString().ToLowerInvariant());
                // A stdio child that exits, or a stream that ends, ends the client: drop it so the next use restarts it.
                _ = client.Completion.ContinueWith(t => DropAsync(client, t.Exception?.GetBaseException() ?? new IOException($"MCP server '{Name}' closed its connection")).AsTask(),
                    CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                return client;
            }
            catch (Exception ex) when (!ct.IsCancellationRequested && ex is not ObjectDisposedException)
            {
                _lastFailure = ex;
                _backoff = _backoff == TimeSpan.Zero ? MinBackoff : TimeSpan.FromTicks(Math.Min(_backoff.Ticks * 2, MaxBackoff.Ticks));
                Volatile.Write(ref _retryAt, _time.GetTimestamp() + (long)(_backoff.TotalSeconds * _time.TimestampFrequency));
                LogConnectFailed(_log, Name, _backoff.TotalSeconds, ex.Message);
                throw new McpUpstreamUnavailableException(Name, $"MCP server '{Name}' is unavailable: {ex.Message}", ex);
            }
        }
        finally
        {
            _connectLock.Release();
        }
    }

    private async ValueTask DropAsync(McpClient client, Exception reason)
    {
        if (Interlocked.CompareExchange(ref _client, null, client) != client) return;
        _lastFailure = reason;
        LogDropped(_log, Name, reason.Message);
        try { await client.DisposeAsync(); }
        catch (Exception ex) when (ex is not OutOfMemoryException) { /* already broken */ }
    }

    private async Task<McpClient> ConnectAsync(Dictionary<string, string>? headers, CancellationToken ct)
    {
        IClientTransport transport = _config.Transport switch
        {
            McpTransport.Stdio => new StdioClientTransport(new StdioClientTransportOptions
            {
                Name = Name,
                Command = _config.Command!,
                Arguments = [.. _config.Args],
                WorkingDirectory = _config.WorkingDirectory,
                // Nothing of the gateway's environment (its master key, database URL, provider keys) reaches the child.
                InheritEnvironmentVariables = false,
                EnvironmentVariables = ChildEnvironment(),
                StandardErrorLines = line => LogStderr(_log, Name, line),
                ShutdownTimeout = TimeSpan.FromSeconds(2),
            }, _loggers),
            _ => new HttpClientTransport(new HttpClientTransportOptions
            {
                Name = Name,
                Endpoint = _config.Url!,
                TransportMode = _config.Transport == McpTransport.Sse ? HttpTransportMode.Sse : HttpTransportMode.StreamableHttp,
                AdditionalHeaders = headers ?? _config.Headers.ToDictionary(h => h.Key, h => h.Value.Value ?? "", StringComparer.OrdinalIgnoreCase),
                ConnectionTimeout = TimeSpan.FromSeconds(10),
            }, _http ?? throw new InvalidOperationException("an HTTP MCP server needs an HttpClient"), _loggers, ownsHttpClient: false),
        };
        var options = new McpClientOptions
        {
            ClientInfo = new Implementation { Name = "agentic-gateway", Version = Telemetry.TelemetryNames.Version },
            InitializationTimeout = TimeSpan.FromSeconds(15),
        };
        if (headers is null)
        {
            options.Handlers.NotificationHandlers =
            [
                new(NotificationMethods.ToolListChangedNotification, OnListChanged),
                new(NotificationMethods.ResourceListChangedNotification, OnListChanged),
                new(NotificationMethods.PromptListChangedNotification, OnListChanged),
            ];
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(20));
        return await McpClient.CreateAsync(transport, options, _loggers, timeout.Token);
    }

    private ValueTask OnListChanged(JsonRpcNotification notification, CancellationToken ct)
    {
        ListChanged?.Invoke(this);
        return ValueTask.CompletedTask;
    }

    private Dictionary<string, string?> ChildEnvironment()
    {
        var env = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            // What a child needs to find its interpreter and a home; the rest comes from its config only.
            ["PATH"] = Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin",
            ["HOME"] = Environment.GetEnvironmentVariable("HOME") ?? "/tmp",
        };
        foreach (var (k, v) in _config.Env) env[k] = v.Value;
        return env;
    }

    public async ValueTask DisposeAsync()
    {
        _disposed = true;
        if (Interlocked.Exchange(ref _client, null) is { } client)
        {
            try { await client.DisposeAsync(); }
            catch (Exception ex) when (ex is not OutOfMemoryException) { /* shutting down */ }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "MCP server {Server} connected ({Transport})")]
    private static partial void LogConnected(ILogger logger, string server, string transport);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MCP server {Server} could not be reached; next try in {Seconds} s: {Reason}")]
    private static partial void LogConnectFailed(ILogger logger, string server, double seconds, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MCP server {Server} connection lost: {Reason}")]
    private static partial void LogDropped(ILogger logger, string server, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "MCP server {Server} stderr: {Line}")]
    private static partial void LogStderr(ILogger logger, string server, string line);
}

/// <summary>An upstream that cannot be reached now (down, restarting, backing off).</summary>
internal sealed class McpUpstreamUnavailableException(string server, string message, Exception? inner) : Exception(message, inner)
{
    public string Server { get; } = server;
}
