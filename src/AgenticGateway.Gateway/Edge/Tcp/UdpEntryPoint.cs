using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace AgenticGateway.Edge.Tcp;

/// <summary>
/// A UDP entry point (<c>address: ":53/udp"</c>): every client address gets a session — a socket to one server the
/// entry point's router chose — that carries its datagrams there and the server's replies back, until neither side
/// has sent anything for the entry point's udp.timeout (Traefik's default 3s). Sessions keep their server when the
/// configuration is reloaded; new sessions use the current router.
/// </summary>
internal sealed partial class UdpEntryPoint : IHostedService, IAsyncDisposable
{
    private const int MaxDatagram = 65535;
    private readonly EntryPointConfig _config;
    private readonly Func<EdgeTcpSnapshot> _current;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<EndPoint, UdpSession> _sessions = new();
    private readonly CancellationTokenSource _stopping = new();
    private Socket? _socket;
    private Task? _receiving;
    private Task? _sweeping;

    public UdpEntryPoint(EntryPointConfig config, Func<EdgeTcpSnapshot> current, ILogger logger)
    {
        _config = config;
        _current = current;
        _logger = logger;
    }

    /// <summary>The address the entry point listens on once started (its port when the configuration asked for port 0).</summary>
    public IPEndPoint? LocalEndPoint => _socket?.LocalEndPoint as IPEndPoint;

    private TimeSpan Timeout => _config.UdpTimeout > TimeSpan.Zero ? _config.UdpTimeout : TimeSpan.FromSeconds(3);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var endPoint = _config.EndPoint;
        _socket = new Socket(endPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        if (endPoint.AddressFamily == AddressFamily.InterNetworkV6 && endPoint.Address.Equals(IPAddress.IPv6Any))
            _socket.DualMode = true;
        _socket.Bind(endPoint);
        _receiving = ReceiveAsync(_socket, _stopping.Token);
        _sweeping = SweepAsync(_stopping.Token);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_stopping.IsCancellationRequested)
            return;
        await _stopping.CancelAsync();
        _socket?.Dispose();
        foreach (var session in _sessions.Values)
            session.Dispose();
        _sessions.Clear();
        foreach (var task in new[] { _receiving, _sweeping })
        {
            if (task is not null)
                await task.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None);
        _stopping.Dispose();
    }

    private async Task ReceiveAsync(Socket socket, CancellationToken stopping)
    {
        var buffer = new byte[MaxDatagram];
        EndPoint any = socket.AddressFamily == AddressFamily.InterNetworkV6 ? new IPEndPoint(IPAddress.IPv6Any, 0) : new IPEndPoint(IPAddress.Any, 0);
        while (!stopping.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await socket.ReceiveFromAsync(buffer, SocketFlags.None, any, stopping);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.MessageSize)
            {
                continue; // an ICMP error for an earlier reply, or an oversized datagram: the listener carries on
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            var client = received.RemoteEndPoint;
            var session = _sessions.GetValueOrDefault(client) ?? await OpenAsync(socket, client, stopping);
            if (session is null)
                continue;
            try
            {
                session.Touch();
                await session.Server.SendAsync(buffer.AsMemory(0, received.ReceivedBytes), SocketFlags.None, stopping);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                LogSendFailed(_logger, _config.Name, session.ServerAddress, e.Message);
            }
        }
    }

    private async Task<UdpSession?> OpenAsync(Socket listener, EndPoint client, CancellationToken stopping)
    {
        var route = _current().Udp(_config.Name);
        if (route is null)
        {
            LogNoRouter(_logger, _config.Name);
            return null;
        }
        var address = route.NextServer();
        if (address is null || TcpServices.ParseAddress(address) is not { } target)
        {
            LogNoServer(_logger, route.Name);
            return null;
        }
        Socket? server = null;
        try
        {
            var endPoint = target.EndPoint;
            if (endPoint is DnsEndPoint dns)
            {
                var addresses = await Dns.GetHostAddressesAsync(dns.Host, stopping);
                endPoint = new IPEndPoint(addresses[0], dns.Port);
            }
            server = new Socket(endPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            await server.ConnectAsync(endPoint, stopping);
        }
        catch (Exception e) when (e is SocketException or IndexOutOfRangeException)
        {
            server?.Dispose();
            LogSendFailed(_logger, _config.Name, address, e.Message);
            return null;
        }
        var session = new UdpSession(server, address);
        _sessions[client] = session;
        _ = RepliesAsync(listener, client, session, stopping);
        return session;
    }

    /// <summary>Sends the server's datagrams back to the client from the entry point's own address.</summary>
    private async Task RepliesAsync(Socket listener, EndPoint client, UdpSession session, CancellationToken stopping)
    {
        var buffer = new byte[MaxDatagram];
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                var read = await session.Server.ReceiveAsync(buffer, SocketFlags.None, session.Closed);
                session.Touch();
                await listener.SendToAsync(buffer.AsMemory(0, read), SocketFlags.None, client, stopping);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
            {
                // The server's port is closed (ICMP unreachable): later datagrams may find it listening again.
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                break;
            }
        }
        if (_sessions.TryGetValue(client, out var current) && current == session)
            _sessions.TryRemove(new KeyValuePair<EndPoint, UdpSession>(client, session));
        session.Dispose();
    }

    /// <summary>Closes sessions idle for longer than the timeout.</summary>
    private async Task SweepAsync(CancellationToken stopping)
    {
        var period = TimeSpan.FromMilliseconds(Math.Clamp(Timeout.TotalMilliseconds / 4, 50, 1000));
        using var timer = new PeriodicTimer(period);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping))
            {
                var now = Environment.TickCount64;
                foreach (var (client, session) in _sessions)
                {
                    if (now - session.LastActive > Timeout.TotalMilliseconds)
                    {
                        _sessions.TryRemove(new KeyValuePair<EndPoint, UdpSession>(client, session));
                        session.Dispose();
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private sealed class UdpSession(Socket server, string serverAddress) : IDisposable
    {
        private readonly CancellationTokenSource _closed = new();
        private long _lastActive = Environment.TickCount64;

        public Socket Server => server;
        public string ServerAddress => serverAddress;
        public CancellationToken Closed => _closed.Token;
        public long LastActive => Interlocked.Read(ref _lastActive);

        public void Touch() => Interlocked.Exchange(ref _lastActive, Environment.TickCount64);

        public void Dispose()
        {
            if (_closed.IsCancellationRequested)
                return;
            _closed.Cancel();
            server.Dispose();
        }
    }

    [LoggerMessage(1950, LogLevel.Debug, "UDP entry point {EntryPoint}: no router; datagram dropped")]
    private static partial void LogNoRouter(ILogger logger, string entryPoint);

    [LoggerMessage(1951, LogLevel.Warning, "UDP router {Router}: its service has no server; datagram dropped")]
    private static partial void LogNoServer(ILogger logger, string router);

    [LoggerMessage(1952, LogLevel.Debug, "UDP entry point {EntryPoint}: cannot send to {Server}: {Reason}")]
    private static partial void LogSendFailed(ILogger logger, string entryPoint, string server, string reason);
}
