using System.Collections.Concurrent;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;

namespace AgenticGateway.Tests.Sandboxes.Firecracker;

/// <summary>One request as the fake Firecracker saw it.</summary>
internal sealed record RecordedRequest(string Method, string Path, string Body, string? ContentType, long? ContentLength, bool Chunked);

/// <summary>
/// A stand-in for Firecracker's API: real Kestrel on a Unix socket, HTTP/1.1 only. It records every request and answers
/// as the document says: 204 for PUT and PATCH, 200 with an InstanceInfo for GET /, and a 400 with a fault_message for
/// paths told to fail.
/// </summary>
internal sealed class FakeFirecrackerApi : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _directory;
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();

    private FakeFirecrackerApi(WebApplication app, string directory, string socket)
    {
        _app = app;
        _directory = directory;
        SocketPath = socket;
    }

    public string SocketPath { get; }
    public IReadOnlyList<RecordedRequest> Requests => [.. _requests];
    /// <summary>Request paths answered with 400 and this fault message.</summary>
    public ConcurrentDictionary<string, string> Faults { get; } = new();

    public static async Task<FakeFirecrackerApi> StartAsync()
    {
        var directory = Directory.CreateTempSubdirectory("agw-fc-api-").FullName;
        var socket = Path.Combine(directory, "api.sock");
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.ListenUnixSocket(socket, l => l.Protocols = HttpProtocols.Http1));
        var app = builder.Build();
        FakeFirecrackerApi? fake = null;
        app.Run(async context =>
        {
            var request = context.Request;
            var body = await new StreamReader(request.Body).ReadToEndAsync();
            var path = request.Path.Value ?? "/";
            fake!._requests.Enqueue(new RecordedRequest(request.Method, path, body, request.ContentType, request.ContentLength,
                request.Headers.TransferEncoding.ToString().Contains("chunked", StringComparison.OrdinalIgnoreCase)));
            if (fake.Faults.TryGetValue(path, out var fault))
            {
                context.Response.StatusCode = 400;
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync(System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, string> { ["fault_message"] = fault }));
                return;
            }
            if (request.Method == "GET" && path == "/")
            {
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync("""{"app_name":"Firecracker","id":"fake-vm","state":"Not started","vmm_version":"1.17.0-dev"}""");
                return;
            }
            context.Response.StatusCode = 204;
        });
        fake = new FakeFirecrackerApi(app, directory, socket);
        await app.StartAsync();
        return fake;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }
}
