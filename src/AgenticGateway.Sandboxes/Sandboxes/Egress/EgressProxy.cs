using AgenticGateway.Sandboxes;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace AgenticGateway.Sandboxes.Egress;

/// <summary>
/// The only way out of a sandbox with network "allowlist": an HTTP proxy on a Unix socket bound into that sandbox
/// (the agent relays 127.0.0.1:3128 to it). It reads the target host name from the request (CONNECT host:port, or an
/// absolute http:// URL) and connects only to hosts on the sandbox's list, so the filter works by name even where every
/// name resolves to one address. It connects from the gateway's own network, so it also refuses what would reach the
/// gateway's side: a target given as an address or localhost, and any name that resolves to a loopback, private,
/// link-local, metadata or otherwise non-public address (<see cref="EgressAddresses"/>). It resolves each name once and
/// connects to exactly the addresses it checked, so a second, different DNS answer (rebinding) never gets used.
/// Anything refused gets a 403 that says why.
/// </summary>
internal sealed class EgressProxy(EgressOptions options, IEgressResolver resolver, ILogger<EgressProxy> logger)
{
    private const int MaxHead = 16 * 1024;

    public IAsyncDisposable Listen(string sandboxId, string socketPath, IReadOnlyList<string> allowHosts)
    {
        if (File.Exists(socketPath)) File.Delete(socketPath);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(socketPath));
        // The sandbox user (an unprivileged uid) must be able to connect; only this sandbox can see the socket.
        UnixFiles.SetMode(socketPath, UnixFiles.WorldWritable);
        listener.Listen(64);
        var stop = new CancellationTokenSource();
        var loop = AcceptLoopAsync(sandboxId, listener, allowHosts, stop.Token);
        return new Listener(listener, stop, loop);
    }

    private async Task AcceptLoopAsync(string sandboxId, Socket listener, IReadOnlyList<string> allowHosts, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            Socket client;
            try { client = await listener.AcceptAsync(stop); }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException) { return; }
            _ = ServeAsync(sandboxId, client, allowHosts, stop);
        }
    }

    private async Task ServeAsync(string sandboxId, Socket client, IReadOnlyList<string> allowHosts, CancellationToken stop)
    {
        using var _ = client;
        using var clientStream = new NetworkStream(client, ownsSocket: false);
        try
        {
            var (head, extra) = await ReadHeadAsync(clientStream, stop);
            if (head is null) { await RefuseAsync(clientStream, 400, "Bad Request", "agentic-gateway egress: malformed proxy request"); return; }
            if (!TryParseTarget(head, out var method, out var host, out var port, out var originForm))
            {
                await RefuseAsync(clientStream, 400, "Bad Request", "agentic-gateway egress: use CONNECT host:port or an absolute http:// URL");
                return;
            }
            var name = EgressHostNames.Normalize(host);
            if (EgressHostNames.Problem(name, wildcard: false) is { } problem)
            {
                EgressLog.Refused(logger, sandboxId, host, port, problem);
                await RefuseAsync(clientStream, 403, "Forbidden", $"agentic-gateway egress: {host} {problem}");
                return;
            }
            if (!EgressHostNames.MatchesAny(name, allowHosts) || options.AllowHosts is { } ceiling && !EgressHostNames.MatchesAny(name, ceiling))
            {
                SandboxLog.Egress(logger, sandboxId, host, port, "denied");
                await RefuseAsync(clientStream, 403, "Forbidden", $"agentic-gateway egress: {host} is not in this sandbox's allow_hosts");
                return;
            }
            Socket? upstream;
            using (var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(stop))
            {
                connectTimeout.CancelAfter(TimeSpan.FromSeconds(10));
                IPAddress[] addresses;
                try { addresses = await resolver.ResolveAsync(name, connectTimeout.Token); }
                catch (Exception ex) when (ex is SocketException or OperationCanceledException or ArgumentException) { addresses = []; }
                if (addresses.Length == 0)
                {
                    await RefuseAsync(clientStream, 502, "Bad Gateway", $"agentic-gateway egress: cannot resolve {host}");
                    return;
                }
                // A name with any forbidden address is refused outright rather than filtered: mixing public and internal
                // answers is how rebinding attacks hedge, and a client would not know which address it got.
                foreach (var address in addresses)
                {
                    if (EgressAddresses.Refusal(address, options.AllowPrivateNetworks) is not { } why) continue;
                    EgressLog.Refused(logger, sandboxId, host, port, $"resolves to {address}, {why}");
                    await RefuseAsync(clientStream, 403, "Forbidden", $"agentic-gateway egress: {host} resolves to {address}, {why}; refused");
                    return;
                }
                upstream = await ConnectAsync(addresses, port, connectTimeout.Token);
            }
            if (upstream is null)
            {
                await RefuseAsync(clientStream, 502, "Bad Gateway", $"agentic-gateway egress: cannot connect to {host}:{port}");
                return;
            }
            using var __ = upstream;
            SandboxLog.Egress(logger, sandboxId, host, port, "allowed");
            using var upstreamStream = new NetworkStream(upstream, ownsSocket: false);
            if (method == "CONNECT")
            {
                await clientStream.WriteAsync("HTTP/1.1 200 Connection Established\r\n\r\n"u8.ToArray(), stop);
            }
            else
            {
                await upstreamStream.WriteAsync(Encoding.Latin1.GetBytes(RewriteHead(head, originForm!)), stop);
            }
            if (extra.Length > 0) await upstreamStream.WriteAsync(extra, stop);
            await Task.WhenAll(PumpAsync(clientStream, upstream, stop), PumpAsync(upstreamStream, client, stop));
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException) { }
    }

    /// <summary>Connects to the checked addresses in the resolver's order (never to the name, which could resolve anew).</summary>
    private static async Task<Socket?> ConnectAsync(IPAddress[] addresses, int port, CancellationToken cancellationToken)
    {
        foreach (var address in addresses)
        {
            var target = EgressAddresses.ForConnect(address);
            var socket = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await socket.ConnectAsync(new IPEndPoint(target, port), cancellationToken);
                return socket;
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException)
            {
                socket.Dispose();
                if (ex is OperationCanceledException) return null;
            }
        }
        return null;
    }

    private static async Task PumpAsync(NetworkStream from, Socket to, CancellationToken stop)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            int n;
            while ((n = await from.ReadAsync(buffer, stop)) > 0) await to.SendAsync(buffer.AsMemory(0, n), stop);
            to.Shutdown(SocketShutdown.Send);
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            try { to.Shutdown(SocketShutdown.Both); } catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        }
    }

    private static async Task<(string? Head, byte[] Extra)> ReadHeadAsync(NetworkStream stream, CancellationToken stop)
    {
        var buffer = new byte[MaxHead];
        var filled = 0;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        while (filled < buffer.Length)
        {
            var n = await stream.ReadAsync(buffer.AsMemory(filled), timeout.Token);
            if (n == 0) return (null, []);
            filled += n;
            var end = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8);
            if (end >= 0) return (Encoding.Latin1.GetString(buffer, 0, end + 4), buffer[(end + 4)..filled]);
        }
        return (null, []);
    }

    internal static bool TryParseTarget(string head, out string method, out string host, out int port, out string? originForm)
    {
        method = ""; host = ""; port = 0; originForm = null;
        var lineEnd = head.IndexOf("\r\n", StringComparison.Ordinal);
        var parts = head[..lineEnd].Split(' ');
        if (parts.Length != 3) return false;
        method = parts[0];
        if (method == "CONNECT")
        {
            var colon = parts[1].LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(parts[1].AsSpan(colon + 1), out port) || port is < 1 or > 65535) return false;
            host = parts[1][..colon].Trim('[', ']');
            return host.Length > 0;
        }
        if (!Uri.TryCreate(parts[1], UriKind.Absolute, out var uri) || uri.Scheme != "http") return false;
        host = uri.IdnHost;
        port = uri.Port;
        originForm = $"{method} {uri.PathAndQuery} {parts[2]}";
        return true;
    }

    /// <summary>The request in origin form with <c>Connection: close</c>, so one connection serves one request to the checked host.</summary>
    private static string RewriteHead(string head, string requestLine)
    {
        var lines = head.Split("\r\n");
        var sb = new StringBuilder(requestLine).Append("\r\n");
        foreach (var line in lines.Skip(1))
        {
            if (line.Length == 0) continue;
            if (line.StartsWith("Proxy-", StringComparison.OrdinalIgnoreCase) || line.StartsWith("Connection:", StringComparison.OrdinalIgnoreCase)) continue;
            sb.Append(line).Append("\r\n");
        }
        return sb.Append("Connection: close\r\n\r\n").ToString();
    }

    private static async Task RefuseAsync(NetworkStream stream, int status, string reason, string message)
    {
        var body = message + "\n";
        var response = $"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\nConnection: close\r\n\r\n{body}";
        await stream.WriteAsync(Encoding.UTF8.GetBytes(response));
    }

    private sealed class Listener(Socket socket, CancellationTokenSource stop, Task loop) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await stop.CancelAsync();
            socket.Dispose();
            await loop;
            stop.Dispose();
        }
    }
}
