using System.Diagnostics;
using System.Text;
using AgenticGateway.GuestAgent.Contexts;
using AgenticGateway.GuestAgent.Loop;
using AgenticGateway.GuestAgent.Native;
using AgenticGateway.GuestAgent.Protocol;
using AgenticGateway.Sandboxes.Protocol;

namespace AgenticGateway.GuestAgent.Processes;

/// <summary>
/// A <c>process.start</c>: <c>bash -lc cmd</c> (or the program and arguments of <c>argv</c>) in a session and process
/// group of its own, on pipes or on a pty (its controlling terminal). Streams its output to the request until it
/// exits; signals and timeouts go to its group. Without stdin its fd 0 is /dev/null, so a program that reads it sees
/// end-of-file instead of waiting for input nobody will send. Loop thread only.
/// </summary>
internal sealed class UserProcess(Agent agent, long id, string cmd, IReadOnlyList<string>? argv, bool stdin, string cwd, RunAs user,
    List<KeyValuePair<string, string>> env, (int Cols, int Rows)? pty, System.Text.Json.JsonElement? tag, long? timeoutMs, long maxOutput) : ICancellable
{
    private const int ReadSize = 65536;
    private static readonly TimeSpan PtyLinger = TimeSpan.FromMilliseconds(100);
    private static readonly byte[] ReadBuffer = new byte[ReadSize];

    private readonly bool _isPty = pty is not null;
    private readonly Dictionary<int, int> _fds = [];        // fd -> stream (1 stdout, 2 stderr)
    private readonly Decoder?[] _decoders = new Decoder?[3];
    private readonly long _started = Stopwatch.GetTimestamp();
    private LoopTimer? _timer;
    private long _used;
    private bool _truncated, _timedOut, _finished;
    private int _status;

    public long Id { get; } = id;
    public int Pid { get; private set; }
    public bool Exited { get; private set; }
    public bool Finished => _finished;
    public FdWriter? Stdin { get; private set; }
    public (int Cols, int Rows)? PtySize { get; set; } = pty;
    public double StartedAt { get; } = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;

    public void Start()
    {
        var environment = env.ToList();
        if (_isPty && !environment.Any(kv => kv.Key == "TERM") && !agent.Settings.Environment.ContainsKey("TERM"))
            environment.Add(new("TERM", "xterm-256color"));
        var bash = agent.Settings.Bash;
        var childEnvironment = agent.Settings.ChildEnvironment(SandboxUser.Environment(user).Concat(environment));
        var request = argv is null
            ? new SpawnRequest { Path = bash, Argv = [bash, "-lc", cmd], Environment = childEnvironment, WorkingDirectory = cwd, User = user }
            : new SpawnRequest { Path = Executables.Find(argv[0], childEnvironment, cwd), Argv = argv, Environment = childEnvironment, WorkingDirectory = cwd, User = user };
        var close = new List<int>();
        try
        {
            if (PtySize is { } size)
            {
                var (master, slave, path) = Pty.Open(size.Cols, size.Rows);
                close.Add(slave);
                try
                {
                    // The child opens the terminal by its path, as the user: it must be the user's (as a login's is).
                    if (SandboxUser.Switches(user) && Libc.fchown(slave, SandboxUser.Uid, SandboxUser.Gid) < 0) throw ErrnoException.Last(path);
                    Pid = Spawner.Start(new SpawnRequest
                    {
                        Path = request.Path, Argv = request.Argv, Environment = request.Environment, WorkingDirectory = cwd, Terminal = path, User = user,
                    });
                }
                catch
                {
                    Fd.Close(master);
                    throw;
                }
                Stdin = new FdWriter(agent.Loop, master);
                _fds[master] = 1;
            }
            else
            {
                var (inR, inW) = stdin ? Fd.Pipe() : (Fd.OpenNull(), -1);
                var (outR, outW) = Fd.Pipe();
                var (errR, errW) = Fd.Pipe();
                close.AddRange([inR, outW, errW]);
                request.Dup2.Add((inR, 0));
                request.Dup2.Add((outW, 1));
                request.Dup2.Add((errW, 2));
                int[] ours = inW >= 0 ? [inW, outR, errR] : [outR, errR];
                try { Pid = Spawner.Start(request); }
                catch
                {
                    foreach (var fd in ours) Fd.Close(fd);
                    throw;
                }
                foreach (var fd in ours) Fd.SetNonBlocking(fd);
                if (inW >= 0) Stdin = new FdWriter(agent.Loop, inW);
                _fds[outR] = 1;
                _fds[errR] = 2;
            }
        }
        catch (ErrnoException e)
        {
            if (e.Errno == Libc.EAGAIN) throw new OpError(AgentErrors.Limit, OpError.LimitMessage);
            throw new OpError(e.Code, $"cannot start the process: {Libc.StrError(e.Errno)}");
        }
        finally
        {
            foreach (var fd in close) Fd.Close(fd);
        }
        var w = agent.Events.Begin(Id, "start");
        w.WriteNumber("pid", Pid);
        agent.Events.End();
        foreach (var fd in _fds.Keys.ToList()) _ = ReadAsync(fd);
        _ = WatchExitAsync();
        if (timeoutMs is > 0 and var ms)
            _timer = LoopTimer.Start(agent.Loop, TimeSpan.FromMilliseconds(ms), () =>
            {
                if (Exited) return;
                _timedOut = true;
                ProcessGroups.Kill(Pid);
            });
    }

    public void WriteInfo(System.Text.Json.Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteNumber("pid", Pid);
        w.WriteString("cmd", cmd);
        if (argv is not null)
        {
            w.WriteStartArray("argv");
            foreach (var a in argv) w.WriteStringValue(a);
            w.WriteEndArray();
        }
        w.WriteBoolean("stdin", Stdin is not null);
        w.WritePropertyName("tag");
        if (tag is { } t) t.WriteTo(w);
        else w.WriteNullValue();
        w.WriteString("cwd", cwd);
        w.WriteBoolean("pty", _isPty);
        JsonNumbers.WriteFloat(w, "started_at", StartedAt);
        w.WriteEndObject();
    }

    private async Task ReadAsync(int fd)
    {
        while (_fds.ContainsKey(fd))
        {
            var r = ReadOnce(fd);
            if (r < 0) await agent.Loop.WaitReadableAsync(fd);
            if (Exited && _isPty && _fds.Count == 0) Finish();
        }
    }

    /// <summary>Reads once: 1 when it filled the buffer (more may be waiting), 0 otherwise, -1 when nothing was there.</summary>
    private int ReadOnce(int fd)
    {
        if (!_fds.TryGetValue(fd, out var stream)) return 0;
        var n = Fd.TryRead(fd, ReadBuffer);
        if (n < 0) return -1;
        if (n == 0)
        {
            _fds.Remove(fd);
            agent.Loop.Forget(fd);
            if (!_isPty) Fd.Close(fd);
            return 0;
        }
        Deliver(stream, ReadBuffer.AsSpan(0, n));
        return n == ReadSize ? 1 : 0;
    }

    private void Deliver(int stream, ReadOnlySpan<byte> data)
    {
        var room = maxOutput - _used;
        if (room <= 0)
        {
            _truncated = true;
            return;
        }
        if (data.Length > room)
        {
            data = data[..(int)room];
            _truncated = true;
        }
        _used += data.Length;
        if (_isPty)
        {
            var w = agent.Events.Begin(Id, "stdout");
            w.WriteBase64String("data_b64", data);
            agent.Events.End();
            return;
        }
        var decoder = _decoders[stream] ??= Text.Utf8.GetDecoder();
        var chars = new char[Text.Utf8.GetMaxCharCount(data.Length) + 4];
        var count = decoder.GetChars(data, chars, flush: false);
        if (count > 0) SendText(stream, chars.AsSpan(0, count));
    }

    private void SendText(int stream, ReadOnlySpan<char> text)
    {
        var w = agent.Events.Begin(Id, stream == 1 ? "stdout" : "stderr");
        w.WriteString("data", text);
        agent.Events.End();
    }

    public void Cancel()
    {
        if (!Exited) ProcessGroups.Kill(Pid);
    }

    public void Signal(int sig)
    {
        if (!Exited) ProcessGroups.Kill(Pid, sig);
    }

    private async Task WatchExitAsync()
    {
        _status = await ChildExits.WaitAsync(agent.Loop, Pid);
        Exited = true;
        agent.Processes.Remove(Pid);
        _timer?.Cancel();
        if (_isPty)
        {
            // Data the process wrote reaches the master asynchronously: read until EIO (every slave end closed) or
            // for PtyLinger (a background job still holds the terminal).
            foreach (var fd in _fds.Keys.ToList())
                while (_fds.ContainsKey(fd) && ReadOnce(fd) > 0) { }
            if (_fds.Count > 0) LoopTimer.Start(agent.Loop, PtyLinger, Finish);
            else Finish();
        }
        else
        {
            // Everything it wrote is in the pipes; a background job may still write, so read only what is there.
            foreach (var fd in _fds.Keys.ToList())
                for (var i = 0; i < 64 && _fds.ContainsKey(fd) && ReadOnce(fd) > 0; i++) { }
            Finish();
        }
    }

    private void Finish()
    {
        if (_finished) return;
        _finished = true;
        // Cleared first: a reader that wakes up must find its fd gone, not read (or close) it again.
        var open = _fds.Keys.ToList();
        _fds.Clear();
        foreach (var fd in open)
        {
            agent.Loop.Forget(fd);
            if (!_isPty) Fd.Close(fd);
        }
        Stdin?.Close();         // for a pty: the master
        for (var stream = 1; stream <= 2; stream++)
        {
            if (_decoders[stream] is not { } decoder) continue;
            var chars = new char[8];
            var n = decoder.GetChars([], chars, flush: true);
            if (n > 0) SendText(stream, chars.AsSpan(0, n));
        }
        var code = ChildExits.ExitCode(_status);
        agent.Cancellable.Remove(Id);
        var w = agent.Events.Begin(Id, "done");
        w.WriteNumber("exit_code", code >= 0 ? code : 128 - code);
        if (code < 0) w.WriteString("signal", Signals.Name(-code));
        JsonNumbers.WriteFloat(w, "duration_ms", Math.Round(Stopwatch.GetElapsedTime(_started).TotalMilliseconds, 3));
        w.WriteBoolean("truncated", _truncated);
        w.WriteBoolean("timed_out", _timedOut);
        agent.Events.End();
    }
}
