using System.Buffers;
using System.Text.Json;
using AgenticGateway.GuestAgent.Loop;
using AgenticGateway.GuestAgent.Native;
using AgenticGateway.GuestAgent.Protocol;
using AgenticGateway.Sandboxes.Protocol;

namespace AgenticGateway.GuestAgent.Contexts;

/// <summary>
/// One interpreter process of a context (a restart makes a new one): pykernel.py, nodekernel.js or a bash shell in a
/// session of its own. fd 1 and 2 are pipes whose output goes to the running execution, fd 3 is the result channel
/// (JSON lines: ready, result, exception, done), fd 4 (fd 0 for bash) the control pipe executions are written to.
/// Loop thread only.
/// </summary>
internal sealed class Kernel(CodeContext context)
{
    private const int ReadSize = 65536;
    // Not zeroed: only what read(2) fills is used, and a zeroed 1 MiB costs every agent's start a memset and the page
    // faults of all of it (the kernel's zero pages stay untouched until a read lands there).
    private static readonly byte[] ReadBuffer = GC.AllocateUninitializedArray<byte>(1 << 20);
    private static readonly byte[] BashPrelude =
        """cd -- "$AGW_CWD"; unset AGW_CWD; echo 500 2>/dev/null >/proc/self/oom_score_adj; trap 'return 130 2>/dev/null' INT; __agw_d() { builtin printf '{"type":"done","seq":%d,"exit_code":%d}\n' "$1" "$?" >&3; }; builtin printf '{"type":"ready","pid":%d}\n' "$$" >&3"""u8.ToArray()
            .Append((byte)'\n').ToArray();

    private readonly ArrayBufferWriter<byte> _results = new(4096);
    private int _outFd = -1, _errFd = -1, _resFd = -1;

    public int Pid { get; private set; }
    public FdWriter? Control { get; private set; }
    public bool Closed { get; private set; }

    public void Start()
    {
        var agent = context.Agent;
        var settings = agent.Settings;
        var (ctlR, ctlW) = Fd.Pipe();
        var (outR, outW) = Fd.Pipe();
        var (errR, errW) = Fd.Pipe();
        var (resR, resW) = Fd.Pipe();
        var devnull = Fd.High(Libc.open("/dev/null", Libc.O_RDONLY | Libc.O_CLOEXEC, 0));
        var language = context.Language;
        string[] argv = language switch
        {
            "python" => [settings.Python, PythonKernel(settings.GuestDirectory)],
            "node" => [settings.Node, Path.Join(settings.GuestDirectory, "nodekernel.js")],
            _ => [settings.Bash, "--noprofile", "--norc"],
        };
        // Interpreters are always the user's: E2B's code interpreter has no user to choose.
        var env = settings.ChildEnvironment(SandboxUser.Environment(RunAs.User).Concat(context.Env).Append(new("AGW_CWD", context.Cwd)));
        var request = new SpawnRequest { Path = argv[0], Argv = argv, Environment = env, User = RunAs.User };
        request.Dup2.Add((language == "bash" ? ctlR : devnull, 0));
        request.Dup2.Add((outW, 1));
        request.Dup2.Add((errW, 2));
        request.Dup2.Add((resW, 3));
        if (language != "bash") request.Dup2.Add((ctlR, 4));
        try
        {
            Pid = Spawner.Start(request);
        }
        catch (ErrnoException e)
        {
            foreach (var fd in new[] { ctlW, outR, errR, resR }) Fd.Close(fd);
            if (e.Errno == Libc.EAGAIN) throw new OpError(AgentErrors.Limit, OpError.LimitMessage);
            throw new OpError(e.Errno == Libc.ENOENT ? AgentErrors.Invalid : AgentErrors.Internal, $"cannot start {argv[0]}: {Libc.StrError(e.Errno)}");
        }
        finally
        {
            foreach (var fd in new[] { ctlR, outW, errW, resW, devnull }) Fd.Close(fd);
        }
        foreach (var fd in new[] { ctlW, outR, errR, resR }) Fd.SetNonBlocking(fd);
        _outFd = outR;
        _errFd = errR;
        _resFd = resR;
        Control = new FdWriter(agent.Loop, ctlW);
        _ = ReadOutputAsync(outR, 1);
        _ = ReadOutputAsync(errR, 2);
        _ = ReadResultsAsync();
        _ = WatchExitAsync();
        if (language == "bash") Control.Write(BashPrelude);
    }

    /// <summary>
    /// pykernel.pyc when the host compiled it beside the source (the bubblewrap driver does, at the gateway's start, with
    /// the interpreter its sandboxes run): a script's source is compiled on every start, and that was 5 ms of each
    /// sandbox's cold start. Otherwise pykernel.py.
    /// </summary>
    private static string PythonKernel(string guestDirectory)
    {
        var compiled = Path.Join(guestDirectory, "pykernel.pyc");
        return Libc.FStatAt(Libc.AT_FDCWD, compiled, out _, 0) == 0 ? compiled : Path.Join(guestDirectory, "pykernel.py");
    }

    private async Task ReadOutputAsync(int fd, int stream)
    {
        var loop = context.Agent.Loop;
        while (!Closed)
        {
            var n = Fd.TryRead(fd, ReadBuffer.AsSpan(0, ReadSize));
            if (n < 0)
            {
                await loop.WaitReadableAsync(fd);
                continue;
            }
            if (n == 0)
            {
                loop.Forget(fd);
                return;
            }
            context.Deliver(stream, ReadBuffer.AsSpan(0, n));
        }
    }

    private async Task ReadResultsAsync()
    {
        var loop = context.Agent.Loop;
        while (!Closed)
        {
            var n = ReadResultChannel();
            if (n < 0) await loop.WaitReadableAsync(_resFd);
            else if (n == 0) return;
        }
    }

    /// <summary>Reads the result channel once and handles the complete lines: the count read, 0 at end-of-file, -1 when nothing is there.</summary>
    private int ReadResultChannel()
    {
        if (_resFd < 0) return 0;
        var n = Fd.TryRead(_resFd, ReadBuffer);
        if (n <= 0)
        {
            if (n == 0) context.Agent.Loop.Forget(_resFd);
            return n;
        }
        _results.Write(ReadBuffer.AsSpan(0, n));
        if (ReadBuffer.AsSpan(0, n).IndexOf((byte)'\n') < 0) return n;
        // Output written before a result or done is already in the pipes: take it first, so the order holds.
        Drain();
        var consumed = 0;
        while (!Closed)
        {
            var rest = _results.WrittenSpan[consumed..];
            var nl = rest.IndexOf((byte)'\n');
            if (nl < 0) break;
            var line = rest[..nl];
            consumed += nl + 1;
            JsonDocument doc;
            try { doc = JsonDocument.Parse(line.ToArray()); }
            catch (JsonException) { continue; }
            using (doc)
            {
                if (doc.RootElement.ValueKind == JsonValueKind.Object) context.OnMessage(this, doc.RootElement);
            }
        }
        if (consumed > 0)
        {
            var left = _results.WrittenSpan[consumed..].ToArray();
            _results.ResetWrittenCount();
            _results.Write(left);
        }
        return n;
    }

    /// <summary>Delivers what is waiting in the output pipes now.</summary>
    public void Drain()
    {
        foreach (var (fd, stream) in new[] { (_outFd, 1), (_errFd, 2) })
        {
            if (fd < 0) continue;
            for (var i = 0; i < 64; i++)
            {
                var n = Fd.TryRead(fd, ReadBuffer.AsSpan(0, ReadSize));
                if (n <= 0) break;
                context.Deliver(stream, ReadBuffer.AsSpan(0, n));
                if (n < ReadSize) break;
            }
        }
    }

    private async Task WatchExitAsync()
    {
        var pid = Pid;
        var status = await ChildExits.WaitAsync(context.Agent.Loop, pid, beforeReap: () => ProcessGroups.Kill(pid));
        if (Closed) return;
        // What it reported before it died (a done may still be unread), then its output.
        for (var i = 0; i < 64 && !Closed && ReadResultChannel() > 0; i++) { }
        if (Closed) return;
        Drain();
        Close(kill: false);
        context.OnKernelExit(this, status);
    }

    public void Signal(int sig, bool group)
    {
        if (Closed || Pid <= 0) return;
        if (group) ProcessGroups.Kill(Pid, sig);
        else Libc.kill(Pid, sig);
    }

    /// <summary>Kills the process group and releases the pipes; the pid is reaped by the exit watcher.</summary>
    public void Close(bool kill = true)
    {
        if (Closed) return;
        Closed = true;
        if (kill && Pid > 0) ProcessGroups.Kill(Pid);
        Control?.Close();
        var loop = context.Agent.Loop;
        foreach (var fd in new[] { _outFd, _errFd, _resFd })
        {
            if (fd < 0) continue;
            loop.Forget(fd);
            Fd.Close(fd);
        }
        _outFd = _errFd = _resFd = -1;
    }
}
