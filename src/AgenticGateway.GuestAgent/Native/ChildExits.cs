using System.Runtime.InteropServices;
using AgenticGateway.GuestAgent.Loop;

namespace AgenticGateway.GuestAgent.Native;

/// <summary>
/// Waits for the agent's children to exit and reaps them: a pidfd in the loop's epoll set (a thread blocked in waitid
/// where the kernel has no pidfd_open), and, for orphans of user code that the agent inherits as child subreaper, a
/// sweep of zombie children that nobody else waits for.
/// </summary>
internal static partial class ChildExits
{
    private const int P_PID = 1, WEXITED = 4, WNOWAIT = 0x01000000, PR_SET_CHILD_SUBREAPER = 36;
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
            await Task.Factory.StartNew(() => WaitWithoutReaping(pid), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            beforeReap?.Invoke();
            return TryReap(pid, out var s) ? s : 0;
        }
        finally
        {
            Watched.Remove(pid);
        }
    }

    private static unsafe void WaitWithoutReaping(int pid)
    {
        var info = stackalloc byte[128];
        while (waitid(P_PID, pid, info, WEXITED | WNOWAIT) < 0 && Libc.Errno == Libc.EINTR) { }
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
