using System.Net;
using System.Net.Http.Headers;
using AgenticGateway.Edge;
using AgenticGateway.Edge.Middlewares;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using static AgenticGateway.Tests.Edge.Middlewares.TrafficHarness;

namespace AgenticGateway.Tests.Edge.Middlewares;

/// <summary>
/// The traffic middlewares in a real Kestrel server, where a started response is final: retry discards a failed
/// try that Response.WriteAsync had already "started", compress answers a real client, and an event stream behind
/// compress reaches the client event by event.
/// </summary>
[Trait("Category", "functional")]
public class TrafficKestrelTests
{
    private static async Task<(WebApplication App, HttpClient Client)> StartAsync(EdgeMiddleware chain, RequestDelegate backend)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var pipeline = chain(backend);
        app.Run(http =>
        {
            http.Features.Set(new EdgeRequest { EntryPoint = "web" });
            return pipeline(http);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var client = new HttpClient(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None }) { BaseAddress = new Uri(address) };
        return (app, client);
    }

    private static EdgeMiddleware Compose(params EdgeMiddleware[] parts) => next =>
    {
        for (var i = parts.Length - 1; i >= 0; i--) next = parts[i](next);
        return next;
    };

    [Fact]
    public async Task Retry_discards_an_unreachable_try_and_compress_encodes_the_answer()
    {
        var tries = 0;
        var compress = Build("""
            http:
              middlewares:
                c:
                  compress: {}
            """);
        var retry = Build("""
            http:
              middlewares:
                r:
                  retry:
                    attempts: 3
            """);
        var body = string.Concat(Enumerable.Repeat("{\"ok\":true}", 300));
        var (app, client) = await StartAsync(Compose(compress, retry), async http =>
        {
            if (++tries == 1)
            {
                http.Edge()!.ProxyFailed = true;
                await TraefikText.StatusAsync(http, 502);
                return;
            }
            http.Response.ContentType = "application/json";
            await http.Response.WriteAsync(body);
        });
        await using var _ = app;
        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("gzip"));
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, tries);
        Assert.Equal("gzip", Assert.Single(response.Content.Headers.ContentEncoding));
        await using var gzip = new System.IO.Compression.GZipStream(await response.Content.ReadAsStreamAsync(), System.IO.Compression.CompressionMode.Decompress);
        Assert.Equal(body, await new StreamReader(gzip).ReadToEndAsync());
    }

    [Fact]
    public async Task An_event_stream_behind_compress_arrives_event_by_event()
    {
        var second = new TaskCompletionSource();
        var compress = Build("""
            http:
              middlewares:
                c:
                  compress: {}
            """);
        var (app, client) = await StartAsync(compress, async http =>
        {
            http.Response.ContentType = "text/event-stream";
            await http.Response.WriteAsync("data: one\n\n");
            await http.Response.Body.FlushAsync();
            await second.Task.WaitAsync(TimeSpan.FromSeconds(30));
            await http.Response.WriteAsync("data: two\n\n");
        });
        await using var _ = app;
        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("gzip"));
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Empty(response.Content.Headers.ContentEncoding);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        // The first event is readable while the server still holds the second.
        Assert.Equal("data: one", await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10)));
        second.SetResult();
        Assert.Equal("", await reader.ReadLineAsync());
        Assert.Equal("data: two", await reader.ReadLineAsync());
    }

    [Fact]
    public async Task An_error_page_replaces_a_caught_answer_in_a_real_response()
    {
        RequestDelegate pages = async http =>
        {
            http.Response.ContentType = "text/html";
            await http.Response.WriteAsync($"<p>page for {http.Request.Path}</p>");
        };
        var errors = Build("""
            http:
              middlewares:
                e:
                  errors:
                    status: ["500-599"]
                    service: pages
                    query: "/{status}.html"
            """, Context(services: _ => pages));
        var (app, client) = await StartAsync(errors, http => TraefikText.StatusAsync(http, 503));
        await using var _ = app;
        using var response = await client.GetAsync("/anything");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("<p>page for /503.html</p>", await response.Content.ReadAsStringAsync());
    }
}
