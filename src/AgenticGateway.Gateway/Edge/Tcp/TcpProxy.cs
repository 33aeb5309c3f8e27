using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;

namespace AgenticGateway.Edge.Tcp;

/// <summary>How the edge dials one TCP server: Traefik's TCP serversTransport with its defaults (dial 30s, keep-alive 15s, termination delay 100ms).</summary>
internal sealed record TcpDialer(TimeSpan DialTimeout, TimeSpan KeepAlive, TimeSpan TerminationDelay, string? ServerName, bool InsecureSkipVerify, X509Certificate2Collection? RootCas)
{
    public static readonly TcpDialer Default = new(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(15), TimeSpan.FromMilliseconds(100), null, false, null);
}

/// <summary>
/// Forwards a TCP connection to one server: dials it (optionally sends a PROXY protocol header, optionally speaks TLS
/// to it), then copies both ways. When one side stops sending, the other side's write is closed and the remaining
/// direction gets the termination delay to finish (Traefik's terminationDelay; negative waits for ever).
/// </summary>
internal static partial class TcpProxy
{
    private const int BufferSize = 32 * 1024;

    public static async Task ForwardAsync(TcpSession session, EndPoint server, string host, bool tls, int? proxyProtocolVersion, TcpDialer dialer, ILogger logger)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (dialer.KeepAlive > TimeSpan.Zero)
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, Math.Max(1, (int)dialer.KeepAlive.TotalSeconds));
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, Math.Max(1, (int)dialer.KeepAlive.TotalSeconds));
        }
        try
        {
            using var dial = CancellationTokenSource.CreateLinkedTokenSource(session.Aborted);
            if (dialer.DialTimeout > TimeSpan.Zero)
                dial.CancelAfter(dialer.DialTimeout);
            await socket.ConnectAsync(server, dial.Token);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            LogDialFailed(logger, session.Router, host, e.Message);
            return;
        }

        await using var network = new NetworkStream(socket, ownsSocket: false);
        Stream backend = network;
        try
        {
            if (proxyProtocolVersion is { } version)
                await network.WriteAsync(ProxyProtocol.Write(version, session.Remote, session.Local), session.Aborted);
            if (tls)
            {
                var ssl = new SslStream(network, leaveInnerStreamOpen: true);
                backend = ssl;
                await ssl.AuthenticateAsClientAsync(ClientOptions(host, dialer), session.Aborted);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or System.Security.Authentication.AuthenticationException or OperationCanceledException)
        {
            LogDialFailed(logger, session.Router, host, e.Message);
            await backend.DisposeAsync();
            return;
        }

        try
        {
            var toServer = PumpAsync(session.Client, backend, async () =>
            {
                if (backend is SslStream ssl)
                    await ssl.ShutdownAsync();
                socket.Shutdown(SocketShutdown.Send);
            }, session.Aborted);
            var toClient = PumpAsync(backend, session.Client, session.CloseClientWrite, session.Aborted);
            var first = await Task.WhenAny(toServer, toClient);
            var other = first == toServer ? toClient : toServer;
            if (dialer.TerminationDelay >= TimeSpan.Zero)
                await ((Task)Task.WhenAny(other, Task.Delay(dialer.TerminationDelay, session.Aborted))).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            else
                await other.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        finally
        {
            await backend.DisposeAsync();
        }
    }

    /// <summary>Copies until the source ends, then half-closes the destination; a broken side just ends the copy.</summary>
    private static async Task PumpAsync(Stream source, Stream destination, Func<ValueTask> closeWrite, CancellationToken aborted)
    {
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            int read;
            while ((read = await source.ReadAsync(buffer, aborted)) > 0)
            {
                await destination.WriteAsync(buffer.AsMemory(0, read), aborted);
                await destination.FlushAsync(aborted);
            }
            await closeWrite();
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
            // The peer reset or the edge is closing: the other direction is ended by the caller.
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static SslClientAuthenticationOptions ClientOptions(string host, TcpDialer dialer)
    {
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = dialer.ServerName ?? host,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        };
        if (dialer.InsecureSkipVerify)
            options.RemoteCertificateValidationCallback = static (_, _, _, _) => true;
        else if (dialer.RootCas is { Count: > 0 } roots)
        {
            options.CertificateChainPolicy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
            options.CertificateChainPolicy.CustomTrustStore.AddRange(roots);
        }
        return options;
    }

    [LoggerMessage(1930, LogLevel.Warning, "TCP router {Router}: cannot reach server {Server}: {Reason}")]
    private static partial void LogDialFailed(ILogger logger, string router, string server, string reason);
}
