using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using AgenticGateway.Observability;
using AgenticGateway.Tests.Support;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace AgenticGateway.Tests.Observability;

/// <summary>Spans of the request path, traceparent propagation, and export over OTLP to a real HTTP receiver.</summary>
[Trait("Category", "functional")]
public class TracingTests
{
    private static string Yaml(EmulatorServer upstream, string extra = "") => $"""
        models:
          - name: m
            provider: openai_compatible
            model: upstream-m
            api_base: {upstream.ApiBase}
        {extra}
        """;

    [Fact]
    public async Task A_request_yields_request_auth_route_and_attempt_spans_in_the_callers_trace_and_propagates_it()
    {
        var traceId = ActivityTraceId.CreateRandom();
        var spans = new ConcurrentBag<Activity>();
        using var listener = Listen(traceId, spans);

        await using var upstream = await EmulatorServer.StartAsync();
        await using var gw = await GatewayServer.StartAsync(Yaml(upstream));
        upstream.Fail("status=500", count: 1);
        using var response = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("m"),
            configure: r => r.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom()}-01"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        // The request span ends after the answer is written: the client can have it a moment earlier.
        await SpanEnded(spans, "gateway chat");
        var request = Assert.Single(spans, s => s.OperationName == "gateway chat");
        Assert.Equal("m", request.GetTagItem("gen_ai.request.model"));
        Assert.Equal(2, request.GetTagItem("agw.attempts"));
        Assert.True((long)request.GetTagItem("gen_ai.usage.output_tokens")! > 0);
        Assert.Contains(spans, s => s.OperationName == "auth" && s.ParentSpanId == request.SpanId);
        Assert.Equal(2, spans.Count(s => s.OperationName == "route"));

        var attempts = spans.Where(s => s.OperationName == "chat upstream-m").OrderBy(s => s.StartTimeUtc).ToList();
        Assert.Equal(2, attempts.Count);
        Assert.All(attempts, a =>
        {
            Assert.Equal(ActivityKind.Client, a.Kind);
            Assert.Equal("openai_compatible", a.GetTagItem("gen_ai.system"));
            Assert.Equal("upstream-m", a.GetTagItem("gen_ai.request.model"));
        });
        Assert.Equal(ActivityStatusCode.Error, attempts[0].Status);
        Assert.Equal("server_error", attempts[0].GetTagItem("error.type"));
        Assert.True((long)attempts[1].GetTagItem("gen_ai.usage.input_tokens")! > 0);
        // A JSON answer is priced and its spend log written before it is released: inside the attempt that served it.
        var spend = Assert.Single(spans, s => s.OperationName == "spend");
        Assert.Equal(attempts[1].SpanId, spend.ParentSpanId);
        Assert.NotNull(spend.GetTagItem("agw.cost_usd"));

        // The provider saw the same trace, with the successful attempt as parent.
        var sent = upstream.Engine.LastRequest!.Headers["traceparent"];
        Assert.Contains(traceId.ToString(), sent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failed_attempt_and_its_fallback_to_another_provider_are_both_in_the_trace()
    {
        var traceId = ActivityTraceId.CreateRandom();
        var spans = new ConcurrentBag<Activity>();
        using var listener = Listen(traceId, spans);

        await using var upstream = await EmulatorServer.StartAsync();
        await using var gw = await GatewayServer.StartAsync(Yaml(upstream, $$"""
              - {name: claude, provider: anthropic, model: claude-sonnet-4-5, api_base: "{{upstream.Url}}"}
            router:
              num_retries: 0
              fallbacks: [{m: [claude]}]
            """));
        upstream.Fail("status=500", count: 1, model: "upstream-m");
        using var response = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("m"),
            configure: r => r.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom()}-01"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("anthropic", response.Headers.GetValues("x-agw-provider").Single());

        await SpanEnded(spans, "gateway chat");
        var request = Assert.Single(spans, s => s.OperationName == "gateway chat");
        Assert.Equal(2, request.GetTagItem("agw.attempts"));
        Assert.Equal(1, request.GetTagItem("agw.fallbacks"));
        var failed = Assert.Single(spans, s => s.OperationName == "chat upstream-m");
        Assert.Equal(ActivityStatusCode.Error, failed.Status);
        Assert.Equal("openai_compatible", failed.GetTagItem("gen_ai.system"));
        var fallback = Assert.Single(spans, s => s.OperationName == "chat claude-sonnet-4-5");
        Assert.Equal(ActivityStatusCode.Unset, fallback.Status);
        Assert.Equal("anthropic", fallback.GetTagItem("gen_ai.system"));
        Assert.True((long)fallback.GetTagItem("gen_ai.usage.output_tokens")! > 0);
        Assert.True(failed.StartTimeUtc < fallback.StartTimeUtc);
        Assert.All([failed, fallback], a => Assert.Equal(ActivityKind.Client, a.Kind));
    }

    /// <summary>Records the gateway's spans of one trace as they end.</summary>
    private static ActivityListener Listen(ActivityTraceId traceId, ConcurrentBag<Activity> spans)
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == GatewayTracing.SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a => { if (a.TraceId == traceId) spans.Add(a); },
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }

    /// <summary>Waits (briefly) for a span to end: spans end after the response is flushed.</summary>
    private static async Task SpanEnded(ConcurrentBag<Activity> spans, string name)
    {
        for (var i = 0; i < 100 && !spans.Any(s => s.OperationName == name); i++) await Task.Delay(20);
    }

    [Fact]
    public async Task With_tracing_off_the_callers_trace_still_reaches_the_provider()
    {
        await using var upstream = await EmulatorServer.StartAsync();
        await using var gw = await GatewayServer.StartAsync(Yaml(upstream));
        var traceId = ActivityTraceId.CreateRandom();
        using var response = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("m"),
            configure: r => r.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom()}-01"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains(traceId.ToString(), upstream.Engine.LastRequest!.Headers["traceparent"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Spans_are_exported_over_otlp_http()
    {
        var received = new ConcurrentQueue<byte[]>();
        var receiver = WebApplication.CreateSlimBuilder();
        receiver.WebHost.UseUrls("http://127.0.0.1:0");
        await using var collector = receiver.Build();
        collector.MapPost("/v1/traces", async (HttpContext c) =>
        {
            using var body = new MemoryStream();
            await c.Request.Body.CopyToAsync(body);
            received.Enqueue(body.ToArray());
            c.Response.ContentType = "application/x-protobuf";
        });
        await collector.StartAsync();
        var collectorUrl = AgenticGateway.Hosting.GatewayApp.BoundAddresses(collector)[0];

        await using var upstream = await EmulatorServer.StartAsync();
        await using (var gw = await GatewayServer.StartAsync(Yaml(upstream, $"tracing:\n  otlp_endpoint: {collectorUrl}\n  export_interval: 100ms\n  service_name: agw-test")))
        {
            using var response = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("m"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        } // disposing the host flushes the exporter

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline && !received.Any(b => Contains(b, "chat upstream-m"))) await Task.Delay(50);
        var all = received.ToArray();
        Assert.Contains(all, b => Contains(b, "chat upstream-m"));
        Assert.Contains(all, b => Contains(b, "gateway chat") && Contains(b, "agw-test") && Contains(b, "gen_ai.request.model"));
    }

    [Fact]
    public async Task Without_an_endpoint_tracing_registers_nothing_and_with_one_the_hosted_provider()
    {
        await using var upstream = await EmulatorServer.StartAsync();
        await using (var off = await GatewayServer.StartAsync(Yaml(upstream)))
            Assert.Null(off.Services.GetService<OpenTelemetry.Trace.TracerProvider>());
        await using (var on = await GatewayServer.StartAsync(Yaml(upstream, "tracing:\n  otlp_endpoint: http://127.0.0.1:9\n")))
            Assert.NotNull(on.Services.GetService<OpenTelemetry.Trace.TracerProvider>());
    }

    [Fact]
    public async Task A_sample_ratio_of_0_drops_new_traces_but_follows_a_callers_sampled_one()
    {
        var (collector, received) = await StartCollectorAsync();
        await using var _ = collector;
        var traceId = ActivityTraceId.CreateRandom();
        await using var upstream = await EmulatorServer.StartAsync();
        await using (var gw = await GatewayServer.StartAsync(Yaml(upstream, $"tracing:\n  otlp_endpoint: {GatewayAppUrl(collector)}\n  export_interval: 100ms\n  sample_ratio: 0")))
        {
            // A client outside the gateway's tracing: the provider's HttpClient instrumentation would otherwise trace this
            // test's own calls too, and send the client span's traceparent instead of the caller's.
            using var client = new HttpClient(new SocketsHttpHandler { ActivityHeadersPropagator = null }) { BaseAddress = new Uri(gw.Url) };
            using (var unsampled = await client.PostAsync("/v1/chat/completions", new StringContent(Chat.Request("m"), System.Text.Encoding.UTF8, "application/json")))
                Assert.Equal(HttpStatusCode.OK, unsampled.StatusCode);
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(Chat.Request("m"), System.Text.Encoding.UTF8, "application/json") };
            request.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom()}-01");
            using var sampled = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, sampled.StatusCode);
        } // disposing the host flushes the exporter

        var all = received.ToArray();
        var id = new byte[16];
        traceId.CopyTo(id);
        Assert.Contains(all, b => b.AsSpan().IndexOf(id) >= 0);
        Assert.Equal(1, all.Sum(b => Count(b, "gateway chat")));
    }

    [Fact]
    public async Task Spans_are_exported_over_otlp_grpc()
    {
        // A gRPC collector: HTTP/2 without TLS, TraceService/Export answered with an empty message and grpc-status 0.
        var received = new ConcurrentQueue<byte[]>();
        var receiver = WebApplication.CreateSlimBuilder();
        receiver.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0, l => l.Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http2));
        await using var collector = receiver.Build();
        collector.MapPost("/opentelemetry.proto.collector.trace.v1.TraceService/Export", async (HttpContext c) =>
        {
            using var body = new MemoryStream();
            await c.Request.Body.CopyToAsync(body);
            received.Enqueue(body.ToArray());
            c.Response.ContentType = "application/grpc";
            await c.Response.Body.WriteAsync(new byte[5]);
            c.Response.AppendTrailer("grpc-status", "0");
        });
        await collector.StartAsync();

        await using var upstream = await EmulatorServer.StartAsync();
        await using (var gw = await GatewayServer.StartAsync(Yaml(upstream, $"tracing:\n  otlp_endpoint: {GatewayAppUrl(collector)}\n  protocol: grpc\n  export_interval: 100ms\n  service_name: agw-grpc")))
        {
            using var response = await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("m"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var all = received.ToArray();
        Assert.Contains(all, b => Contains(b, "gateway chat") && Contains(b, "agw-grpc") && Contains(b, "gen_ai.request.model"));
    }

    /// <summary>An OTLP/HTTP collector on a free loopback port, keeping each export's protobuf body.</summary>
    private static async Task<(WebApplication Collector, ConcurrentQueue<byte[]> Received)> StartCollectorAsync()
    {
        var received = new ConcurrentQueue<byte[]>();
        var receiver = WebApplication.CreateSlimBuilder();
        receiver.WebHost.UseUrls("http://127.0.0.1:0");
        var collector = receiver.Build();
        collector.MapPost("/v1/traces", async (HttpContext c) =>
        {
            using var body = new MemoryStream();
            await c.Request.Body.CopyToAsync(body);
            received.Enqueue(body.ToArray());
            c.Response.ContentType = "application/x-protobuf";
        });
        await collector.StartAsync();
        return (collector, received);
    }

    private static string GatewayAppUrl(WebApplication app) => AgenticGateway.Hosting.GatewayApp.BoundAddresses(app)[0];

    private static int Count(byte[] data, string text)
    {
        var needle = System.Text.Encoding.UTF8.GetBytes(text);
        var count = 0;
        for (var rest = data.AsSpan(); rest.IndexOf(needle) is var at and >= 0; rest = rest[(at + needle.Length)..]) count++;
        return count;
    }

    private static bool Contains(byte[] data, string text) => data.AsSpan().IndexOf(System.Text.Encoding.UTF8.GetBytes(text)) >= 0;
}
