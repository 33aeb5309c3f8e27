using System.Text;

namespace AgenticGateway.GuestAgent;

/// <summary>
/// Diagnostics go to stderr as plain lines: stdout may be the protocol stream, and a guest has no log sink. Written
/// to fd 2 directly: System.Console would start the runtime's signal-handling thread on first use, and the agent makes
/// no thread after start (see <see cref="Loop.AgentThreads"/>).
/// </summary>
internal static class AgentLog
{
    public static unsafe void Write(string message)
    {
        var bytes = Encoding.UTF8.GetBytes("agw-agent: " + message + "\n");
        fixed (byte* p = bytes)
        {
            for (var done = 0; done < bytes.Length;)
            {
                var n = Native.Libc.write(2, p + done, bytes.Length - done);
                if (n < 0 && Native.Libc.Errno == Native.Libc.EINTR) continue;
                if (n <= 0) return;
                done += (int)n;
            }
        }
    }
}
