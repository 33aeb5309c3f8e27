using System.Buffers;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using System.Threading.Channels;
using AgenticGateway.Sandboxes;
using AgenticGateway.Sandboxes.Agent;
using AgenticGateway.Sandboxes.Protocol;

namespace AgenticGateway.Services.E2b.Envd;

/// <summary>
/// envd's <c>filesystem.Filesystem</c> service (filesystem.proto) over the sandbox's agent. Reads (Stat, ListDir,
/// WatchDir) reach the whole file system the sandbox sees, so <c>/</c> is listable; what changes files (MakeDir,
/// Move, Remove, and uploads) stays inside the writable roots and is envd's permission error elsewhere. Relative
/// paths are relative to /home/user. Watchers made by CreateWatcher buffer their events until GetWatcherEvents
/// takes them (at most <see cref="MaxBufferedEvents"/>), for clients that cannot hold a stream open.
/// </summary>
internal sealed class FilesystemService
{
    public const int MaxBufferedEvents = 10_000, MaxWatchersPerSandbox = 64;

    private static readonly Dictionary<string, string> EventTypes = new(StringComparer.Ordinal)
    {
        ["create"] = "EVENT_TYPE_CREATE", ["write"] = "EVENT_TYPE_WRITE", ["remove"] = "EVENT_TYPE_REMOVE",
        ["rename"] = "EVENT_TYPE_RENAME", ["chmod"] = "EVENT_TYPE_CHMOD",
    };

    private static readonly byte[] WatchStart = Json(w => { w.WriteStartObject("start"); w.WriteEndObject(); });
    private static readonly byte[] WatchKeepalive = Json(w => { w.WriteStartObject("keepalive"); w.WriteEndObject(); });

    private readonly ConcurrentDictionary<string, Watcher> _watchers = new(StringComparer.Ordinal);

    public static readonly IReadOnlyDictionary<string, ConnectKind> Methods = new Dictionary<string, ConnectKind>(StringComparer.Ordinal)
    {
        ["Stat"] = ConnectKind.Unary, ["MakeDir"] = ConnectKind.Unary, ["Move"] = ConnectKind.Unary,
        ["ListDir"] = ConnectKind.Unary, ["Remove"] = ConnectKind.Unary, ["WatchDir"] = ConnectKind.ServerStream,
        ["CreateWatcher"] = ConnectKind.Unary, ["GetWatcherEvents"] = ConnectKind.Unary, ["RemoveWatcher"] = ConnectKind.Unary,
    };

    public Task ServeAsync(string method, ConnectCall call, Sandbox sandbox) => method switch
    {
        "Stat" => StatAsync(call, sandbox),
        "MakeDir" => MakeDirAsync(call, sandbox),
        "Move" => MoveAsync(call, sandbox),
        "ListDir" => ListDirAsync(call, sandbox),
        "Remove" => RemoveAsync(call, sandbox),
        "WatchDir" => WatchDirAsync(call, sandbox),
        "CreateWatcher" => CreateWatcherAsync(call, sandbox),
        "GetWatcherEvents" => GetWatcherEventsAsync(call, sandbox),
        "RemoveWatcher" => RemoveWatcherAsync(call, sandbox),
        _ => throw new ConnectError(ConnectError.Unimplemented, $"filesystem.Filesystem/{method} is not a method of this service"),
    };

    private static string RequirePath(JsonElement request, string camel = "path")
    {
        var path = ProtoJson.String(request, camel);
        if (string.IsNullOrEmpty(path)) throw ConnectError.Invalid($"{camel} is required");
        if (path.Length > 4096 || path.Contains('\0')) throw ConnectError.Invalid($"{camel} is not a valid path");
        return path;
    }

    private static async Task<JsonElement> StatEntryAsync(ConnectCall call, Sandbox sandbox, string path)
    {
        var done = await Agent(sandbox, AgentOps.FsStat, w => { w.WriteString("path", path); w.WriteBoolean("anywhere", true); w.WriteString("user", call.User); }, call.Aborted);
        return done.GetProperty("entry");
    }

    private static Task SendEntryAsync(ConnectCall call, JsonElement entry) => call.SendAsync(w =>
    {
        w.WriteStartObject();
        w.WritePropertyName("entry");
        EnvdEntries.Write(w, entry);
        w.WriteEndObject();
    });

    private static async Task StatAsync(ConnectCall call, Sandbox sandbox)
    {
        var path = RequirePath(await call.ReadMessageAsync());
        await SendEntryAsync(call, await StatEntryAsync(call, sandbox, path));
    }

    private static async Task MakeDirAsync(ConnectCall call, Sandbox sandbox)
    {
        var path = RequirePath(await call.ReadMessageAsync());
        await Agent(sandbox, AgentOps.FsMkdir, w => { w.WriteString("path", path); w.WriteBoolean("exclusive", true); w.WriteString("user", call.User); }, call.Aborted);
        await SendEntryAsync(call, await StatEntryAsync(call, sandbox, path));
    }

    private static async Task MoveAsync(ConnectCall call, Sandbox sandbox)
    {
        var request = await call.ReadMessageAsync();
        var source = RequirePath(request, "source");
        var destination = RequirePath(request, "destination");
        await Agent(sandbox, AgentOps.FsMove, w => { w.WriteString("from", source); w.WriteString("to", destination); w.WriteString("user", call.User); }, call.Aborted);
        await SendEntryAsync(call, await StatEntryAsync(call, sandbox, destination));
    }

    private static async Task ListDirAsync(ConnectCall call, Sandbox sandbox)
    {
        var request = await call.ReadMessageAsync();
        var path = RequirePath(request);
        var depth = ProtoJson.Integer(request, "depth", 0, uint.MaxValue) ?? 0;
        // envd: 0 is 1 (the directory's own entries); the agent walks at most 64 levels.
        depth = Math.Clamp(depth, 1, 64);
        var done = await Agent(sandbox, AgentOps.FsList, w => { w.WriteString("path", path); w.WriteNumber("depth", depth); w.WriteBoolean("anywhere", true); w.WriteString("user", call.User); }, call.Aborted);
        await call.SendAsync(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("entries");
            foreach (var entry in done.GetProperty("entries").EnumerateArray())
            {
                // The agent's own temporary files of unfinished uploads are not the user's.
                if (entry.TryGetProperty("name", out var name) && name.GetString()!.StartsWith(".agw-upload-", StringComparison.Ordinal)) continue;
                EnvdEntries.Write(w, entry);
            }
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    private static async Task RemoveAsync(ConnectCall call, Sandbox sandbox)
    {
        var path = RequirePath(await call.ReadMessageAsync());
        await Agent(sandbox, AgentOps.FsRemove, w => { w.WriteString("path", path); w.WriteString("user", call.User); }, call.Aborted);
        await call.SendAsync(w => { w.WriteStartObject(); w.WriteEndObject(); });
    }

    private static async Task WatchDirAsync(ConnectCall call, Sandbox sandbox)
    {
        var request = await call.ReadMessageAsync();
        var path = RequirePath(request);
        var recursive = ProtoJson.Bool(request, "recursive") ?? false;
        var queue = StreamRelay.NewQueue();
        var watch = StartWatch(sandbox, path, recursive);
        try
        {
            await FirstAsync(watch, call.Aborted);
            queue.Writer.TryWrite(new RelayMessage(WatchStart));
            _ = RelayEventsAsync(watch, queue, e => Json(w =>
            {
                w.WritePropertyName("filesystem");
                WriteEvent(w, e);
            }));
            await StreamRelay.RunAsync(call, queue.Reader, WatchKeepalive, call.Timeout());
        }
        finally { watch.Cancel(); }
    }

    private static AgentCall StartWatch(Sandbox sandbox, string path, bool recursive) =>
        sandbox.Agent.Start(AgentOps.FsWatch, w => { w.WriteString("path", path); w.WriteBoolean("recursive", recursive); w.WriteBoolean("anywhere", true); });

    /// <summary>Waits for the watch to be in place (its start event), or throws why it could not be.</summary>
    private static async Task FirstAsync(AgentCall watch, CancellationToken ct)
    {
        await foreach (var e in watch.Events.ReadAllAsync(ct))
        {
            if (e.Type == "start") return;
            if (e.Type == "error") throw ConnectError.FromAgent(AgentConnection.ToException(e));
            if (e.Type == "done") break;
        }
        throw new ConnectError(ConnectError.Unavailable, "the sandbox has ended");
    }

    private static async Task RelayEventsAsync(AgentCall watch, Channel<RelayMessage> queue, Func<AgentEvent, byte[]> message)
    {
        await foreach (var e in watch.Events.ReadAllAsync())
        {
            if (e.Type == "fs_event" && !IsUploadTemporary(e)) StreamRelay.Offer(queue, new RelayMessage(message(e)));
            else if (e.Type == "error") StreamRelay.Offer(queue, new RelayMessage(null, ConnectError.FromAgent(AgentConnection.ToException(e))));
        }
        queue.Writer.TryComplete();
    }

    /// <summary>
    /// An upload's hidden temporary file (the agent writes beside the target, then renames it into place): its own
    /// events are the gateway's doing; the rename shows as the target's creation.
    /// </summary>
    private static bool IsUploadTemporary(AgentEvent e)
    {
        var name = e.String("name") ?? "";
        return name[(name.LastIndexOf('/') + 1)..].StartsWith(".agw-upload-", StringComparison.Ordinal);
    }

    /// <summary>A FilesystemEvent: the name relative to the watched directory and the EventType's name.</summary>
    private static void WriteEvent(Utf8JsonWriter w, AgentEvent e)
    {
        w.WriteStartObject();
        w.WriteString("name", e.String("name") ?? "");
        w.WriteString("type", EventTypes.GetValueOrDefault(e.String("op") ?? "", "EVENT_TYPE_UNSPECIFIED"));
        w.WriteEndObject();
    }

    private async Task CreateWatcherAsync(ConnectCall call, Sandbox sandbox)
    {
        var request = await call.ReadMessageAsync();
        var path = RequirePath(request);
        var recursive = ProtoJson.Bool(request, "recursive") ?? false;
        if (_watchers.Values.Count(x => x.SandboxId == sandbox.Id) >= MaxWatchersPerSandbox)
            throw new ConnectError(ConnectError.ResourceExhausted, $"a sandbox may have at most {MaxWatchersPerSandbox} watchers; remove one first");
        var watch = StartWatch(sandbox, path, recursive);
        try { await FirstAsync(watch, call.Aborted); }
        catch (OperationCanceledException)
        {
            watch.Cancel();         // nobody will ever hold its id
            throw;
        }
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));
        var watcher = new Watcher(sandbox.Id, watch);
        _watchers[id] = watcher;
        _ = watcher.CollectAsync(() => _watchers.TryRemove(id, out _));
        await call.SendAsync(w => { w.WriteStartObject(); w.WriteString("watcherId", id); w.WriteEndObject(); });
    }

    private async Task GetWatcherEventsAsync(ConnectCall call, Sandbox sandbox)
    {
        var watcher = Find(await call.ReadMessageAsync(), sandbox);
        var events = watcher.Take();
        await call.SendAsync(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("events");
            foreach (var e in events) WriteEvent(w, e);
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    private async Task RemoveWatcherAsync(ConnectCall call, Sandbox sandbox)
    {
        var request = await call.ReadMessageAsync();
        var watcher = Find(request, sandbox);
        watcher.Watch.Cancel();
        _watchers.TryRemove(ProtoJson.String(request, "watcherId", "watcher_id")!, out _);
        await call.SendAsync(w => { w.WriteStartObject(); w.WriteEndObject(); });
    }

    /// <summary>The sandbox's watcher named in the request; another sandbox's is as unknown as a made-up id.</summary>
    private Watcher Find(JsonElement request, Sandbox sandbox)
    {
        var id = ProtoJson.String(request, "watcherId", "watcher_id");
        if (string.IsNullOrEmpty(id)) throw ConnectError.Invalid("watcherId is required");
        return _watchers.TryGetValue(id, out var w) && w.SandboxId == sandbox.Id
            ? w
            : throw new ConnectError(ConnectError.NotFound, $"watcher '{(id.Length > 64 ? id[..64] + "..." : id)}' not found");
    }

    private static async Task<JsonElement> Agent(Sandbox sandbox, string op, Action<Utf8JsonWriter>? args, CancellationToken ct)
    {
        try { return await sandbox.Agent.CallAsync(op, args, ct); }
        catch (AgentException ex) { throw ConnectError.FromAgent(ex); }
    }

    /// <summary>A filesystem.WatchDirResponse: <c>{"event"?...}</c> is not a wrapper here, the oneof sits at the top.</summary>
    private static byte[] Json(Action<Utf8JsonWriter> inner)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            inner(w);
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>A CreateWatcher watch: its agent stream, and the events no GetWatcherEvents has taken yet.</summary>
    private sealed class Watcher(string sandboxId, AgentCall watch)
    {
        private readonly Lock _gate = new();
        private List<AgentEvent> _events = [];

        public string SandboxId { get; } = sandboxId;
        public AgentCall Watch { get; } = watch;

        public async Task CollectAsync(Action removed)
        {
            await foreach (var e in Watch.Events.ReadAllAsync())
            {
                if (e.Type != "fs_event" || IsUploadTemporary(e)) continue;
                lock (_gate)
                {
                    // Beyond the cap the oldest go: a client that stopped polling gets the latest changes.
                    if (_events.Count >= MaxBufferedEvents) _events.RemoveAt(0);
                    _events.Add(e);
                }
            }
            removed();
        }

        public List<AgentEvent> Take()
        {
            lock (_gate)
            {
                var taken = _events;
                _events = [];
                return taken;
            }
        }
    }
}
