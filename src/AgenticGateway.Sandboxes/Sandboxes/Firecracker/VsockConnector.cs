using System.Net.Sockets;
using System.Text;

namespace AgenticGateway.Sandboxes.Firecracker;

/// <summary>A vsock connection could not be made: no socket, no guest listener on the port, or no answer in time.</summary>
internal sealed class VsockConnectException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Host-initiated vsock connections through Firecracker's Unix socket: connect, send <c>CONNECT &lt;port&gt;\n</c>, and
/// Firecracker answers <c>OK &lt;host port&gt;\n</c> once the guest has accepted (or closes the socket when nothing
/// listens on that port). After the answer the socket is a plain byte stream to the guest.
/// </summary>
internal static class VsockConnector
{
    private const int MaxAnswer = 64;

    public static async Task<NetworkStream> ConnectAsync(string udsPath, uint port, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(udsPath), deadline.Token);
            await socket.SendAsync(Encoding.ASCII.GetBytes($"CONNECT {port}\n"), SocketFlags.None, deadline.Token);
            var answer = await ReadLineAsync(socket, deadline.Token);
            if (answer is null)
                throw new VsockConnectException($"vsock {udsPath}: closed without answering CONNECT {port} (is the guest listening on port {port}?)");
            if (!answer.StartsWith("OK ", StringComparison.Ordinal) || !uint.TryParse(answer.AsSpan(3), out _))
                throw new VsockConnectException($"vsock {udsPath}: unexpected answer to CONNECT {port}: '{answer}'");
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new VsockConnectException($"vsock {udsPath}: no answer to CONNECT {port} within {timeout.TotalMilliseconds:0} ms");
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw new VsockConnectException($"vsock {udsPath}: {ex.Message}", ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Reads byte by byte up to the newline, so nothing the guest sends after the answer is consumed here.</summary>
    private static async Task<string?> ReadLineAsync(Socket socket, CancellationToken cancellationToken)
    {
        var line = new StringBuilder();
        var one = new byte[1];
        while (line.Length < MaxAnswer)
        {
            if (await socket.ReceiveAsync(one, SocketFlags.None, cancellationToken) == 0) return null;
            if (one[0] == (byte)'\n') return line.ToString().TrimEnd('\r');
            line.Append((char)one[0]);
        }
        throw new VsockConnectException($"vsock answer longer than {MaxAnswer} bytes");
    }
}
