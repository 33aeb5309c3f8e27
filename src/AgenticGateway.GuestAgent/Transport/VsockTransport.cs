using System.Net;
using System.Net.Sockets;

namespace AgenticGateway.GuestAgent.Transport;

/// <summary>
/// <c>--transport vsock:PORT</c> (Firecracker): listens on an AF_VSOCK port for any CID and serves the first
/// connection. The host reaches it through Firecracker's Unix socket with <c>CONNECT PORT\n</c>.
/// </summary>
internal sealed class VsockTransport(uint port) : IAgentTransport
{
    public const AddressFamily Vsock = (AddressFamily)40;

    public AgentStreams Open()
    {
        using var listener = Listen(port);
        AgentLog.Write($"listening on vsock:{port}");
        var conn = listener.Accept();
        var stream = new NetworkStream(conn, ownsSocket: true);
        return new AgentStreams(stream, stream);
    }

    /// <summary>A vsock socket bound to <paramref name="port"/> on every CID, listening.</summary>
    public static Socket Listen(uint port)
    {
        var socket = new Socket(Vsock, SocketType.Stream, ProtocolType.Unspecified);
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
        var address = new SocketAddress(VsockTransport.Vsock, 16);
        var bytes = address.Buffer.Span;
        bytes[2..16].Clear();
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
