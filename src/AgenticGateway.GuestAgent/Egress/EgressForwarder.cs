using System.Net;
using System.Net.Sockets;
using AgenticGateway.GuestAgent.Protocol;
using AgenticGateway.Sandboxes.Protocol;

namespace AgenticGateway.GuestAgent.Egress;

/// <summary>
/// <c>egress.start</c>: listens on 127.0.0.1:port inside the sandbox and relays every connection, byte for byte and
/// with half-closes, to a Unix socket where the gateway's filtering proxy waits. Off the agent loop, on blocking
/// sockets and threads of its own: async socket I/O would run on the runtime's socket thread and the thread pool, which
/// must never be needed (see <see cref="Loop.AgentThreads"/>). The accept thread is made by egress.start, at boot; the
/// two threads of a connection are made per connection, and a connection that cannot get them (the sandbox at its
/// process limit) is closed, as a fork would be refused, and the agent lives on.
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
        try
        {
            new Thread(() => Accept(listener, path)) { IsBackground = true, Name = "agw-egress" }.Start();
        }
        catch (OutOfMemoryException)
        {
            lock (_lock) _listeners.Remove(port);
            listener.Dispose();
            throw;      // reported as AgentErrors.Limit
        }
        var w = events.Begin(id, "done");
        w.WriteNumber("port", port);
        events.End();
    }

    private static void Accept(Socket listener, string path)
    {
        while (true)
        {
            Socket conn;
            try { conn = listener.Accept(); }
            catch (ObjectDisposedException) { return; }
            catch (SocketException) { Thread.Sleep(50); continue; }
            Relay(conn, path);
        }
    }

    /// <summary>Connects upstream and starts the connection's two pumps; closes it if they cannot start.</summary>
    private static void Relay(Socket client, string path)
    {
        var upstream = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            upstream.Connect(new UnixDomainSocketEndPoint(path));
            client.NoDelay = true;
        }
        catch (SocketException e)
        {
            AgentLog.Write($"egress: cannot reach {path}: {e.Message}");
            client.Dispose();
            upstream.Dispose();
            return;
        }
        var open = 2;
        void Pump(Socket from, Socket to)
        {
            try { Copy(from, to); }
            finally
            {
                if (Interlocked.Decrement(ref open) == 0)
                {
                    client.Dispose();
                    upstream.Dispose();
                }
            }
        }
        var started = 0;
        try
        {
            new Thread(() => Pump(client, upstream)) { IsBackground = true, Name = "agw-egress-up" }.Start();
            started = 1;
            new Thread(() => Pump(upstream, client)) { IsBackground = true, Name = "agw-egress-down" }.Start();
        }
        catch (OutOfMemoryException)
        {
            // No thread for it: reset the connection. A pump that did start ends on the shut sockets; the pump that
            // did not counts as ended here, so the last one out still closes them.
            if (started == 0)
            {
                client.Dispose();
                upstream.Dispose();
                return;
            }
            Shut(client, upstream);
            if (Interlocked.Decrement(ref open) == 0)
            {
                client.Dispose();
                upstream.Dispose();
            }
        }
    }

    private static void Copy(Socket from, Socket to)
    {
        var buffer = new byte[65536];
        try
        {
            while (true)
            {
                var n = from.Receive(buffer, SocketFlags.None);
                if (n == 0) break;
                for (var sent = 0; sent < n;)
                    sent += to.Send(buffer.AsSpan(sent, n - sent), SocketFlags.None);
            }
            to.Shutdown(SocketShutdown.Send);       // half-close: the other direction keeps flowing
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            Shut(from, to);
        }
    }

    private static void Shut(params Socket[] sockets)
    {
        foreach (var s in sockets)
        {
            try { s.Shutdown(SocketShutdown.Both); }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException) { }
        }
    }
}
