using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace AgenticGateway.Sandboxes.Firecracker;

/// <summary>Firecracker refused a request: the HTTP status and its <c>fault_message</c>.</summary>
internal sealed class FirecrackerApiException(string operation, HttpStatusCode status, string faultMessage)
    : Exception($"Firecracker {operation}: {(int)status} {faultMessage}")
{
    public string Operation { get; } = operation;
    public HttpStatusCode Status { get; } = status;
    public string FaultMessage { get; } = faultMessage;
}

/// <summary>
/// The Firecracker API over its Unix socket (HTTP/1.1), one method per operation the driver uses. Bodies are written by
/// the source-generated <see cref="FirecrackerJson"/> context with a Content-Length, since Firecracker's HTTP server
/// does not take chunked bodies. See shared/reference/firecracker-api.yaml.
/// </summary>
internal sealed class FirecrackerClient : IDisposable
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");
    private readonly HttpClient _http;

    public FirecrackerClient(string socketPath, TimeSpan? timeout = null)
    {
        SocketPath = socketPath;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
        };
        _http = new HttpClient(handler) { BaseAddress = new Uri("http://localhost/"), Timeout = timeout ?? TimeSpan.FromSeconds(30) };
        _http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
    }

    public string SocketPath { get; }

    public Task PutMachineConfigAsync(MachineConfiguration body, CancellationToken ct) =>
        SendAsync(HttpMethod.Put, "machine-config", body, FirecrackerJson.Default.MachineConfiguration, ct);

    public Task PutBootSourceAsync(BootSource body, CancellationToken ct) =>
        SendAsync(HttpMethod.Put, "boot-source", body, FirecrackerJson.Default.BootSource, ct);

    public Task PutDriveAsync(Drive body, CancellationToken ct) =>
        SendAsync(HttpMethod.Put, "drives/" + Uri.EscapeDataString(body.DriveId), body, FirecrackerJson.Default.Drive, ct);

    public Task PutNetworkInterfaceAsync(NetworkInterface body, CancellationToken ct) =>
        SendAsync(HttpMethod.Put, "network-interfaces/" + Uri.EscapeDataString(body.IfaceId), body, FirecrackerJson.Default.NetworkInterface, ct);

    public Task PutVsockAsync(Vsock body, CancellationToken ct) =>
        SendAsync(HttpMethod.Put, "vsock", body, FirecrackerJson.Default.Vsock, ct);

    public Task PutMmdsConfigAsync(MmdsConfig body, CancellationToken ct) =>
        SendAsync(HttpMethod.Put, "mmds/config", body, FirecrackerJson.Default.MmdsConfig, ct);

    /// <summary>Replaces the whole metadata store with <paramref name="contents"/> (a JSON object).</summary>
    public Task PutMmdsAsync(Action<Utf8JsonWriter> contents, CancellationToken ct) => SendRawAsync(HttpMethod.Put, "mmds", WriteObject(contents), ct);

    /// <summary>Merges <paramref name="contents"/> into the metadata store (JSON merge patch).</summary>
    public Task PatchMmdsAsync(Action<Utf8JsonWriter> contents, CancellationToken ct) => SendRawAsync(HttpMethod.Patch, "mmds", WriteObject(contents), ct);

    public Task PutBalloonAsync(Balloon body, CancellationToken ct) =>
        SendAsync(HttpMethod.Put, "balloon", body, FirecrackerJson.Default.Balloon, ct);

    public Task PatchBalloonAsync(BalloonUpdate body, CancellationToken ct) =>
        SendAsync(HttpMethod.Patch, "balloon", body, FirecrackerJson.Default.BalloonUpdate, ct);

    public Task PutLoggerAsync(LoggerSettings body, CancellationToken ct) =>
        SendAsync(HttpMethod.Put, "logger", body, FirecrackerJson.Default.LoggerSettings, ct);

    public Task PutMetricsAsync(MetricsSettings body, CancellationToken ct) =>
        SendAsync(HttpMethod.Put, "metrics", body, FirecrackerJson.Default.MetricsSettings, ct);

    public Task PutEntropyAsync(CancellationToken ct) =>
        SendAsync(HttpMethod.Put, "entropy", new EntropyDevice(), FirecrackerJson.Default.EntropyDevice, ct);

    public Task ActionAsync(string actionType, CancellationToken ct) =>
        SendAsync(HttpMethod.Put, "actions", new InstanceActionInfo(actionType), FirecrackerJson.Default.InstanceActionInfo, ct);

    public Task PatchVmAsync(string state, CancellationToken ct) =>
        SendAsync(HttpMethod.Patch, "vm", new Vm(state), FirecrackerJson.Default.Vm, ct);

    public Task CreateSnapshotAsync(SnapshotCreateParams body, CancellationToken ct) =>
        SendAsync(HttpMethod.Put, "snapshot/create", body, FirecrackerJson.Default.SnapshotCreateParams, ct);

    public Task LoadSnapshotAsync(SnapshotLoadParams body, CancellationToken ct) =>
        SendAsync(HttpMethod.Put, "snapshot/load", body, FirecrackerJson.Default.SnapshotLoadParams, ct);

    /// <summary>GET /: the instance's id, state ("Not started", "Running", "Paused") and version.</summary>
    public async Task<InstanceInfo> DescribeInstanceAsync(CancellationToken ct)
    {
        using var response = await _http.GetAsync("", ct);
        await EnsureSuccessAsync("GET /", response, ct);
        return await JsonSerializer.DeserializeAsync(await response.Content.ReadAsStreamAsync(ct), FirecrackerJson.Default.InstanceInfo, ct)
            ?? throw new FirecrackerApiException("GET /", response.StatusCode, "empty answer");
    }

    private Task SendAsync<T>(HttpMethod method, string path, T body, JsonTypeInfo<T> type, CancellationToken ct) =>
        SendRawAsync(method, path, JsonSerializer.SerializeToUtf8Bytes(body, type), ct);

    private async Task SendRawAsync(HttpMethod method, string path, byte[] body, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, path) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = Json;
        using var response = await _http.SendAsync(request, ct);
        await EnsureSuccessAsync($"{method} /{path}", response, ct);
    }

    private static async Task EnsureSuccessAsync(string operation, HttpResponseMessage response, CancellationToken ct)
    {
        if (response.IsSuccessStatusCode) return;
        var text = await response.Content.ReadAsStringAsync(ct);
        string? fault = null;
        try { fault = JsonSerializer.Deserialize(text, FirecrackerJson.Default.FirecrackerError)?.FaultMessage; }
        catch (JsonException) { }
        throw new FirecrackerApiException(operation, response.StatusCode, fault ?? (text.Length > 0 ? text : response.ReasonPhrase ?? "error"));
    }

    private static byte[] WriteObject(Action<Utf8JsonWriter> contents)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            contents(w);
            w.WriteEndObject();
        }
        return stream.ToArray();
    }

    public void Dispose() => _http.Dispose();
}
