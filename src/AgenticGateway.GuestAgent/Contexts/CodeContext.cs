using System.Buffers;
using System.Diagnostics;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using AgenticGateway.GuestAgent.Loop;
using AgenticGateway.GuestAgent.Native;
using AgenticGateway.GuestAgent.Protocol;
using AgenticGateway.Sandboxes.Protocol;

namespace AgenticGateway.GuestAgent.Contexts;

/// <summary>
/// A named, persistent interpreter (python, node or bash) and its one execution at a time: starting and restarting
/// the interpreter (waiting for its old process group to be reaped first), executions queued while it starts,
/// timeouts and cancels (SIGINT, then SIGKILL and a restart 2 s later), interpreter death, and the output cap.
/// Loop thread only, like everything it touches.
/// </summary>
internal sealed class CodeContext(Agent agent, string name, string language, string cwd, List<KeyValuePair<string, string>> env)
{
    private static readonly TimeSpan KillGrace = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan GroupGoneWait = TimeSpan.FromSeconds(1);
    private static readonly JsonWriterOptions ControlJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private static readonly string[] ResultKeys = ["text", "html", "markdown", "svg", "png", "jpeg", "json", "latex"];

    private enum State { Dead, Starting, Idle, Busy }

    private readonly List<long> _waiters = [];
    private readonly MemoryStream _startOutput = new();
    private State _state = State.Dead;
    private LoopTimer? _startTimer;
    private long _seq;
    private bool _removed, _created;
    private string? _cellPath;

    public Agent Agent { get; } = agent;
    public string Name { get; } = name;
    public string Language { get; } = language;
    public string Cwd { get; } = cwd;
    public List<KeyValuePair<string, string>> Env { get; } = env;
    public Kernel? Kernel { get; private set; }
    public Execution? Running { get; private set; }
    public Execution? Queued { get; private set; }
    public bool Busy => Running is not null || Queued is not null;

    public void WriteInfo(Utf8JsonWriter w)
    {
        w.WriteString("context", Name);
        w.WriteString("language", Language);
        w.WriteString("cwd", Cwd);
        if (Kernel is { } k) w.WriteNumber("pid", k.Pid);
        else w.WriteNull("pid");
    }

    public void AddWaiter(long id) => _waiters.Add(id);

    /// <summary>A context.create joining a context started at launch: answered now if its interpreter is ready, else when it is.</summary>
    public void Join(long id)
    {
        if (_state is State.Idle or State.Busy)
        {
            var w = Agent.Events.Begin(id, "done");
            WriteInfo(w);
            Agent.Events.End();
        }
        else if (_state == State.Starting) AddWaiter(id);
        else Restart(id);       // it died and could not be restarted: try again for this caller
    }

    // -- lifecycle

    public void Start()
    {
        Kernel = new Kernel(this);
        _state = State.Starting;
        _startOutput.SetLength(0);
        try
        {
            Kernel.Start();
        }
        catch (OpError)
        {
            Kernel = null;
            _state = State.Dead;
            throw;
        }
        _startTimer = LoopTimer.Start(Agent.Loop, StartTimeout, StartTimedOut);
    }

    private void StartTimedOut()
    {
        if (_state != State.Starting) return;
        var k = Kernel;
        Kernel = null;
        k?.Close();
        StartFailed($"the {Language} interpreter did not start within {StartTimeout.TotalSeconds:0} s");
    }

    /// <summary>
    /// Starts a fresh interpreter once the old one's process group is gone: killed processes hold their pids, which
    /// count against the sandbox's process limit, until they are reaped. Waits at most <see cref="GroupGoneWait"/>.
    /// </summary>
    private async Task StartWhenGoneAsync(int pgid)
    {
        _state = State.Starting;
        var deadline = Stopwatch.GetTimestamp() + (long)(GroupGoneWait.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            if (_state != State.Starting || Kernel is not null || _removed) return;
            if (ProcessGroups.Alive(pgid) && Stopwatch.GetTimestamp() < deadline)
            {
                ChildExits.ReapOrphans();        // the killed group's orphans are the agent's to reap: no SIGCHLD needed for them
                await Agent.Loop.Delay(TimeSpan.FromMilliseconds(2));
                continue;
            }
            try { Start(); }
            catch (OpError e) { StartFailed(e.Message, e.Code); }
            return;
        }
    }

    private void StartFailed(string message, string code = AgentErrors.Internal)
    {
        _state = State.Dead;
        if (!_created && Agent.Contexts.TryGetValue(Name, out var registered) && registered == this) Agent.Contexts.Remove(Name);
        var detail = Encoding.UTF8.GetString(_startOutput.GetBuffer(), 0, (int)_startOutput.Length).Trim();
        if (detail.Length > 0) message += ": " + detail[Math.Max(0, detail.Length - 2000)..];
        foreach (var id in _waiters) Agent.Events.Error(id, code, message);
        _waiters.Clear();
        if (Queued is { } ex)
        {
            Queued = null;
            Agent.Cancellable.Remove(ex.Id);
            Agent.Events.Error(ex.Id, code, message);
        }
    }

    private void Stop(string reason, bool restarting)
    {
        _startTimer?.Cancel();
        _startTimer = null;
        if (Running is not null) FinishException("InterpreterDied", reason, restarting);
        Kernel?.Close();
        Kernel = null;
        _state = State.Dead;
    }

    public void Restart(long? id)
    {
        var old = Kernel?.Pid;
        Stop("the context was restarted", restarting: true);
        if (id is { } rid) _waiters.Add(rid);
        if (old is { } pid)
        {
            _ = StartWhenGoneAsync(pid);
            return;
        }
        try { Start(); }
        catch (OpError e) { StartFailed(e.Message, e.Code); }
    }

    public void Remove()
    {
        _removed = true;
        Stop("the context was removed", restarting: false);
        foreach (var id in _waiters) Agent.Events.Error(id, AgentErrors.NotFound, $"context {Name} was removed");
        _waiters.Clear();
        if (Queued is { } ex)
        {
            Queued = null;
            Agent.Cancellable.Remove(ex.Id);
            Agent.Events.Error(ex.Id, AgentErrors.NotFound, $"context {Name} was removed");
        }
        if (_cellPath is not null) Libc.unlinkat(Libc.AT_FDCWD, _cellPath, 0);
    }

    public void OnKernelExit(Kernel kernel, int status)
    {
        if (kernel != Kernel) return;
        Kernel = null;
        var code = ChildExits.ExitCode(status);
        if (_state == State.Starting)
        {
            _startTimer?.Cancel();
            _startTimer = null;
            var how = code < 0 ? $"was killed by {Signals.Name(-code)}" : $"exited with status {code}";
            StartFailed($"the {Language} interpreter {how} while starting");
            return;
        }
        if (Running is { } ex)
        {
            if (code >= 0 && !ex.TimedOut && !ex.Cancelled)
            {
                Finish(code, restarted: true);      // `exit` (bash), process.exit(), os._exit(): an ending, not an error
            }
            else if (ex.TimedOut)
            {
                if (ex.HadException) Finish(1, restarted: true);     // its TimeoutError is out; it then hung (a finally: block?)
                else FinishException("TimeoutError", TimeoutMessage(ex, killed: true), restarted: true);
            }
            else
            {
                var what = code < 0 ? $"was killed by {Signals.Name(-code)}" : $"exited with status {code}";
                if (ex.Cancelled) what += " (cancelled)";
                else if (code == -Libc.SIGKILL) what += " (out of memory?)";
                FinishException("InterpreterDied", $"the {Language} interpreter {what}", restarted: true,
                    exitCode: code < 0 && Language == "bash" ? 128 - code : 1);
            }
        }
        _state = State.Dead;
        if (_removed) return;
        _ = StartWhenGoneAsync(kernel.Pid);
    }

    // -- executions

    public void Submit(Execution ex)
    {
        if (_state == State.Idle)
        {
            Send(ex);
            return;
        }
        Queued = ex;
        if (_state == State.Dead)
        {
            try { Start(); }
            catch (OpError)
            {
                Queued = null;
                throw;
            }
        }
    }

    /// <summary>Hands <paramref name="ex"/> to the interpreter; throws <see cref="OpError"/> (nothing changed) when it cannot.</summary>
    private void Send(Execution ex)
    {
        ex.Seq = ++_seq;
        byte[] data;
        if (Language == "bash")
        {
            try { data = BashCommand(ex); }
            catch (ErrnoException e) { throw new OpError(AgentErrors.Internal, $"cannot write the cell file: {e.Message}"); }
        }
        else
        {
            var buffer = new System.Buffers.ArrayBufferWriter<byte>(ex.Code.Length + 64);
            using (var w = new Utf8JsonWriter(buffer, ControlJson))
            {
                w.WriteStartObject();
                w.WriteNumber("seq", ex.Seq);
                w.WriteString("code", Text.Safe(ex.Code));
                if (ex.Env.Count > 0)
                {
                    w.WriteStartObject("env");
                    foreach (var (k, v) in ex.Env) w.WriteString(k, v);
                    w.WriteEndObject();
                }
                if (ex.Cwd is not null) w.WriteString("cwd", ex.Cwd);
                w.WriteEndObject();
            }
            buffer.Write("\n"u8);
            data = buffer.WrittenSpan.ToArray();
        }
        Running = ex;
        _state = State.Busy;
        ex.StartedAt = Stopwatch.GetTimestamp();
        Kernel!.Control!.Write(data);
        if (ex.TimeoutMs is > 0 and var ms)
            ex.Timer = LoopTimer.Start(Agent.Loop, TimeSpan.FromMilliseconds(ms), () => Interrupt(ex, timeout: true));
    }

    private unsafe byte[] BashCommand(Execution ex)
    {
        _cellPath ??= Path.Join(Agent.CellDirectory(), "c" + Agent.NextCellId());
        // Written with the user's file system ids: the interpreter that reads it is the user's, and the user owns (and
        // could swap) the directory, which a root agent must not follow anywhere the user could not write.
        using var asUser = SandboxUser.BecomeForFiles(RunAs.User);
        // Overwritten in place and shrunk only when it was longer: O_TRUNC frees and reallocates the file's blocks,
        // which costs ~150 us on a journaling file system.
        const int flags = Libc.O_WRONLY | Libc.O_CREAT | Libc.O_NOFOLLOW | Libc.O_CLOEXEC;
        var fd = Libc.open(_cellPath, flags, 384);
        if (fd < 0 && Libc.Errno == Libc.ENOENT)
        {
            Files.DirectoryFds.MakePrivateDirectory(Path.GetDirectoryName(_cellPath)!);
            fd = Libc.open(_cellPath, flags, 384);
        }
        if (fd < 0) throw ErrnoException.Last(_cellPath);
        try
        {
            var code = Encoding.UTF8.GetBytes(ex.Code);
            fixed (byte* p = code)
            {
                var pos = 0;
                while (pos < code.Length)
                {
                    var n = Libc.pwrite(fd, p + pos, code.Length - pos, pos);
                    if (n < 0) throw ErrnoException.Last(_cellPath);
                    pos += (int)n;
                }
            }
            if (Libc.FStatAt(fd, "", out var st, Libc.AT_EMPTY_PATH) == 0 && st.Size > code.Length) Libc.ftruncate(fd, code.Length);
        }
        finally
        {
            Libc.close(fd);
        }
        // Top-level `.` (not inside a function), so `declare` and `local` in the cell behave as at top level.
        var prefix = new StringBuilder();
        foreach (var (k, v) in ex.Env) prefix.Append(k).Append('=').Append(Shell.Quote(v)).Append(' ');
        var line = new StringBuilder();
        if (ex.Cwd is not null) line.Append("cd -- ").Append(Shell.Quote(ex.Cwd)).Append(" && ");
        line.Append(prefix).Append(". ").Append(_cellPath).Append(" 3>&- </dev/null;__agw_d ").Append(ex.Seq).Append('\n');
        return Encoding.UTF8.GetBytes(line.ToString());
    }

    /// <summary>Timeout or cancel: SIGINT now, SIGKILL (and a restart) if still running <see cref="KillGrace"/> later.</summary>
    public void Interrupt(Execution ex, bool timeout)
    {
        if (Running != ex)
        {
            if (Queued == ex)       // not started yet: just drop it
            {
                Queued = null;
                ex.Cancelled = true;
                Agent.Cancellable.Remove(ex.Id);
                var w = Agent.Events.Begin(ex.Id, "exception");
                w.WriteString("name", "Cancelled");
                w.WriteString("value", "cancelled before it started");
                w.WriteString("traceback", "");
                Agent.Events.End();
                w = Agent.Events.Begin(ex.Id, "done");
                w.WriteNumber("exit_code", 1);
                w.WriteNumber("duration_ms", 0);
                w.WriteBoolean("truncated", false);
                w.WriteBoolean("timed_out", false);
                w.WriteBoolean("context_restarted", false);
                Agent.Events.End();
            }
            return;
        }
        if (ex.KillTimer is not null) return;      // already interrupted
        if (timeout) ex.TimedOut = true;
        else ex.Cancelled = true;
        Kernel?.Signal(Libc.SIGINT, group: Language == "bash");
        ex.KillTimer = LoopTimer.Start(Agent.Loop, KillGrace, () =>
        {
            if (Running == ex) Kernel?.Signal(Libc.SIGKILL, group: true);
        });
    }

    private static string TimeoutMessage(Execution ex, bool killed = false)
    {
        var msg = $"execution exceeded its timeout of {ex.TimeoutMs} ms";
        if (killed) msg += $"; the interpreter did not stop within {KillGrace.TotalSeconds:0.##} s and was restarted";
        return msg;
    }

    public void Deliver(int stream, ReadOnlySpan<byte> data)
    {
        var ex = Running;
        if (ex is null)
        {
            if (_state == State.Starting && _startOutput.Length < 8192) _startOutput.Write(data[..Math.Min(data.Length, 8192)]);
            return;                 // output while idle (a background job) has no request to go to
        }
        var room = ex.MaxOutput - ex.Used;
        if (room <= 0)
        {
            ex.Truncated = true;
            return;
        }
        if (data.Length > room)
        {
            data = data[..(int)room];
            ex.Truncated = true;
        }
        ex.Used += data.Length;
        var decoder = ex.DecoderFor(stream);
        var chars = new char[Text.Utf8.GetMaxCharCount(data.Length) + 4];
        var n = decoder.GetChars(data, chars, flush: false);
        if (n > 0) SendOutput(ex, stream, chars.AsSpan(0, n));
    }

    private void SendOutput(Execution ex, int stream, ReadOnlySpan<char> text)
    {
        var w = Agent.Events.Begin(ex.Id, stream == 1 ? "stdout" : "stderr");
        w.WriteString("data", text);
        Agent.Events.End();
    }

    public void OnMessage(Kernel kernel, JsonElement msg)
    {
        if (kernel != Kernel) return;
        var kind = msg.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        if (kind == "ready")
        {
            if (_state != State.Starting) return;
            _created = true;
            _startTimer?.Cancel();
            _startTimer = null;
            _state = State.Idle;
            foreach (var id in _waiters)
            {
                var w = Agent.Events.Begin(id, "done");
                WriteInfo(w);
                Agent.Events.End();
            }
            _waiters.Clear();
            if (Queued is { } queued)
            {
                Queued = null;
                try { Send(queued); }
                catch (OpError e)
                {
                    Agent.Cancellable.Remove(queued.Id);
                    Agent.Events.Error(queued.Id, e.Code, e.Message);
                }
            }
            return;
        }
        var ex = Running;
        if (ex is null || !msg.TryGetProperty("seq", out var seq) || !seq.TryGetInt64(out var s) || s != ex.Seq) return;
        switch (kind)
        {
            case "done":
            {
                if (Language == "bash" && (ex.TimedOut || ex.Cancelled))
                {
                    // The shell survived the interrupt, but what the cell started in the background ignores SIGINT (a
                    // fork bomb, a server): everything else in the context's process group goes, before the answer.
                    ProcessGroups.KillAllExcept(kernel.Pid, kernel.Pid);
                }
                var code = msg.TryGetProperty("exit_code", out var c) && c.ValueKind == JsonValueKind.Number && c.TryGetInt32(out var ci) ? ci : 1;
                Finish(code);
                break;
            }
            case "result":
            {
                var w = Agent.Events.Begin(ex.Id, "result");
                w.WriteBoolean("is_main_result", msg.TryGetProperty("is_main_result", out var m) && m.ValueKind == JsonValueKind.True);
                foreach (var key in ResultKeys)
                {
                    if (!msg.TryGetProperty(key, out var value)) continue;
                    w.WritePropertyName(key);
                    WriteValue(w, value);
                }
                Agent.Events.End();
                break;
            }
            case "exception":
            {
                var name = StringOf(msg, "name", "Error");
                var value = StringOf(msg, "value", "");
                if (ex.TimedOut)
                {
                    name = "TimeoutError";
                    value = TimeoutMessage(ex);
                }
                ex.HadException = true;
                var w = Agent.Events.Begin(ex.Id, "exception");
                w.WriteString("name", name);
                w.WriteString("value", value);
                w.WriteString("traceback", StringOf(msg, "traceback", ""));
                Agent.Events.End();
                break;
            }
        }
    }

    /// <summary>A JSON value from a kernel copied into an event; strings are made valid UTF-16 first.</summary>
    private static void WriteValue(Utf8JsonWriter w, JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                w.WriteStringValue(SafeString(value));
                break;
            case JsonValueKind.Object:
                w.WriteStartObject();
                foreach (var p in value.EnumerateObject())
                {
                    w.WritePropertyName(Text.Safe(p.Name));
                    WriteValue(w, p.Value);
                }
                w.WriteEndObject();
                break;
            case JsonValueKind.Array:
                w.WriteStartArray();
                foreach (var item in value.EnumerateArray()) WriteValue(w, item);
                w.WriteEndArray();
                break;
            default:
                value.WriteTo(w);
                break;
        }
    }

    private static string SafeString(JsonElement value)
    {
        try { return Text.Safe(value.GetString() ?? ""); }
        catch (InvalidOperationException) { return Text.Safe(value.GetRawText().Trim('"')); }
    }

    private static string StringOf(JsonElement msg, string key, string fallback)
    {
        if (!msg.TryGetProperty(key, out var v)) return fallback;
        return v.ValueKind switch
        {
            JsonValueKind.String => SafeString(v),
            JsonValueKind.Null => "None",
            _ => v.GetRawText(),
        };
    }

    private void FlushDecoders(Execution ex)
    {
        foreach (var (stream, text) in ex.FlushDecoders()) SendOutput(ex, stream, text);
    }

    public void FinishException(string name, string value, bool restarted, int exitCode = 1)
    {
        if (Running is not { } ex) return;
        FlushDecoders(ex);
        ex.HadException = true;
        var w = Agent.Events.Begin(ex.Id, "exception");
        w.WriteString("name", name);
        w.WriteString("value", value);
        w.WriteString("traceback", "");
        Agent.Events.End();
        Finish(exitCode, restarted);
    }

    public void Finish(int exitCode, bool restarted = false)
    {
        if (Running is not { } ex) return;
        Running = null;
        if (_state == State.Busy) _state = State.Idle;
        ex.Timer?.Cancel();
        ex.KillTimer?.Cancel();
        FlushDecoders(ex);
        if (ex.TimedOut && !ex.HadException)
        {
            var e = Agent.Events.Begin(ex.Id, "exception");
            e.WriteString("name", "TimeoutError");
            e.WriteString("value", TimeoutMessage(ex));
            e.WriteString("traceback", "");
            Agent.Events.End();
            if (exitCode == 0) exitCode = 1;
        }
        Agent.Cancellable.Remove(ex.Id);
        var w = Agent.Events.Begin(ex.Id, "done");
        w.WriteNumber("exit_code", exitCode);
        JsonNumbers.WriteFloat(w, "duration_ms", ex.DurationMs);
        w.WriteBoolean("truncated", ex.Truncated);
        w.WriteBoolean("timed_out", ex.TimedOut);
        w.WriteBoolean("context_restarted", restarted);
        Agent.Events.End();
    }
}
