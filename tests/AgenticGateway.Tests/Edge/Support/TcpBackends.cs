using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace AgenticGateway.Tests.Edge.Support;

/// <summary>
/// TCP servers behind the edge: each answers every connection by <paramref name="serve"/> on its stream (optionally
/// after a TLS handshake with its own certificate). <see cref="Echo"/> writes its name then echoes what it reads.
/// </summary>
internal sealed class TcpBackend : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    private TcpBackend(Func<Stream, Socket, Task> serve, X509Certificate2? certificate)
    {
        _listener.Start();
        _accepting = AcceptAsync(serve, certificate);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;
    public string Address => $"127.0.0.1:{Port}";
    public int Connections;

    public static TcpBackend Start(Func<Stream, Socket, Task> serve, X509Certificate2? certificate = null) => new(serve, certificate);

    /// <summary>Says "name:" first, then echoes everything until the client stops sending.</summary>
    public static TcpBackend Echo(string name, X509Certificate2? certificate = null) => Start(async (stream, _) =>
    {
        await stream.WriteAsync(Encoding.ASCII.GetBytes(name + ":"));
        await stream.FlushAsync();
        var buffer = new byte[4096];
        int read;
        while ((read = await stream.ReadAsync(buffer)) > 0)
            await stream.WriteAsync(buffer.AsMemory(0, read));
    }, certificate);

    private async Task AcceptAsync(Func<Stream, Socket, Task> serve, X509Certificate2? certificate)
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            Interlocked.Increment(ref Connections);
            _ = Task.Run(async () =>
            {
                using (socket)
                {
                    Stream stream = new NetworkStream(socket, ownsSocket: false);
                    try
                    {
                        if (certificate is not null)
                        {
                            var ssl = new SslStream(stream);
                            await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate });
                            stream = ssl;
                        }
                        await serve(stream, socket);
                    }
                    catch (Exception e) when (e is IOException or SocketException or System.Security.Authentication.AuthenticationException)
                    {
                    }
                    finally
                    {
                        await stream.DisposeAsync();
                    }
                }
            });
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
    }
}

/// <summary>Reads from a stream until <paramref name="expected"/> bytes arrived (or the stream ended).</summary>
internal static class StreamReads
{
    public static async Task<string> ReadExactlyAsync(Stream stream, int expected)
    {
        var buffer = new byte[expected];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var total = 0;
        while (total < expected)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(total), timeout.Token);
            if (read == 0)
                break;
            total += read;
        }
        return Encoding.ASCII.GetString(buffer, 0, total);
    }
}
