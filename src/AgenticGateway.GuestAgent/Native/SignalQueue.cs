using AgenticGateway.GuestAgent.Loop;

namespace AgenticGateway.GuestAgent.Native;

/// <summary>
/// The signals the agent handles (SIGCHLD, SIGTERM, SIGHUP, SIGINT), read by the loop from a signalfd instead of
/// through PosixSignalRegistration, whose handlers run on the thread pool or on a thread made for the signal (see
/// <see cref="AgentThreads"/>). A signalfd only sees signals every thread blocks: <see cref="BlockEverywhere"/> runs
/// first thing, so every thread the agent makes inherits the mask, and also blocks them on the runtime's finalizer
/// thread, which exists before Main. Children start with an empty mask (posix_spawn, <see cref="Spawner"/>).
/// </summary>
internal static class SignalQueue
{
    private static readonly int[] Handled = [Libc.SIGCHLD, Libc.SIGTERM, Libc.SIGHUP, Libc.SIGINT];

    /// <summary>Blocks the handled signals in this thread and the finalizer's; returns a thread that still takes them, if any.</summary>
    public static unsafe string? BlockEverywhere()
    {
        var set = stackalloc byte[128];
        Fill(set);
        Libc.pthread_sigmask(Libc.SIG_BLOCK, set, null);
        BlockOnFinalizerThread();
        return ThreadNotBlocking();
    }

    /// <summary>Reads the signals on <paramref name="loop"/> for ever, calling <paramref name="onSignal"/> with each.</summary>
    public static async Task RunAsync(AgentLoop loop, Action<int> onSignal)
    {
        var fd = Open();
        var info = new byte[128];       // struct signalfd_siginfo; ssi_signo first
        while (true)
        {
            var n = Fd.TryRead(fd, info);
            if (n < 0)
            {
                await loop.WaitReadableAsync(fd);
                continue;
            }
            if (n >= 4) onSignal(BitConverter.ToInt32(info, 0));
        }
    }

    private static unsafe int Open()
    {
        var set = stackalloc byte[128];
        Fill(set);
        var fd = Libc.signalfd(-1, set, Libc.SFD_NONBLOCK | Libc.SFD_CLOEXEC);
        if (fd < 0) throw Protocol.ErrnoException.Last("signalfd");
        return Fd.High(fd);
    }

    private static unsafe void Fill(byte* set)
    {
        Libc.sigemptyset(set);
        foreach (var sig in Handled) Libc.sigaddset(set, sig);
    }

    private static void BlockOnFinalizerThread()
    {
        Allocate();
        GC.Collect();
        GC.WaitForPendingFinalizers();

        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
        static void Allocate() => _ = new BlocksOnFinalizerThread();
    }

    private sealed class BlocksOnFinalizerThread
    {
        unsafe ~BlocksOnFinalizerThread()
        {
            var set = stackalloc byte[128];
            Fill(set);
            Libc.pthread_sigmask(Libc.SIG_BLOCK, set, null);
        }
    }

    /// <summary>The name of a thread of this process that does not block every handled signal (from /proc), or null.</summary>
    private static string? ThreadNotBlocking()
    {
        ulong wanted = 0;
        foreach (var sig in Handled) wanted |= 1UL << (sig - 1);
        try
        {
            foreach (var task in Directory.GetDirectories("/proc/self/task"))
            {
                var status = File.ReadAllText(task + "/status");
                var at = status.IndexOf("SigBlk:", StringComparison.Ordinal);
                if (at < 0) continue;
                var hex = status.AsSpan(at + 7).TrimStart().ToString().Split('\n')[0];
                if ((Convert.ToUInt64(hex, 16) & wanted) != wanted)
                    return File.ReadAllText(task + "/comm").Trim();
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { }
        return null;
    }
}
