using System.Net;
using System.Net.Sockets;

namespace AgenticGateway.Hosting;

/// <summary>
/// Checks the listen URLs before anything starts, so that a typo or a port in use stops the gateway with one line
/// instead of a stack trace from Kestrel after the sandbox pool has started (hosted services start before the server
/// binds). Kestrel still binds for real afterwards; a port taken in between is caught there too.
/// </summary>
internal static class ListenAddresses
{
    /// <summary>Null when every URL is one Kestrel binds as written; otherwise what is wrong with the first bad one.</summary>
    /// <remarks>
    /// Kestrel reads <c>http://127.0.0.1:x</c> as the host name "127.0.0.1:x" on port 80, which it binds on every
    /// interface: a mistyped port must not widen the listener, so the host part is checked here.
    /// </remarks>
    public static string? Invalid(string urls)
    {
        var list = Split(urls);
        if (list.Length == 0) return "no address to listen on: give one such as http://127.0.0.1:8080";
        foreach (var url in list)
        {
            BindingAddress address;
            try { address = BindingAddress.Parse(url); }
            catch (FormatException) { return Bad(url); }
            if (address.IsUnixPipe) continue;
            if (address.Scheme is not ("http" or "https")) return $"'{url}' is not an http:// or https:// address";
            if (address.Port is < 0 or > 65535) return $"'{url}' has an invalid port (0 to 65535)";
            if (!ValidHost(address.Host)) return Bad(url);
        }
        return null;
    }

    /// <summary>Null when every fixed port is free; otherwise the line that says which one is taken and what to do.</summary>
    public static string? InUse(string urls)
    {
        foreach (var url in Split(urls))
        {
            var address = BindingAddress.Parse(url);
            if (address.IsUnixPipe || address.Port == 0) continue;
            foreach (var ip in Addresses(address.Host))
            {
                using var socket = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                try { socket.Bind(new IPEndPoint(ip, address.Port)); }
                catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
                {
                    return $"Cannot start: {url} is already in use (port {address.Port}). Stop what is listening there, or choose another port with --port or --urls.";
                }
                catch (SocketException ex) when (ex.SocketErrorCode is SocketError.AddressNotAvailable or SocketError.AccessDenied)
                {
                    return $"Cannot start: cannot listen on {url}: {ex.Message}.";
                }
                // Other failures (no IPv6 on this host, ...) are Kestrel's to judge, as it does for localhost.
                catch (SocketException) { }
            }
        }
        return null;
    }

    internal static string[] Split(string urls) => urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static string Bad(string url) => $"'{url}' is not a listen address: expected http://HOST:PORT, such as http://127.0.0.1:8080 or http://0.0.0.0:8080";

    private static bool ValidHost(string host)
    {
        if (host is "*" or "+" || host.Equals("localhost", StringComparison.OrdinalIgnoreCase)) return true;
        if (host.StartsWith('[')) return host.EndsWith(']') && IPAddress.TryParse(host[1..^1], out var v6) && v6.AddressFamily == AddressFamily.InterNetworkV6;
        if (IPAddress.TryParse(host, out var ip)) return ip.AddressFamily == AddressFamily.InterNetwork && host.Count(c => c == '.') == 3;
        // A host name (Kestrel binds it on every interface): letters, digits, dots and hyphens.
        return host.Length > 0 && host.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-') && host.Any(char.IsAsciiLetter);
    }

    /// <summary>What Kestrel binds for the host: loopback for localhost, the address itself, else every interface.</summary>
    private static IPAddress[] Addresses(string host)
    {
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase)) return [IPAddress.Loopback, IPAddress.IPv6Loopback];
        if (IPAddress.TryParse(host.Trim('[', ']'), out var ip)) return [ip];
        return [IPAddress.Any];
    }
}
