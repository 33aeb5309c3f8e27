using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace AgenticGateway.Sandboxes.Qemu;

internal sealed class QmpException(string message) : Exception(message);

/// <summary>A minimal QMP client: greeting, qmp_capabilities, then one command at a time (events are skipped).</summary>
internal sealed class QmpClient : IDisposable
{
    private readonly NetworkStream _stream;
    private readonly StreamReader _reader;

    private QmpClient(NetworkStream stream)
    {
        _stream = stream;
        _reader = new StreamReader(stream, Encoding.UTF8);
    }

    public static async Task<QmpClient> ConnectAsync(string path, CancellationToken ct)
    {
        var client = new QmpClient(await ConnectUnixAsync(path, null, ct));
        await client.ReadAsync(ct);                                   // greeting
        await client.ExecuteAsync("qmp_capabilities", null, ct);
        return client;
    }

    /// <summary>Connects to a Unix socket that QEMU is about to create; retries until it exists or QEMU exits.</summary>
    public static async Task<NetworkStream> ConnectUnixAsync(string path, Task? exited, CancellationToken ct)
    {
        while (true)
        {
            if (exited?.IsCompleted == true) throw new IOException("qemu exited while starting");
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), ct);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.AddressNotAvailable or SocketError.ConnectionRefused)
            {
                socket.Dispose();
            }
            await Task.Delay(10, ct);
        }
    }

    /// <summary>Runs a command (arguments as a JSON object text, or null) and returns its "return" value.</summary>
    public async Task<JsonElement> ExecuteAsync(string command, string? arguments, CancellationToken ct)
    {
        var line = arguments is null ? $"{{\"execute\":\"{command}\"}}\n" : $"{{\"execute\":\"{command}\",\"arguments\":{arguments}}}\n";
        await _stream.WriteAsync(Encoding.UTF8.GetBytes(line), ct);
        while (true)
        {
            var reply = await ReadAsync(ct);
            if (reply.TryGetProperty("return", out var value)) return value;
            if (reply.TryGetProperty("error", out var error))
                throw new QmpException($"{command}: {(error.TryGetProperty("desc", out var d) ? d.GetString() : error.ToString())}");
        }
    }

    private async Task<JsonElement> ReadAsync(CancellationToken ct)
    {
        var line = await _reader.ReadLineAsync(ct) ?? throw new IOException("QMP connection closed");
        using var doc = JsonDocument.Parse(line);
        return doc.RootElement.Clone();
    }

    public void Dispose()
    {
        _reader.Dispose();
        _stream.Dispose();
    }
}
