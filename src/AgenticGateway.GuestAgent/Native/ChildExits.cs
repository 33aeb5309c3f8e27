using System.Runtime.InteropServices;
using AgenticGateway.GuestAgent.Loop;

namespace AgenticGateway.GuestAgent.Native;

/// <summary>
/// Waits for the agent's children to exit and reaps them: a pidfd in the loop's epoll set (where the kernel has no
/// pidfd_open, a poll on a loop timer: never a thread, see <see cref="AgentThreads"/>), and, for orphans of user code
/// that the agent inherits as child subreaper, a sweep of zombie children that nobody else waits for.
/// </summary>
internal static partial class ChildExits
{
    private const int P_ALL = 0, P_PID = 1, WEXITED = 4, WNOWAIT = 0x01000000, PR_SET_CHILD_SUBREAPER = 36;
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);
    private static readonly HashSet<int> Watched = [];

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int waitid(int idtype, int id, void* infop, int options);

    /// <summary>Makes the agent the reaper of its descendants' orphans, so none outlives its group unnoticed as a stray zombie.</summary>
    public static void BecomeSubreaper() => Libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

    /// <summary>
    /// Completes on the loop with the wait status when child <paramref name="pid"/> exits. <paramref name="beforeReap"/>
    /// runs while the exited child is still a zombie, so its pid (and its process group's id) cannot have been reused.
    /// </summary>
    public static async Task<int> WaitAsync(AgentLoop loop, int pid, Action? beforeReap = null)
    {
        Watched.Add(pid);
        try
        {
            var pidfd = Libc.PidfdOpen(pid);
            if (pidfd >= 0)
            {
                pidfd = Fd.High(pidfd);
                try
                {
                    while (true)
                    {
                        await loop.WaitReadableAsync(pidfd);
                        beforeReap?.Invoke();
                        if (TryReap(pid, out var status)) return status;
                    }
                }
                finally
                {
                    loop.Forget(pidfd);
                    Fd.Close(pidfd);
                }
            }
            while (!HasExited(pid)) await loop.Delay(PollInterval);
            beforeReap?.Invoke();
            return TryReap(pid, out var s) ? s : 0;
        }
        finally
        {
            Watched.Remove(pid);
        }
    }

    /// <summary>Whether child <paramref name="pid"/> has exited (or is no child any more), without reaping it.</summary>
    private static bool HasExited(int pid) => ExitedChild(P_PID, pid) != 0;

    /// <summary>waitid(WNOHANG | WNOWAIT): the pid of an exited child (left a zombie), 0 if none, -1 if there is no such child.</summary>
    private static unsafe int ExitedChild(int idtype, int id)
    {
        var info = stackalloc byte[128];
        new Span<byte>(info, 128).Clear();
        int r;
        while ((r = waitid(idtype, id, info, WEXITED | WNOWAIT | Libc.WNOHANG)) < 0 && Libc.Errno == Libc.EINTR) { }
        return r < 0 ? -1 : *(int*)(info + 16);     // siginfo_t.si_pid (x86-64)
    }

    private static unsafe bool TryReap(int pid, out int status)
    {
        int st = 0;
        int r;
        while ((r = Libc.waitpid(pid, &st, Libc.WNOHANG)) < 0 && Libc.Errno == Libc.EINTR) { }
        status = st;
        if (r == pid) return true;
        if (r < 0) { status = 0; return true; }      // ECHILD: reaped elsewhere
        return false;
    }

    /// <summary>Reaps exited children the agent does not watch (orphans reparented to it). Loop thread.</summary>
    public static unsafe void ReapOrphans()
    {
        // The common case costs a system call, not a /proc scan: no child has exited, or the one that has is an orphan.
        while (true)
        {
            var pid = ExitedChild(P_ALL, 0);
            if (pid <= 0) return;
            if (Watched.Contains(pid)) break;
            int st;
            Libc.waitpid(pid, &st, Libc.WNOHANG);
        }
        var self = Environment.ProcessId;
        foreach (var (pid, state, parent, _) in ProcessGroups.Scan())
        {
            if (parent != self || state != 'Z' || Watched.Contains(pid)) continue;
            int st;
            Libc.waitpid(pid, &st, Libc.WNOHANG);
        }
    }

    /// <summary>The exit code as Python's waitstatus_to_exitcode: the status, or minus the signal that killed it.</summary>
    public static int ExitCode(int status) => (status & 0x7f) == 0 ? (status >> 8) & 0xff : -(status & 0x7f);
}
