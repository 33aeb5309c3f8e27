using System.Net.Sockets;
using System.Text;
using AgenticGateway.Sandboxes.Firecracker;

namespace AgenticGateway.Tests.Sandboxes.Firecracker;

/// <summary>The host side of Firecracker's vsock against a fake Unix socket server playing Firecracker.</summary>
[Trait("Category", "unit")]
public sealed class VsockConnectorTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("agw-vsock-").FullName;

    private string SocketPath => Path.Combine(_directory, "v.sock");

    /// <summary>Accepts one connection, hands back the line it received and runs <paramref name="answer"/>.</summary>
    private Task<string> ServeOnce(Func<Socket, Task> answer)
    {
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(SocketPath));
        listener.Listen();
        return Task.Run(async () =>
        {
            using (listener)
            {
                using var connection = await listener.AcceptAsync();
                var received = new StringBuilder();
                var one = new byte[1];
                while (await connection.ReceiveAsync(one) == 1 && one[0] != '\n') received.Append((char)one[0]);
                await answer(connection);
                return received.ToString();
            }
        });
    }

    [Fact]
    public async Task Connect_sends_the_port_reads_ok_and_leaves_what_follows_on_the_stream()
    {
        // The answer and the guest's first bytes may arrive in one segment.
        var server = ServeOnce(async s => await s.SendAsync("OK 1073741824\n{\"id\":0,\"type\":\"ready\"}\n"u8.ToArray()));
        await using var stream = await VsockConnector.ConnectAsync(SocketPath, 1024, TimeSpan.FromSeconds(5), default);
        Assert.Equal("CONNECT 1024", await server.WaitAsync(TimeSpan.FromSeconds(5)));
        using var reader = new StreamReader(stream, leaveOpen: true);
        Assert.Equal("{\"id\":0,\"type\":\"ready\"}", await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task The_stream_carries_bytes_both_ways_after_the_handshake()
    {
        var server = ServeOnce(async s =>
        {
            await s.SendAsync("OK 1073741824\n"u8.ToArray());
            var buffer = new byte[4];
            var n = 0;
            while (n < 4) n += await s.ReceiveAsync(buffer.AsMemory(n));
            await s.SendAsync(buffer);
        });
        await using var stream = await VsockConnector.ConnectAsync(SocketPath, 52, TimeSpan.FromSeconds(5), default);
        await stream.WriteAsync("ping"u8.ToArray());
        var echo = new byte[4];
        await stream.ReadExactlyAsync(echo).AsTask().WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("ping", Encoding.ASCII.GetString(echo));
        Assert.Equal("CONNECT 52", await server.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task A_closed_connection_means_no_guest_listener()
    {
        var server = ServeOnce(s => { s.Shutdown(SocketShutdown.Both); return Task.CompletedTask; });
        var ex = await Assert.ThrowsAsync<VsockConnectException>(() => VsockConnector.ConnectAsync(SocketPath, 1024, TimeSpan.FromSeconds(5), default));
        Assert.Contains("closed without answering CONNECT 1024", ex.Message);
        await server;
    }

    [Fact]
    public async Task An_unexpected_answer_is_an_error()
    {
        var server = ServeOnce(async s => await s.SendAsync("NOPE\n"u8.ToArray()));
        var ex = await Assert.ThrowsAsync<VsockConnectException>(() => VsockConnector.ConnectAsync(SocketPath, 1024, TimeSpan.FromSeconds(5), default));
        Assert.Contains("unexpected answer to CONNECT 1024: 'NOPE'", ex.Message);
        await server;
    }

    [Fact]
    public async Task No_answer_times_out()
    {
        var release = new TaskCompletionSource();
        var server = ServeOnce(_ => release.Task);
        var ex = await Assert.ThrowsAsync<VsockConnectException>(() => VsockConnector.ConnectAsync(SocketPath, 1024, TimeSpan.FromMilliseconds(200), default));
        Assert.Contains("no answer to CONNECT 1024 within 200 ms", ex.Message);
        release.SetResult();
        await server;
    }

    [Fact]
    public async Task A_missing_socket_is_an_error()
    {
        var ex = await Assert.ThrowsAsync<VsockConnectException>(() => VsockConnector.ConnectAsync(SocketPath, 1024, TimeSpan.FromSeconds(1), default));
        Assert.Contains(SocketPath, ex.Message);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
