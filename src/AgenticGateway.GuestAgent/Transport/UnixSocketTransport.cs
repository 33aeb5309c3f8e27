using AgenticGateway.GuestAgent.Loop;
using System.Net.Sockets;

namespace AgenticGateway.GuestAgent.Transport;

/// <summary><c>--transport unix:PATH</c>: listens on a Unix socket, accepts one connection and serves it (tests, local use).</summary>
internal sealed class UnixSocketTransport(AgentLoop loop, string path) : IAgentTransport
{
    public AgentStreams Open()
    {
        if (File.Exists(path)) File.Delete(path);
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        AgentLog.Write($"listening on unix:{path}");
        using var conn = listener.Accept();
        return FdStream.Connection(loop, conn);
    }
}
