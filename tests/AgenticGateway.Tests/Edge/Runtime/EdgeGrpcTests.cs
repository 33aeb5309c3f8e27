using System.Diagnostics;
using AgenticGateway.Tests.Edge.Runtime.Grpc;
using AgenticGateway.Tests.Support;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AgenticGateway.Tests.Edge.Runtime;

/// <summary>
/// gRPC through the edge: a Grpc.AspNetCore service on HTTP/2 without TLS (Traefik's <c>h2c://</c> server URL), reached
/// by the official .NET client over TLS with HTTP/2 by ALPN at an entry point. Streams flow message by message both ways,
/// and the status in the trailers (an error too) reaches the client.
/// </summary>
[Trait("Category", "functional")]
public sealed class EdgeGrpcTests
{
    private sealed class StreamerService : Streamer.StreamerBase
    {
        public override async Task Count(CountRequest request, IServerStreamWriter<Tick> responseStream, ServerCallContext context)
        {
            if (request.To < 0) throw new RpcException(new Status(StatusCode.InvalidArgument, "to must not be negative"));
            for (var i = 1; i <= request.To; i++)
            {
                await responseStream.WriteAsync(new Tick { N = i, Backend = "grpc" });
                await Task.Delay(request.DelayMs, context.CancellationToken);
            }
        }

        public override async Task Echo(IAsyncStreamReader<Tick> requestStream, IServerStreamWriter<Tick> responseStream, ServerCallContext context)
        {
            await foreach (var tick in requestStream.ReadAllAsync(context.CancellationToken))
                await responseStream.WriteAsync(new Tick { N = tick.N * 10, Text = "echo: " + tick.Text, Backend = "grpc" });
        }
    }

    private static async Task<WebApplication> StartBackendAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddGrpc();
        // HTTP/2 only, without TLS: what h2c:// servers are.
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2));
        var app = builder.Build();
        app.MapGrpcService<StreamerService>();
        await app.StartAsync();
        return app;
    }

    [Fact]
    public async Task Streams_and_trailers_pass_through_an_https_entry_point_to_an_h2c_backend()
    {
        await using var backend = await StartBackendAsync();
        var backendPort = new Uri(backend.Urls.First()).Port;
        var port = LocalServers.FreePort();
        await using var gateway = await GatewayServer.StartAsync($$"""
            entryPoints:
              websecure:
                address: "127.0.0.1:{{port}}"
            http:
              routers:
                grpc:
                  rule: "PathPrefix(`/edgetest.Streamer/`)"
                  service: grpc
                  tls: {}
              services:
                grpc:
                  loadBalancer:
                    servers:
                      - url: "h2c://127.0.0.1:{{backendPort}}"
            """);
        // The edge's generated default certificate (no tls.certificates): the client trusts it for this test only.
        var handler = new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true } };
        using var channel = GrpcChannel.ForAddress($"https://127.0.0.1:{port}", new GrpcChannelOptions { HttpHandler = handler });
        var client = new Streamer.StreamerClient(channel);

        // Server streaming: each message arrives while the server is still producing the next (300 ms apart).
        using (var call = client.Count(new CountRequest { To = 4, DelayMs = 300 }))
        {
            var watch = Stopwatch.StartNew();
            var arrivals = new List<(int N, TimeSpan At)>();
            await foreach (var tick in call.ResponseStream.ReadAllAsync()) arrivals.Add((tick.N, watch.Elapsed));
            Assert.Equal([1, 2, 3, 4], arrivals.Select(a => a.N));
            Assert.True(arrivals[^1].At - arrivals[0].At > TimeSpan.FromMilliseconds(600), $"messages arrived together ({string.Join(", ", arrivals)}): the stream was buffered");
            Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        }

        // Bidirectional: one answer per message, before the client sends the next.
        using (var echo = client.Echo())
        {
            for (var i = 1; i <= 3; i++)
            {
                await echo.RequestStream.WriteAsync(new Tick { N = i, Text = $"m{i}" });
                Assert.True(await echo.ResponseStream.MoveNext(CancellationToken.None));
                Assert.Equal(i * 10, echo.ResponseStream.Current.N);
                Assert.Equal($"echo: m{i}", echo.ResponseStream.Current.Text);
            }
            await echo.RequestStream.CompleteAsync();
            Assert.False(await echo.ResponseStream.MoveNext(CancellationToken.None));
        }

        // An error status travels in the trailers.
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            using var failing = client.Count(new CountRequest { To = -1 });
            await foreach (var _ in failing.ResponseStream.ReadAllAsync()) { }
        });
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal("to must not be negative", error.Status.Detail);
    }
}
