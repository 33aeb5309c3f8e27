using System.Net;
using System.Net.Sockets;
using AgenticGateway.GuestAgent.Loop;

namespace AgenticGateway.GuestAgent.Transport;

/// <summary>
/// <c>--transport vsock:PORT</c> (Firecracker): listens on an AF_VSOCK port for any CID and serves the first
/// connection. The host reaches it through Firecracker's Unix socket with <c>CONNECT PORT\n</c>.
/// </summary>
internal sealed partial class VsockTransport(AgentLoop loop, uint port) : IAgentTransport
{
    public const AddressFamily Vsock = (AddressFamily)40;

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    private static partial int CreateSocket(int domain, int type, int protocol);

    public AgentStreams Open()
    {
        using var listener = Listen(port);
        AgentLog.Write($"listening on vsock:{port}");
        using var conn = listener.Accept();
        return FdStream.Connection(loop, conn);
    }

    /// <summary>A vsock socket bound to <paramref name="port"/> on every CID, listening.</summary>
    public static Socket Listen(uint port)
    {
        // The runtime's Socket constructor knows no AF_VSOCK: the descriptor is made here and handed to a Socket.
        var fd = CreateSocket(40, 1 | 0x80000 /* SOCK_STREAM | SOCK_CLOEXEC */, 0);
        if (fd < 0) throw Protocol.ErrnoException.Last("socket(AF_VSOCK)");
        var socket = new Socket(new SafeSocketHandle(fd, ownsHandle: true));
        try
        {
            socket.Bind(new VsockEndPoint(VsockEndPoint.AnyCid, port));
            socket.Listen(1);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}

/// <summary>struct sockaddr_vm: family (u16), reserved (u16), port (u32), cid (u32), zero padding to 16 bytes.</summary>
internal sealed class VsockEndPoint(uint cid, uint port) : EndPoint
{
    public const uint AnyCid = 0xFFFFFFFF;

    public uint Cid { get; } = cid;
    public uint Port { get; } = port;

    public override AddressFamily AddressFamily => VsockTransport.Vsock;

    public override SocketAddress Serialize()
    {
        // SocketAddress refuses a family the runtime does not know: made as an IPv4 one, then the family is rewritten.
        var address = new SocketAddress(AddressFamily.InterNetwork, 16);
        var bytes = address.Buffer.Span;
        bytes.Clear();
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(bytes, 40);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(bytes[4..], Port);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(bytes[8..], Cid);
        return address;
    }

    public override EndPoint Create(SocketAddress socketAddress)
    {
        var bytes = socketAddress.Buffer.Span;
        return new VsockEndPoint(System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]),
            System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(bytes[4..]));
    }

    public override string ToString() => $"vsock:{Cid}:{Port}";
}
