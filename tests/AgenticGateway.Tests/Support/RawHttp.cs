using System.Net;
using System.Net.Sockets;
using System.Text;

namespace AgenticGateway.Tests.Support;

/// <summary>
/// HTTP/1.1 over a bare socket, for requests no HTTP client will send (bad framing, bad headers, stalls, pipelining):
/// writes the given bytes, then reads every response until the server closes the connection.
/// </summary>
internal static class RawHttp
{
    internal sealed record Response(int Status, IReadOnlyDictionary<string, string> Headers, byte[] Body)
    {
        public string Text => Encoding.UTF8.GetString(Body);
        public string? Header(string name) => Headers.TryGetValue(name, out var v) ? v : null;
    }

    /// <summary>One write: its bytes, sent after a pause.</summary>
    internal readonly record struct Part(byte[] Bytes, TimeSpan Pause = default);

    internal sealed record Exchange(IReadOnlyList<Response> Responses, bool TimedOut, bool Malformed, byte[] Raw);

    /// <param name="halfClose">Shut the sending side after the last part, so the server sees the request end there.</param>
    /// <param name="head">The requests are HEAD requests: their responses have no body, whatever Content-Length says.</param>
    public static async Task<Exchange> SendAsync(Uri server, IReadOnlyList<Part> parts, bool halfClose, TimeSpan timeout, bool head = false)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var deadline = new CancellationTokenSource(timeout);
        var received = new MemoryStream();
        var timedOut = false;
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, server.Port), deadline.Token);
            var reading = ReadToEndAsync(socket, received, deadline.Token);
            foreach (var part in parts)
            {
                if (part.Pause > TimeSpan.Zero) await Task.WhenAny(Task.Delay(part.Pause, deadline.Token), reading);
                if (reading.IsCompleted) break;
                // The server may close early (it refused the request line): what it answered is still read.
                try { await socket.SendAsync(part.Bytes, SocketFlags.None, deadline.Token); }
                catch (SocketException) { break; }
            }
            if (halfClose && !reading.IsCompleted)
            {
                try { socket.Shutdown(SocketShutdown.Send); } catch (SocketException) { }
            }
            await reading;
        }
        catch (OperationCanceledException) { timedOut = true; }
        var raw = received.ToArray();
        var (responses, malformed) = Parse(raw, head);
        return new Exchange(responses, timedOut, malformed, raw);
    }

    private static async Task ReadToEndAsync(Socket socket, MemoryStream into, CancellationToken cancellationToken)
    {
        var buffer = new byte[16384];
        try
        {
            int n;
            while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken)) > 0) into.Write(buffer, 0, n);
        }
        catch (SocketException) { } // a reset ends the exchange like a close; what arrived before it counts
    }

    /// <summary>The responses in a byte stream (1xx interim responses skipped); malformed when bytes are left over.</summary>
    internal static (List<Response> Responses, bool Malformed) Parse(ReadOnlySpan<byte> raw, bool head = false)
    {
        var responses = new List<Response>();
        while (!raw.IsEmpty)
        {
            var end = raw.IndexOf("\r\n\r\n"u8);
            if (end < 0) return (responses, true);
            var lines = Encoding.Latin1.GetString(raw[..end]).Split("\r\n");
            raw = raw[(end + 4)..];
            var statusParts = lines[0].Split(' ', 3);
            if (statusParts.Length < 2 || !statusParts[0].StartsWith("HTTP/1.", StringComparison.Ordinal) || !int.TryParse(statusParts[1], out var status))
                return (responses, true);
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var line in lines.Skip(1))
            {
                var colon = line.IndexOf(':');
                if (colon > 0) headers[line[..colon]] = line[(colon + 1)..].Trim();
            }
            if (status is >= 100 and < 200 && status != 101) continue;
            byte[] body;
            if (head) body = [];
            else if (headers.TryGetValue("Transfer-Encoding", out var te) && te.Contains("chunked", StringComparison.OrdinalIgnoreCase))
            {
                var decoded = new MemoryStream();
                while (true)
                {
                    var lineEnd = raw.IndexOf("\r\n"u8);
                    if (lineEnd < 0) return (responses, true);
                    var sizeText = Encoding.Latin1.GetString(raw[..lineEnd]).Split(';')[0].Trim();
                    if (!int.TryParse(sizeText, System.Globalization.NumberStyles.HexNumber, null, out var size) || raw.Length < lineEnd + 2 + size + 2) return (responses, true);
                    decoded.Write(raw.Slice(lineEnd + 2, size));
                    raw = raw[(lineEnd + 2 + size + 2)..];
                    if (size == 0) break;
                }
                body = decoded.ToArray();
            }
            else if (headers.TryGetValue("Content-Length", out var cl) && int.TryParse(cl, out var length))
            {
                if (raw.Length < length) return (responses, true);
                body = raw[..length].ToArray();
                raw = raw[length..];
            }
            else
            {
                body = raw.ToArray();
                raw = default;
            }
            responses.Add(new Response(status, headers, body));
            if (status == 101) break;
        }
        return (responses, false);
    }

    /// <summary>The bytes as a person can read them in a failure message: printable ASCII as is, the rest escaped.</summary>
    public static string Printable(ReadOnlySpan<byte> bytes, int max = 1500)
    {
        var text = new StringBuilder();
        foreach (var b in bytes[..Math.Min(bytes.Length, max)])
        {
            if (b == '\r') text.Append("\\r");
            else if (b == '\n') text.Append("\\n\n");
            else if (b is >= 0x20 and < 0x7f) text.Append((char)b);
            else text.Append($"\\x{b:x2}");
        }
        if (bytes.Length > max) text.Append($"... ({bytes.Length} bytes)");
        return text.ToString();
    }
}
