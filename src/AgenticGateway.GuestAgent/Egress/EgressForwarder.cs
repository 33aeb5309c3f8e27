using System.Net;
using System.Net.Sockets;
using AgenticGateway.GuestAgent.Protocol;
using AgenticGateway.Sandboxes.Protocol;

namespace AgenticGateway.GuestAgent.Egress;

/// <summary>
/// <c>egress.start</c>: listens on 127.0.0.1:port inside the sandbox and relays every connection, byte for byte and
/// with half-closes, to a Unix socket where the gateway's filtering proxy waits. Runs on sockets' own async I/O, off
/// the agent loop.
/// </summary>
internal sealed class EgressForwarder(EventSink events)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<int, Socket> _listeners = [];

    public void Start(long id, Request req)
    {
        var port = (int)(req.Int("port", 0, 65535) ?? throw OpError.Invalid("port is required"));
        var path = req.String("socket")!;
        Socket listener;
        lock (_lock)
        {
            if (port != 0 && _listeners.ContainsKey(port)) throw new OpError(AgentErrors.Exists, $"already forwarding port {port}");
            listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
                listener.Listen(128);
            }
            catch (SocketException e)
            {
                listener.Dispose();
                if (e.SocketErrorCode == SocketError.AddressAlreadyInUse) throw new OpError(AgentErrors.Exists, $"port {port} is in use");
                throw new OpError(AgentErrors.Internal, e.Message);
            }
            port = ((IPEndPoint)listener.LocalEndPoint!).Port;
            _listeners[port] = listener;
        }
        _ = AcceptAsync(listener, path);
        var w = events.Begin(id, "done");
        w.WriteNumber("port", port);
        events.End();
    }

    private static async Task AcceptAsync(Socket listener, string path)
    {
        while (true)
        {
            Socket conn;
            try { conn = await listener.AcceptAsync().ConfigureAwait(false); }
            catch (ObjectDisposedException) { return; }
            catch (SocketException) { await Task.Delay(50).ConfigureAwait(false); continue; }
            _ = RelayAsync(conn, path);
        }
    }

    private static async Task RelayAsync(Socket conn, string path)
    {
        using var client = conn;
        using var upstream = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await upstream.ConnectAsync(new UnixDomainSocketEndPoint(path)).ConfigureAwait(false);
            client.NoDelay = true;
        }
        catch (SocketException e)
        {
            AgentLog.Write($"egress: cannot reach {path}: {e.Message}");
            return;
        }
        await Task.WhenAll(PumpAsync(client, upstream), PumpAsync(upstream, client)).ConfigureAwait(false);
    }

    private static async Task PumpAsync(Socket from, Socket to)
    {
        var buffer = new byte[65536];
        try
        {
            while (true)
            {
                var n = await from.ReceiveAsync(buffer, SocketFlags.None).ConfigureAwait(false);
                if (n == 0) break;
                for (var sent = 0; sent < n;)
                    sent += await to.SendAsync(buffer.AsMemory(sent, n - sent), SocketFlags.None).ConfigureAwait(false);
            }
            to.Shutdown(SocketShutdown.Send);       // half-close: the other direction keeps flowing
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            foreach (var s in new[] { from, to })
            {
                try { s.Shutdown(SocketShutdown.Both); }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException) { }
            }
        }
    }
}
