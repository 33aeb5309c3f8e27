using System.Text.Json;
using AgenticGateway.GuestAgent.Contexts;
using AgenticGateway.GuestAgent.Egress;
using AgenticGateway.GuestAgent.Files;
using AgenticGateway.GuestAgent.Loop;
using AgenticGateway.GuestAgent.Native;
using AgenticGateway.GuestAgent.Processes;
using AgenticGateway.GuestAgent.Protocol;
using AgenticGateway.Sandboxes.Protocol;

namespace AgenticGateway.GuestAgent;

/// <summary>
/// The agent: reads request lines from the transport, dispatches each op (contexts and processes on the loop thread,
/// file ops and egress.start on the agent's file threads, the chunks of uploads one at a time in order on a thread of
/// their own) and shuts everything down when the transport ends. Protocol: docs/sandbox-agent-protocol.md.
/// </summary>
internal sealed class Agent
{
    public const int Version = AgentOps.Version;
    private const long DefaultMaxOutput = 1 << 20;
    private static readonly string[] Languages = ["python", "node", "bash"];

    private readonly FileOps _files;
    private readonly PathResolver _paths;
    private readonly EgressForwarder _egress;
    // Created at start, never later (AgentThreads): file ops two at a time, so one large read does not hold up a stat;
    // upload chunks on one thread, in order.
    private readonly AgentThreads _fileThreads = new("agw-files", 2);
    private readonly AgentThreads _uploadThread = new("agw-uploads", 1);
    /// <summary>Contexts started at launch (<see cref="PreStart"/>) that no context.create has joined yet.</summary>
    private readonly HashSet<string> _preStarted = new(StringComparer.Ordinal);
    private string? _cellDirectory;
    private int _cellIds;
    private int _shuttingDown;

    public Agent(AgentSettings settings, AgentLoop loop, EventSink events)
    {
        Settings = settings;
        Loop = loop;
        Events = events;
        _paths = new PathResolver(settings.Roots, settings.Home);
        _files = new FileOps(_paths, events);
        _egress = new EgressForwarder(events);
    }

    public AgentSettings Settings { get; }
    public AgentLoop Loop { get; }
    public EventSink Events { get; }
    public Dictionary<string, CodeContext> Contexts { get; } = new(StringComparer.Ordinal);
    public Dictionary<int, UserProcess> Processes { get; } = [];
    public Dictionary<long, ICancellable> Cancellable { get; } = [];

    /// <summary>Serves the transport: one reader, on the loop thread, until end-of-file.</summary>
    public async Task ServeAsync(Stream input)
    {
        var buffer = GC.AllocateUninitializedArray<byte>(1 << 20);     // not zeroed: see Kernel.ReadBuffer
        var filled = 0;
        while (true)
        {
            if (filled == buffer.Length) Array.Resize(ref buffer, buffer.Length * 2);
            int n;
            try { n = await input.ReadAsync(buffer.AsMemory(filled)); }
            catch (Exception e) when (e is IOException or ObjectDisposedException or System.Net.Sockets.SocketException) { n = 0; }
            if (n == 0) break;
            var scanFrom = filled;
            filled += n;
            var start = 0;
            int nl;
            while ((nl = buffer.AsSpan(scanFrom, filled - scanFrom).IndexOf((byte)'\n')) >= 0)
            {
                var end = scanFrom + nl;
                var line = buffer.AsSpan(start, end - start);
                if (!line.Trim(" \t\r"u8).IsEmpty) OnRequest(line);
                start = scanFrom = end + 1;
            }
            if (start > 0)
            {
                buffer.AsSpan(start, filled - start).CopyTo(buffer);
                filled -= start;
            }
        }
        Shutdown();
    }

    private void OnRequest(ReadOnlySpan<byte> line)
    {
        long id = 0;
        JsonDocument? doc = null;
        var handedOff = false;
        try
        {
            try { doc = JsonDocument.Parse(line.ToArray()); }
            catch (JsonException e) { throw OpError.Invalid($"bad request: {e.Message}"); }
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw OpError.Invalid("a request is a JSON object");
            if (!root.TryGetProperty("id", out var idElement) || idElement.ValueKind != JsonValueKind.Number
                || !idElement.TryGetInt64(out id) || id <= 0)
            {
                id = 0;
                throw OpError.Invalid("id must be a positive integer");
            }
            var op = root.TryGetProperty("op", out var opElement) && opElement.ValueKind == JsonValueKind.String ? opElement.GetString() : null;
            var req = new Request(root);
            switch (op)
            {
                case AgentOps.Ping: Events.Done(id); break;
                case AgentOps.GuestResume: GuestResume.Run(req); Events.Done(id); break;
                case AgentOps.ContextCreate: ContextCreate(id, req); break;
                case AgentOps.ContextList: ContextList(id); break;
                case AgentOps.ContextRestart: FindContext(req).Restart(id); break;
                case AgentOps.ContextRemove: ContextRemove(id, req); break;
                case AgentOps.Execute: Execute(id, req); break;
                case AgentOps.ProcessStart: ProcessStart(id, req); break;
                case AgentOps.ProcessInput: ProcessInput(id, req); break;
                case AgentOps.ProcessSignal: ProcessSignal(id, req); break;
                case AgentOps.ProcessResize: ProcessResize(id, req); break;
                case AgentOps.ProcessList: ProcessList(id); break;
                case AgentOps.Cancel: Cancel(id, req); break;
                case AgentOps.FsWatch: Watch(id, req); break;
                case AgentOps.FsWrite:
                    handedOff = true;
                    var (uid, udoc) = (id, doc);
                    _uploadThread.Queue(() => RunOffLoop(uid, udoc, AgentOps.FsWrite));
                    break;
                case AgentOps.FsStat or AgentOps.FsList or AgentOps.FsRead or AgentOps.FsMkdir or AgentOps.FsMove or AgentOps.FsRemove or AgentOps.EgressStart:
                    handedOff = true;
                    var (rid, d, name) = (id, doc, op);
                    _fileThreads.Queue(() => RunOffLoop(rid, d, name));
                    break;
                default:
                    throw OpError.Invalid($"unknown op '{op}'");
            }
        }
        catch (Exception e)
        {
            ReportFailure(id, e);
        }
        finally
        {
            if (!handedOff) doc?.Dispose();
        }
    }

    private void ReportFailure(long id, Exception e)
    {
        switch (e)
        {
            case OpError op: Events.Error(id, op.Code, op.Message); break;
            case ErrnoException errno: Events.Error(id, errno.Code, errno.Code == AgentErrors.Limit ? OpError.LimitMessage : errno.Message); break;
            case OutOfMemoryException: Events.Error(id, AgentErrors.Limit, OpError.LimitMessage); break;
            default:
                AgentLog.Write($"request failed:\n{e}");
                Events.Error(id, AgentErrors.Internal, $"{e.GetType().Name}: {e.Message}");
                break;
        }
    }

    private void RunOffLoop(long id, JsonDocument doc, string op)
    {
        using (doc)
        {
            try
            {
                var req = new Request(doc.RootElement);
                // File ops act as the request's user: what they create is the user's to change, and they reach only
                // what the user's own processes could (SandboxUser). The egress forwarder stays the agent's.
                using var _ = SandboxUser.BecomeForFiles(op == AgentOps.EgressStart ? RunAs.Root : SandboxUser.From(req));
                switch (op)
                {
                    case AgentOps.FsStat: _files.Stat(id, req); break;
                    case AgentOps.FsList: _files.List(id, req); break;
                    case AgentOps.FsRead: _files.Read(id, req); break;
                    case AgentOps.FsWrite: _files.Write(id, req); break;
                    case AgentOps.FsMkdir: _files.MakeDirectory(id, req); break;
                    case AgentOps.FsMove: _files.Move(id, req); break;
                    case AgentOps.FsRemove: _files.Remove(id, req); break;
                    case AgentOps.EgressStart: _egress.Start(id, req); break;
                }
            }
            catch (Exception e)
            {
                ReportFailure(id, e);
            }
        }
    }

    // -- contexts

    private CodeContext FindContext(Request req)
    {
        var name = req.String("context")!;
        return Contexts.TryGetValue(name, out var ctx) ? ctx : throw new OpError(AgentErrors.NotFound, $"no context {name}");
    }

    private string ResolveCwd(Request req)
    {
        var cwd = req.String("cwd", required: false);
        var path = string.IsNullOrEmpty(cwd) ? Settings.Home : PathResolver.NormPath(PathResolver.Join(Settings.Home, cwd));
        if (Libc.FStatAt(Libc.AT_FDCWD, path, out var st, 0) < 0 || !st.IsDirectory)
            throw new OpError(AgentErrors.NotFound, $"cwd {path} is not a directory");
        return path;
    }

    public static bool IsLanguage(string language) => Languages.Contains(language);

    /// <summary>
    /// Starts a context at launch, before any request (agw-agent --context NAME=LANGUAGE): in the home directory, with
    /// the agent's environment. The first context.create of that name and language, without cwd or env, joins it
    /// instead of failing as <c>exists</c>. If the interpreter cannot start, there is no context, and that create
    /// starts one itself and reports why it fails.
    /// </summary>
    public void PreStart(string name, string language)
    {
        var ctx = new CodeContext(this, name, language, Settings.Home, []);
        try { ctx.Start(); }
        catch (OpError e)
        {
            AgentLog.Write($"context {name} ({language}) did not start at launch: {e.Message}");
            return;
        }
        Contexts[name] = ctx;
        _preStarted.Add(name);
    }

    private void ContextCreate(long id, Request req)
    {
        var name = req.String("context")!;
        var language = req.Get("language") is { ValueKind: JsonValueKind.String } l ? l.GetString() : null;
        if (language is null || !Languages.Contains(language)) throw OpError.Invalid($"language must be one of {string.Join(", ", Languages)}");
        if (_preStarted.Remove(name) && Contexts.TryGetValue(name, out var started) && started.Language == language
            && !req.Has("cwd") && req.Env().Count == 0)
        {
            started.Join(id);
            return;
        }
        if (Contexts.ContainsKey(name)) throw new OpError(AgentErrors.Exists, $"context {name} exists");
        var ctx = new CodeContext(this, name, language, ResolveCwd(req), req.Env());
        ctx.Start();
        Contexts[name] = ctx;
        ctx.AddWaiter(id);
    }

    private void ContextList(long id)
    {
        var w = Events.Begin(id, "done");
        w.WriteStartArray("contexts");
        foreach (var ctx in Contexts.Values)
        {
            w.WriteStartObject();
            ctx.WriteInfo(w);
            w.WriteBoolean("busy", ctx.Busy);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        Events.End();
    }

    private void ContextRemove(long id, Request req)
    {
        var ctx = FindContext(req);
        Contexts.Remove(ctx.Name);
        ctx.Remove();
        Events.Done(id);
    }

    private void Execute(long id, Request req)
    {
        var ctx = FindContext(req);
        var code = req.String("code", required: false, allowEmpty: true) ?? "";
        var env = req.Env();
        if (ctx.Language == "bash")
        {
            foreach (var (k, _) in env)
            {
                if (!(char.IsAsciiLetter(k[0]) || k[0] == '_') || !k.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
                    throw OpError.Invalid($"env: '{k}' is not a shell variable name");
            }
        }
        var cwd = req.Has("cwd") ? ResolveCwd(req) : null;
        var timeout = req.Int("timeout_ms", 0);
        var maxOutput = req.Int("max_output_bytes", 0) ?? DefaultMaxOutput;
        if (ctx.Busy) throw new OpError(AgentErrors.Busy, $"context {ctx.Name} is executing");
        var ex = new Execution(ctx, id, code, env, cwd, timeout, maxOutput);
        ctx.Submit(ex);
        Cancellable[id] = ex;
    }

    // -- processes

    private UserProcess FindProcess(Request req)
    {
        var pid = req.Int("pid");
        return pid is not null && Processes.TryGetValue((int)pid, out var p) ? p : throw new OpError(AgentErrors.NotFound, $"no running process {pid}");
    }

    private void ProcessStart(long id, Request req)
    {
        var argv = req.StringArray("argv");
        var cmd = argv is null ? req.String("cmd")! : string.Join(' ', argv);
        var stdin = req.Bool("stdin", fallback: true);
        var cwd = ResolveCwd(req);
        var env = req.Env();
        (int, int)? pty = null;
        if (req.Get("pty") is { } p && p.ValueKind != JsonValueKind.False)
        {
            if (p.ValueKind == JsonValueKind.True) pty = (80, 24);
            else if (p.ValueKind != JsonValueKind.Object) throw OpError.Invalid("pty must be an object {cols, rows}");
            else
            {
                var size = new Request(p);
                pty = ((int)(size.Int("cols", 1, 65535) ?? 80), (int)(size.Int("rows", 1, 65535) ?? 24));
            }
        }
        var tag = req.Get("tag")?.Clone();      // any JSON value, echoed by process.list
        var timeout = req.Int("timeout_ms", 0);
        var maxOutput = req.Int("max_output_bytes", 0) ?? DefaultMaxOutput;
        var user = SandboxUser.From(req);
        var process = new UserProcess(this, id, cmd, argv, stdin, cwd, user, env, pty, tag, timeout, maxOutput);
        process.Start();
        if (!process.Exited) Processes[process.Pid] = process;
        if (!process.Finished) Cancellable[id] = process;
    }

    private void ProcessInput(long id, Request req)
    {
        var p = FindProcess(req);
        byte[] data;
        if (req.Has("data_b64"))
        {
            try { data = Convert.FromBase64String(req.String("data_b64", allowEmpty: true)!); }
            catch (FormatException) { throw OpError.Invalid("data_b64 is not valid base64"); }
        }
        else data = System.Text.Encoding.UTF8.GetBytes(req.String("data", required: false, allowEmpty: true) ?? "");
        var eof = req.Bool("eof");
        var stdin = p.Stdin ?? throw OpError.Invalid($"process {p.Pid} was started without stdin");
        if (data.Length > 0) stdin.Write(data);
        if (eof)
        {
            if (p.PtySize is not null)
            {
                if (!stdin.Closed) stdin.Write([4]);        // a terminal has no end of file to close: ^D says it
            }
            else stdin.CloseAfterDrain();
        }
        Events.Done(id);
    }

    private void ProcessSignal(long id, Request req)
    {
        var p = FindProcess(req);
        var name = req.Get("signal") is { ValueKind: JsonValueKind.String } s ? s.GetString()! : "";
        if (!Signals.Accepted.TryGetValue(name, out var sig))
            throw OpError.Invalid($"signal must be one of {string.Join(", ", Signals.Accepted.Keys)}");
        p.Signal(sig);
        Events.Done(id);
    }

    private void ProcessResize(long id, Request req)
    {
        var p = FindProcess(req);
        if (p.PtySize is null) throw OpError.Invalid($"process {p.Pid} has no pty");
        var cols = req.Int("cols", 1, 65535);
        var rows = req.Int("rows", 1, 65535);
        if (cols is null || rows is null) throw OpError.Invalid("cols and rows are required");
        if (!p.Stdin!.Closed) Pty.SetSize(p.Stdin.Fd, (int)cols, (int)rows);
        p.PtySize = ((int)cols, (int)rows);
        Events.Done(id);
    }

    private void ProcessList(long id)
    {
        var w = Events.Begin(id, "done");
        w.WriteStartArray("processes");
        foreach (var p in Processes.Values) p.WriteInfo(w);
        w.WriteEndArray();
        Events.End();
    }

    private void Cancel(long id, Request req)
    {
        var target = req.Int("target");
        // Else it has ended already (a cancel racing its end is no error).
        if (target is not null && Cancellable.TryGetValue(target.Value, out var c)) c.Cancel();
        Events.Done(id);
    }

    // -- directory watches

    private void Watch(long id, Request req)
    {
        var p = JsonPath.From(req, "path");
        var real = _paths.Resolve(p, req.Bool("anywhere"));
        if (Libc.FStatAt(Libc.AT_FDCWD, real, out var st, 0) < 0) throw ErrnoException.Last(p.Value);
        if (!st.IsDirectory) throw OpError.Invalid($"{p.Value} is not a directory");
        var watch = new DirectoryWatch(this, id, real, _paths.Display(p), req.Bool("recursive"));
        watch.Start();
        Cancellable[id] = watch;
    }

    // -- bash cells

    public string CellDirectory()
    {
        if (_cellDirectory is null)
        {
            var tmp = Settings.Environment.TryGetValue("TMPDIR", out var t) && t.Length > 0 ? t : "/tmp";
            var dir = Path.Join(tmp, $".agw-{Environment.ProcessId}");
            if (dir.IndexOfAny(" \t\n'\"\\$`;&|<>(){}*?[]#~".ToCharArray()) >= 0) dir = $"/tmp/.agw-{Environment.ProcessId}";  // goes into a shell line unquoted
            // The user's, as the bash interpreters that read the cells are (SandboxUser).
            using (SandboxUser.BecomeForFiles(RunAs.User)) DirectoryFds.MakePrivateDirectory(dir);
            _cellDirectory = dir;
        }
        return _cellDirectory;
    }

    public int NextCellId() => ++_cellIds;

    // -- life

    /// <summary>The transport ended (or a signal asked): kill everything started here, write what is queued, exit.</summary>
    public void Shutdown()
    {
        if (Interlocked.Exchange(ref _shuttingDown, 1) != 0) return;
        foreach (var ctx in Contexts.Values.ToList())
            if (ctx.Kernel is { Pid: > 0 } k) ProcessGroups.Kill(k.Pid);
        foreach (var p in Processes.Values.ToList()) ProcessGroups.Kill(p.Pid);
        if (_cellDirectory is not null)
        {
            try { Directory.Delete(_cellDirectory, recursive: true); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        Events.OnBroken = null;
        Events.Flush(TimeSpan.FromSeconds(5));
        Environment.Exit(0);
    }
}
