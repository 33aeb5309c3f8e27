using AgenticGateway.Configuration;
using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Diagnostics;
using AgenticGateway.Mcp.Pinning;
using AgenticGateway.Mcp.Upstreams;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Protocol;

namespace AgenticGateway.Mcp.Federation;

/// <summary>
/// Many MCP servers as one: their tools and prompts under names prefixed by server (stable when servers are added),
/// their resources by URI. Each server's lists are cached for the list TTL and re-listed on <c>list_changed</c> and at
/// least every recheck interval, which is also when definitions are checked against their pins. A server that fails or
/// is slow is left out of a fan-out (and counted in its health); it never fails the others.
/// </summary>
internal sealed partial class McpFederation : IAsyncDisposable
{
    private readonly McpOptions _options;
    private readonly FrozenDictionary<string, ServerState> _servers;
    private readonly ToolPins? _pins;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _rechecks;

    public McpFederation(McpOptions options, IEnumerable<(IMcpUpstream Upstream, McpServerConfig? Config)> upstreams, ToolPins? pins, ILogger<McpFederation> log, TimeProvider? time = null)
    {
        _options = options;
        _pins = pins;
        _log = log;
        _time = time ?? TimeProvider.System;
        _servers = upstreams.ToFrozenDictionary(u => u.Upstream.Name, u => new ServerState(u.Upstream, u.Config), StringComparer.Ordinal);
        foreach (var s in _servers.Values) s.Upstream.ListChanged += OnListChanged;
        _rechecks = RecheckLoopAsync(_stop.Token);
    }

    public McpOptions Options => _options;
    public IEnumerable<ServerState> Servers => _servers.Values;
    public ServerState? Server(string name) => _servers.GetValueOrDefault(name);

    /// <summary>The name clients see for a server's tool or prompt.</summary>
    public string Expose(string server, string name) => _options.PrefixMode == McpPrefixMode.Always ? server + _options.Separator + name : name;

    /// <summary>
    /// The tools of every server (or one), as clients see them: prefixed, allowed by the server's lists and pins. Each
    /// server's list is fetched in parallel with a timeout; one that fails is left out.
    /// </summary>
    public async ValueTask<IReadOnlyList<FederatedTool>> ListToolsAsync(string? onlyServer, CancellationToken ct)
    {
        if (onlyServer is not null)
            return _servers.TryGetValue(onlyServer, out var one) ? (await ToolsOfAsync(one, force: false, ct)).Served : [];
        var tasks = new List<Task<ServerTools>>(_servers.Count);
        foreach (var s in _servers.Values) tasks.Add(ToolsOfAsync(s, force: false, ct).AsTask());
        await Task.WhenAll(tasks);
        var all = new List<FederatedTool>();
        foreach (var t in tasks) all.AddRange(t.Result.Served);
        return all;
    }

    /// <summary>The tool a client named (on <c>/mcp/{server}</c> also by its bare name), or null when no served tool has that name.</summary>
    public async ValueTask<FederatedTool?> FindToolAsync(string exposed, string? onlyServer, CancellationToken ct)
    {
        foreach (var (server, name) in Candidates(exposed, onlyServer))
        {
            if (!_servers.TryGetValue(server, out var state)) continue;
            var tools = await ToolsOfAsync(state, force: false, ct);
            if (tools.ByUpstreamName.TryGetValue(name, out var tool)) return tool;
        }
        if (_options.PrefixMode == McpPrefixMode.Never)
        {
            foreach (var t in await ListToolsAsync(onlyServer, ct))
                if (t.Name == exposed) return t;
        }
        return null;
    }

    private IEnumerable<(string Server, string Name)> Candidates(string exposed, string? onlyServer)
    {
        if (_options.PrefixMode == McpPrefixMode.Always)
        {
            // Server names never contain the separator, so the first one splits.
            var at = exposed.IndexOf(_options.Separator, StringComparison.Ordinal);
            if (at > 0 && (onlyServer is null || exposed.AsSpan(0, at).SequenceEqual(onlyServer)))
                yield return (exposed[..at], exposed[(at + _options.Separator.Length)..]);
        }
        if (onlyServer is not null) yield return (onlyServer, exposed);
    }

    /// <summary>Prompts (the caller prefixes them like tools); a failing server is left out.</summary>
    public ValueTask<IReadOnlyList<(ServerState Server, Prompt Item)>> ListPromptsAsync(string? onlyServer, CancellationToken ct) =>
        FanOutAsync(onlyServer, (u, c) => u.ListPromptsAsync(c), ct);

    /// <summary>Resources by their own URIs; the server that listed a URI is remembered so a read goes to it.</summary>
    public async ValueTask<IReadOnlyList<(ServerState Server, Resource Item)>> ListResourcesAsync(string? onlyServer, CancellationToken ct)
    {
        var resources = await FanOutAsync(onlyServer, (u, c) => u.ListResourcesAsync(c), ct);
        foreach (var (s, r) in resources) s.ResourceUris[r.Uri] = 0;
        return resources;
    }

    /// <summary>One uncached list of every selected server, asked in parallel, each with the list timeout; a failing server is left out.</summary>
    private async ValueTask<IReadOnlyList<(ServerState Server, T Item)>> FanOutAsync<T>(string? onlyServer,
        Func<IMcpUpstream, CancellationToken, ValueTask<IReadOnlyList<T>>> list, CancellationToken ct)
    {
        var lists = await Task.WhenAll(Selected(onlyServer).Select(async s => (s, await Guarded(s, c => list(s.Upstream, c), ct))));
        var result = new List<(ServerState, T)>();
        foreach (var (s, items) in lists)
            foreach (var item in items ?? []) result.Add((s, item));
        return result;
    }

    /// <summary>The server of a resource URI (listed by it before; else the only server that could serve it).</summary>
    public async ValueTask<ServerState?> ResourceServerAsync(string uri, string? onlyServer, CancellationToken ct)
    {
        if (onlyServer is not null) return _servers.GetValueOrDefault(onlyServer);
        foreach (var s in _servers.Values) if (s.ResourceUris.ContainsKey(uri)) return s;
        await ListResourcesAsync(null, ct);
        foreach (var s in _servers.Values) if (s.ResourceUris.ContainsKey(uri)) return s;
        return null;
    }

    /// <summary>Why a tool the client named is held by its pin (quarantined, or new and awaiting approval), or null when none is.</summary>
    public string? HeldReason(string exposed, string? onlyServer)
    {
        // Unprefixed names (prefix: never) may be any server's.
        var candidates = _options.PrefixMode == McpPrefixMode.Never && onlyServer is null ? _servers.Keys.Select(s => (s, exposed)) : Candidates(exposed, onlyServer);
        foreach (var (server, name) in candidates)
            foreach (var (tool, pin) in Server(server)?.Tools?.Held ?? [])
                if (tool.Name == name) return pin.Reason;
        return null;
    }

    public (ServerState Server, string Name)? ResolvePrompt(string exposed, string? onlyServer)
    {
        foreach (var (server, name) in Candidates(exposed, onlyServer))
            if (_servers.TryGetValue(server, out var s)) return (s, name);
        return null;
    }

    private IEnumerable<ServerState> Selected(string? onlyServer) =>
        onlyServer is null ? _servers.Values : _servers.TryGetValue(onlyServer, out var s) ? [s] : [];

    private async Task<T?> Guarded<T>(ServerState s, Func<CancellationToken, ValueTask<T>> list, CancellationToken ct) where T : class
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.ListTimeout);
        try
        {
            var result = await list(timeout.Token);
            s.Succeeded();
            return result;
        }
        catch (Exception ex) when (!ct.IsCancellationRequested && ex is not OutOfMemoryException)
        {
            s.Failed(ex);
            LogListFailed(_log, s.Name, ex.Message);
            return null;
        }
    }

    /// <summary>A server's tools from cache while fresh, else re-listed (one listing at a time per server, shared by its waiters).</summary>
    private ValueTask<ServerTools> ToolsOfAsync(ServerState s, bool force, CancellationToken ct)
    {
        var cached = s.Tools;
        // A server found down is asked again on the next use: its client backs off, so that costs a fast refusal while it stays down.
        if (!force && cached is not null && !cached.Down && _time.GetElapsedTime(cached.FetchedAt) < _options.ListTtl) return ValueTask.FromResult(cached);
        var refresh = s.Refresh;
        if (refresh is null || refresh.IsCompleted)
        {
            lock (s)
            {
                refresh = s.Refresh;
                if (refresh is null || refresh.IsCompleted) s.Refresh = refresh = RefreshAsync(s);
            }
        }
        return new ValueTask<ServerTools>(refresh.WaitAsync(ct));
    }

    private async Task<ServerTools> RefreshAsync(ServerState s)
    {
        await Task.Yield();
        var started = _time.GetTimestamp();
        var listed = await Guarded(s, c => s.Upstream.ListToolsAsync(c), _stop.Token);
        if (listed is null)
        {
            // Down: its tools are not offered (calls would fail), and the next list tries again after the backoff.
            var down = new ServerTools(started, [], FrozenDictionary<string, FederatedTool>.Empty, []) { Down = true };
            s.Tools = down;
            return down;
        }
        var served = new List<FederatedTool>(listed.Count);
        var held = new List<(Tool, ToolPin)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var tool in listed)
        {
            if (!seen.Add(tool.Name) || !(s.Config?.Serves(tool.Name) ?? true)) continue;
            if (_pins is not null && _options.Pinning)
            {
                var pin = await _pins.CheckAsync(s.Name, tool, _stop.Token);
                if (pin.ApprovedHash is null || pin.Quarantined)
                {
                    held.Add((tool, pin));
                    continue;
                }
            }
            served.Add(new FederatedTool(s, tool.Name, Expose(s.Name, tool.Name), Renamed(tool, Expose(s.Name, tool.Name))));
        }
        var result = new ServerTools(started, [.. served], served.ToFrozenDictionary(t => t.UpstreamName, StringComparer.Ordinal), [.. held]);
        s.Tools = result;
        return result;
    }

    private static Tool Renamed(Tool tool, string name) => new()
    {
        Name = name,
        Title = tool.Title,
        Description = tool.Description,
        InputSchema = tool.InputSchema,
        OutputSchema = tool.OutputSchema,
        Annotations = tool.Annotations,
        Icons = tool.Icons,
        Meta = tool.Meta,
    };

    private void OnListChanged(IMcpUpstream upstream)
    {
        if (!_servers.TryGetValue(upstream.Name, out var s)) return;
        LogListChanged(_log, s.Name);
        s.Tools = null;
        _ = ToolsOfAsync(s, force: true, _stop.Token).AsTask().ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
    }

    /// <summary>Re-lists every server at the recheck interval, so a changed definition is caught even without list_changed.</summary>
    private async Task RecheckLoopAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(_options.RecheckInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                if (_pins is not null)
                {
                    try { await _pins.LoadAsync(stop); }
                    catch (Exception ex) when (ex is not OperationCanceledException) { LogPinReloadFailed(_log, ex.Message); }
                }
                await Task.WhenAll(_servers.Values.Select(s => ToolsOfAsync(s, force: true, stop).AsTask()));
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested) { }
    }

    /// <summary>The first listing of every server, so pins are recorded and health known before the first client asks.</summary>
    public Task WarmAsync(CancellationToken ct) => Task.WhenAll(_servers.Values.Select(s => ToolsOfAsync(s, force: true, ct).AsTask()));

    /// <summary>Re-lists one server now (after an approval, so the approved tool is served at once).</summary>
    public ValueTask<ServerTools> RefreshAsync(string server, CancellationToken ct) =>
        _servers.TryGetValue(server, out var s) ? ToolsOfAsync(s, force: true, ct) : ValueTask.FromResult(new ServerTools(0, [], FrozenDictionary<string, FederatedTool>.Empty, []));

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try { await _rechecks; } catch (OperationCanceledException) { }
        foreach (var s in _servers.Values)
        {
            s.Upstream.ListChanged -= OnListChanged;
            await s.Upstream.DisposeAsync();
        }
        _stop.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "MCP server {Server} left out: {Reason}")]
    private static partial void LogListFailed(ILogger logger, string server, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "MCP server {Server} says its lists changed; re-listing")]
    private static partial void LogListChanged(ILogger logger, string server);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MCP tool pins could not be re-read: {Reason}")]
    private static partial void LogPinReloadFailed(ILogger logger, string reason);
}

/// <summary>One server in the federation: its upstream, config (null for the built-in ones), cached tools and health.</summary>
internal sealed class ServerState(IMcpUpstream upstream, McpServerConfig? config)
{
    public IMcpUpstream Upstream { get; } = upstream;
    public McpServerConfig? Config { get; } = config;
    public string Name => Upstream.Name;
    public volatile ServerTools? Tools;
    public volatile Task<ServerTools>? Refresh;
    public readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> ResourceUris = new(StringComparer.Ordinal);
    private int _failures;
    private string? _lastError;
    private long _lastSuccess;

    public bool Healthy => Volatile.Read(ref _failures) == 0 && Volatile.Read(ref _lastSuccess) != 0;
    public string? LastError => _lastError;

    public void Succeeded()
    {
        Volatile.Write(ref _failures, 0);
        _lastError = null;
        Volatile.Write(ref _lastSuccess, Stopwatch.GetTimestamp());
    }

    public void Failed(Exception ex)
    {
        Interlocked.Increment(ref _failures);
        _lastError = ex.Message;
    }
}

/// <summary>A server's tools at one listing: those served (by upstream name) and those held by their pins.</summary>
internal sealed record ServerTools(long FetchedAt, ImmutableArray<FederatedTool> Served, FrozenDictionary<string, FederatedTool> ByUpstreamName, ImmutableArray<(Tool Tool, ToolPin Pin)> Held)
{
    public bool Down { get; init; }
}

/// <summary>A served tool: its server, its name there, and the definition clients see (renamed).</summary>
internal sealed record FederatedTool(ServerState Server, string UpstreamName, string Name, Tool Definition);
