using System.Net;
using System.Net.Sockets;
using System.Text;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Edge.Runtime;

/// <summary>
/// TCP and UDP routers in the gateway itself (not a test host): the entry points the host binds from the config file,
/// the connection handling it installs, the UDP entry point it starts, each reading the snapshot the holder builds.
/// </summary>
[Trait("Category", "functional")]
public sealed class EdgeTcpUdpGatewayTests
{
    [Fact]
    public async Task A_config_files_tcp_and_udp_routers_carry_bytes_and_datagrams()
    {
        // A TCP server that answers "tcp:" and what it read; a UDP one that answers "udp:" and the datagram.
        using var tcpServer = new TcpListener(IPAddress.Loopback, 0);
        tcpServer.Start();
        _ = Task.Run(async () =>
        {
            while (true)
            {
                TcpClient client;
                try { client = await tcpServer.AcceptTcpClientAsync(); }
                catch (Exception e) when (e is ObjectDisposedException or SocketException) { return; }
                _ = Task.Run(async () =>
                {
                    using var c = client;
                    var stream = c.GetStream();
                    var buffer = new byte[256];
                    var n = await stream.ReadAsync(buffer);
                    await stream.WriteAsync(Encoding.ASCII.GetBytes("tcp:" + Encoding.ASCII.GetString(buffer, 0, n)));
                });
            }
        });
        using var udpServer = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        _ = Task.Run(async () =>
        {
            while (true)
            {
                UdpReceiveResult received;
                try { received = await udpServer.ReceiveAsync(); }
                catch (Exception e) when (e is ObjectDisposedException or SocketException) { return; }
                byte[] reply = [.. "udp:"u8.ToArray(), .. received.Buffer];
                await udpServer.SendAsync(reply, reply.Length, received.RemoteEndPoint);
            }
        });
        var tcpPort = LocalServers.FreePort();
        int udpPort;
        using (var probe = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0))) udpPort = ((IPEndPoint)probe.Client.LocalEndPoint!).Port;
        await using var gateway = await GatewayServer.StartAsync($"""
            entryPoints:
              raw:
                address: "127.0.0.1:{tcpPort}"
              dgram:
                address: "127.0.0.1:{udpPort}/udp"
            tcp:
              routers:
                all:
                  entryPoints: [raw]
                  rule: "HostSNI(`*`)"
                  service: echo
              services:
                echo:
                  loadBalancer:
                    servers:
                      - address: "127.0.0.1:{((IPEndPoint)tcpServer.LocalEndpoint).Port}"
            udp:
              routers:
                dns:
                  entryPoints: [dgram]
                  service: echo
              services:
                echo:
                  loadBalancer:
                    servers:
                      - address: "127.0.0.1:{((IPEndPoint)udpServer.Client.LocalEndPoint!).Port}"
            """);

        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, tcpPort);
        var stream = tcp.GetStream();
        await stream.WriteAsync("hello"u8.ToArray());
        var answer = new byte[64];
        var read = 0;
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
            while (read < 9) read += await stream.ReadAsync(answer.AsMemory(read), timeout.Token);
        Assert.Equal("tcp:hello", Encoding.ASCII.GetString(answer, 0, read));

        using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        await udp.SendAsync("ping"u8.ToArray(), new IPEndPoint(IPAddress.Loopback, udpPort));
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var reply = await udp.ReceiveAsync(wait.Token);
        Assert.Equal("udp:ping", Encoding.ASCII.GetString(reply.Buffer));
    }
}
