using AgenticGateway.GuestAgent.Loop;
using AgenticGateway.GuestAgent.Native;
using AgenticGateway.GuestAgent.Protocol;

namespace AgenticGateway.GuestAgent.Transport;

/// <summary>
/// <c>--transport stdio</c>: requests on fd 0, events on fd 1 (the bubblewrap driver's pipes). The protocol streams get
/// private descriptors; fd 0 becomes /dev/null and fd 1 a copy of stderr, so nothing else (a stray write, a child) can
/// read requests or write into the event stream.
/// </summary>
internal sealed class StdioTransport(AgentLoop loop) : IAgentTransport
{
    public AgentStreams Open()
    {
        var input = Libc.fcntl(0, Libc.F_DUPFD_CLOEXEC, 10);
        var output = Libc.fcntl(1, Libc.F_DUPFD_CLOEXEC, 10);
        if (input < 0 || output < 0) throw ErrnoException.Last("stdin/stdout");
        var devnull = Libc.open("/dev/null", Libc.O_RDWR, 0);
        if (devnull >= 0)
        {
            Dup2(devnull, 0);
            Libc.close(devnull);
        }
        Dup2(2, 1);
        Fd.SetNonBlocking(input);
        Fd.SetNonBlocking(output, false);
        return new AgentStreams(new FdStream(loop, input, canRead: true, canWrite: false), new FdStream(loop, output, canRead: false, canWrite: true));
    }

    private static void Dup2(int from, int to)
    {
        if (Libc.fcntl(from, Libc.F_GETFL, 0) < 0) return;
        Libc.dup2(from, to);
    }
}
