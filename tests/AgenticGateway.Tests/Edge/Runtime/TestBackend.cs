using System.Net.WebSockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace AgenticGateway.Tests.Edge.Runtime;

/// <summary>
/// A small HTTP server behind the edge: answers every path with what it received (its name, the method, path, query,
/// host and forwarded headers, one per line), and has a health path whose status a test sets, a slow server-sent
/// event stream and a WebSocket echo.
/// </summary>
internal sealed class TestBackend : IAsyncDisposable
{
    private readonly WebApplication _app;
    public string Name { get; }
    public string Url { get; }
    public int Port => new Uri(Url).Port;
    /// <summary>What /health answers.</summary>
    public volatile int HealthStatus = 200;
    private int _requests;
    public int Requests => Volatile.Read(ref _requests);

    private TestBackend(WebApplication app, string name, string url)
    {
        _app = app;
        Name = name;
        Url = url;
    }

    public static async Task<TestBackend> StartAsync(string name)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        TestBackend? self = null;
        app.UseWebSockets();
        app.Map("/health", (HttpContext c) => { c.Response.StatusCode = self!.HealthStatus; return Task.CompletedTask; });
        app.Map("/sse", async (HttpContext c) =>
        {
            c.Response.ContentType = "text/event-stream";
            for (var i = 0; i < 3; i++)
            {
                await c.Response.WriteAsync($"data: {i} {DateTime.UtcNow:O}\n\n");
                await c.Response.Body.FlushAsync();
                await Task.Delay(400);
            }
        });
        app.Map("/ws", async (HttpContext c) =>
        {
            if (!c.WebSockets.IsWebSocketRequest) { c.Response.StatusCode = 400; return; }
            using var ws = await c.WebSockets.AcceptWebSocketAsync();
            var buffer = new byte[4096];
            while (true)
            {
                var r = await ws.ReceiveAsync(buffer, CancellationToken.None);
                if (r.MessageType == WebSocketMessageType.Close) { await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None); return; }
                await ws.SendAsync(Encoding.UTF8.GetBytes($"{name}: {Encoding.UTF8.GetString(buffer, 0, r.Count)}"), WebSocketMessageType.Text, true, CancellationToken.None);
            }
        });
        // Every other path (a catch-all endpoint: a terminal middleware would shadow the endpoints above).
        app.Map("/{**path}", async (HttpContext c) =>
        {
            Interlocked.Increment(ref self!._requests);
            var r = c.Request;
            c.Response.Headers["X-Backend"] = name;
            var lines = new StringBuilder();
            lines.Append("backend=").Append(name).Append('\n');
            lines.Append("method=").Append(r.Method).Append('\n');
            lines.Append("path=").Append(r.PathBase).Append(r.Path).Append('\n');
            lines.Append("query=").Append(r.QueryString).Append('\n');
            lines.Append("host=").Append(r.Host).Append('\n');
            foreach (var h in r.Headers.Where(h => h.Key.StartsWith("X-", StringComparison.OrdinalIgnoreCase)).OrderBy(h => h.Key, StringComparer.OrdinalIgnoreCase))
                lines.Append(h.Key.ToLowerInvariant()).Append('=').Append(h.Value.ToString()).Append('\n');
            if (r.ContentLength > 0 || r.Headers.TransferEncoding.Count > 0)
            {
                using var reader = new StreamReader(r.Body);
                lines.Append("body=").Append(await reader.ReadToEndAsync()).Append('\n');
            }
            await c.Response.WriteAsync(lines.ToString());
        });
        await app.StartAsync();
        self = new TestBackend(app, name, app.Urls.First());
        return self;
    }

    /// <summary>The backend's answer as key=value pairs (the last value of a repeated key).</summary>
    public static Dictionary<string, string> Parse(string body) =>
        body.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('=', 2)).Where(p => p.Length == 2)
            .GroupBy(p => p[0]).ToDictionary(g => g.Key, g => g.Last()[1]);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
