using System.Runtime.InteropServices;
using System.Text;
using AgenticGateway.GuestAgent.Protocol;

namespace AgenticGateway.GuestAgent.Native;

/// <summary>What a child gets: its program, descriptors, directory and environment.</summary>
internal sealed class SpawnRequest
{
    public required string Path { get; init; }
    public required IReadOnlyList<string> Argv { get; init; }
    public required IReadOnlyList<string> Environment { get; init; }
    public string? WorkingDirectory { get; init; }

    /// <summary>dup2(from, to) in order; every other agent descriptor is close-on-exec.</summary>
    public List<(int From, int To)> Dup2 { get; } = [];

    /// <summary>A pty slave to open as fds 0, 1 and 2: opened without O_NOCTTY by the session leader, it becomes the controlling terminal.</summary>
    public string? Terminal { get; init; }

    /// <summary>Whom the child runs as (<see cref="SandboxUser"/>): in a microVM, the user unless a request asked for root.</summary>
    public required RunAs User { get; init; }
}

/// <summary>
/// Starts children with posix_spawn: a new session and process group (POSIX_SPAWN_SETSID), default signal dispositions
/// and an empty signal mask whatever the runtime set (it ignores SIGPIPE), extra descriptors and a controlling tty —
/// none of which System.Diagnostics.Process can do. The agent reaps its children itself (pidfds). The empty mask
/// matters: the agent blocks the signals it reads from its signalfd (<see cref="SignalQueue"/>), and a mask is inherited.
/// posix_spawn cannot change ids: the calling thread takes the child's for the call instead
/// (<see cref="SandboxUser.BecomeForSpawn"/>), which also keeps a wrapper program out of every start.
/// </summary>
internal static unsafe class Spawner
{
    private const short SetSigDef = 0x04, SetSigMask = 0x08, SetSid = 0x80;
    private static readonly int[] DefaultSignals =
    [
        Libc.SIGPIPE, Libc.SIGXFSZ, Libc.SIGINT, Libc.SIGQUIT, Libc.SIGTERM, Libc.SIGHUP, Libc.SIGUSR1, Libc.SIGUSR2,
        Libc.SIGALRM, Libc.SIGCHLD, 20 /* SIGTSTP */, 21 /* SIGTTIN */, 22 /* SIGTTOU */, 28 /* SIGWINCH */,
    ];

    /// <summary>Returns the child's pid; throws <see cref="ErrnoException"/> (EAGAIN: the sandbox's process limit).</summary>
    public static int Start(SpawnRequest request)
    {
        var actions = NativeMemory.AllocZeroed(512);
        var attr = NativeMemory.AllocZeroed(1024);
        var sigset = NativeMemory.AllocZeroed(128);
        var strings = new List<nint>();
        try
        {
            Libc.posix_spawn_file_actions_init(actions);
            Libc.posix_spawnattr_init(attr);
            Libc.posix_spawnattr_setflags(attr, (short)(SetSid | SetSigDef | SetSigMask));
            Libc.sigemptyset(sigset);
            Libc.posix_spawnattr_setsigmask(attr, sigset);
            foreach (var sig in DefaultSignals) Libc.sigaddset(sigset, sig);
            Libc.posix_spawnattr_setsigdefault(attr, sigset);
            if (request.Terminal is { } tty)
            {
                Libc.posix_spawn_file_actions_addopen(actions, 0, Alloc(tty, strings), Libc.O_RDWR, 0);
                Libc.posix_spawn_file_actions_adddup2(actions, 0, 1);
                Libc.posix_spawn_file_actions_adddup2(actions, 0, 2);
            }
            foreach (var (from, to) in request.Dup2) Libc.posix_spawn_file_actions_adddup2(actions, from, to);
            if (request.WorkingDirectory is { } cwd) Libc.posix_spawn_file_actions_addchdir_np(actions, Alloc(cwd, strings));
            var argv = stackalloc byte*[request.Argv.Count + 1];
            for (var i = 0; i < request.Argv.Count; i++) argv[i] = Alloc(request.Argv[i], strings);
            argv[request.Argv.Count] = null;
            var envp = (byte**)NativeMemory.Alloc((nuint)(request.Environment.Count + 1), (nuint)sizeof(byte*));
            strings.Add((nint)envp);
            for (var i = 0; i < request.Environment.Count; i++) envp[i] = Alloc(request.Environment[i], strings);
            envp[request.Environment.Count] = null;
            int pid, err;
            var path = Alloc(request.Path, strings);
            using (SandboxUser.BecomeForSpawn(request.User))
                err = Libc.posix_spawn(&pid, path, actions, attr, argv, envp);
            if (err != 0) throw new ErrnoException(err, $"cannot start {request.Path}: {Libc.StrError(err)}");
            return pid;
        }
        finally
        {
            Libc.posix_spawn_file_actions_destroy(actions);
            Libc.posix_spawnattr_destroy(attr);
            NativeMemory.Free(actions);
            NativeMemory.Free(attr);
            NativeMemory.Free(sigset);
            foreach (var p in strings) NativeMemory.Free((void*)p);
        }
    }

    private static byte* Alloc(string s, List<nint> owned)
    {
        var n = Encoding.UTF8.GetByteCount(s);
        var p = (byte*)NativeMemory.Alloc((nuint)n + 1);
        Encoding.UTF8.GetBytes(s, new Span<byte>(p, n));
        p[n] = 0;
        owned.Add((nint)p);
        return p;
    }
}
