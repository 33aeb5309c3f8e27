using System.Buffers.Binary;
using System.Net;
using AgenticGateway.Edge;

namespace AgenticGateway.Edge.Runtime;

/// <summary>
/// Traefik's active health checks for one load balancer: every interval (unhealthyInterval for a server that is down),
/// each server is asked on its health path, and one that does not answer in time or with the expected status is taken
/// out of the rotation until it answers again. Mode grpc asks the standard grpc.health.v1 Check instead.
/// </summary>
internal sealed partial class HealthChecker(string service, HealthCheckConfig config, EdgeServer[] servers, HttpMessageInvoker invoker, ILogger logger, TimeProvider time)
{
    public void Start(CancellationToken stopping)
    {
        foreach (var server in servers) _ = RunAsync(server, stopping);
    }

    private async Task RunAsync(EdgeServer server, CancellationToken stopping)
    {
        try
        {
            while (!stopping.IsCancellationRequested)
            {
                var healthy = await CheckAsync(server, stopping);
                if (stopping.IsCancellationRequested) return;
                if (healthy != server.Healthy)
                {
                    server.Healthy = healthy;
                    if (healthy) Log.Up(logger, service, server.Display);
                    else Log.Down(logger, service, server.Display);
                }
                await Task.Delay(healthy ? config.Interval : config.UnhealthyInterval, time, stopping);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested) { }
    }

    internal async Task<bool> CheckAsync(EdgeServer server, CancellationToken stopping)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        timeout.CancelAfter(config.Timeout);
        try
        {
            using var request = Request(server);
            using var response = await invoker.SendAsync(request, timeout.Token);
            if (config.Mode.Equals("grpc", StringComparison.OrdinalIgnoreCase)) return await GrpcServingAsync(response, timeout.Token);
            var status = (int)response.StatusCode;
            return config.Status > 0 ? status == config.Status : status is >= 200 and < 400;
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException)
        {
            return false;
        }
    }

    private HttpRequestMessage Request(EdgeServer server)
    {
        var url = server.Config.Url;
        // h2c (the server's or the check's own scheme) is HTTP/2 without TLS: an http:// request sent as HTTP/2 only.
        var h2c = (config.Scheme ?? url.Scheme).Equals("h2c", StringComparison.OrdinalIgnoreCase);
        var scheme = h2c ? "http" : config.Scheme ?? url.Scheme;
        var builder = new UriBuilder(scheme, url.Host, config.Port ?? url.Port);
        var grpc = config.Mode.Equals("grpc", StringComparison.OrdinalIgnoreCase);
        if (grpc) builder.Path = "/grpc.health.v1.Health/Check";
        else
        {
            var path = config.Path;
            var query = "";
            if (path.IndexOf('?') is var q and >= 0) { query = path[(q + 1)..]; path = path[..q]; }
            builder.Path = (server.Config.PreservePath ? url.AbsolutePath.TrimEnd('/') : "") + path;
            builder.Query = query;
        }
        var request = new HttpRequestMessage(grpc ? HttpMethod.Post : new HttpMethod(config.Method), builder.Uri);
        if (grpc || h2c)
        {
            request.Version = HttpVersion.Version20;
            request.VersionPolicy = h2c || scheme == "http" ? HttpVersionPolicy.RequestVersionExact : HttpVersionPolicy.RequestVersionOrHigher;
        }
        if (config.Hostname is not null) request.Headers.Host = config.Hostname;
        foreach (var (name, value) in config.Headers) request.Headers.TryAddWithoutValidation(name, value);
        if (grpc)
        {
            // An empty HealthCheckRequest (service ""): the server's overall status. gRPC frames a message with a
            // compression flag and a 4-byte length.
            request.Content = new ByteArrayContent(new byte[5]);
            request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/grpc");
            request.Headers.TryAddWithoutValidation("TE", "trailers");
        }
        return request;
    }

    /// <summary>grpc.health.v1.HealthCheckResponse: field 1 (status) as a varint, 1 = SERVING; grpc-status must be 0.</summary>
    private static async Task<bool> GrpcServingAsync(HttpResponseMessage response, CancellationToken ct)
    {
        if (response.StatusCode != HttpStatusCode.OK) return false;
        var body = await response.Content.ReadAsByteArrayAsync(ct);
        var status = response.TrailingHeaders.TryGetValues("grpc-status", out var s) ? s.FirstOrDefault()
            : response.Headers.TryGetValues("grpc-status", out var h) ? h.FirstOrDefault() : null;
        if (status is not null && status != "0") return false;
        if (body.Length < 5) return false;
        var length = BinaryPrimitives.ReadInt32BigEndian(body.AsSpan(1, 4));
        if (length < 0 || body.Length < 5 + length) return false;
        var message = body.AsSpan(5, length);
        // Field 1, wire type 0 (tag 0x08), then the enum's varint (SERVING = 1 fits in one byte).
        for (var i = 0; i + 1 < message.Length; i++)
            if (message[i] == 0x08) return message[i + 1] == 1;
        return false;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1900, Level = LogLevel.Warning, Message = "edge: service {Service}: server {Server} failed its health check and is out of rotation")]
        public static partial void Down(ILogger logger, string service, string server);

        [LoggerMessage(EventId = 1901, Level = LogLevel.Information, Message = "edge: service {Service}: server {Server} is healthy again")]
        public static partial void Up(ILogger logger, string service, string server);
    }
}
