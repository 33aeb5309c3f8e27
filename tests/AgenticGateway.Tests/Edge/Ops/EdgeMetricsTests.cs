using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using AgenticGateway.Edge;
using AgenticGateway.Edge.Observability;
using Microsoft.AspNetCore.Http;

namespace AgenticGateway.Tests.Edge.Ops;

/// <summary>
/// Traefik's Prometheus metrics (pkg/observability/metrics/prometheus.go: names, labels, buckets) on the gateway's
/// /metrics, and the edge's access-log line per request (once: a request the gateway serves keeps the gateway's line).
/// </summary>
[Trait("Category", "functional")]
public sealed class EdgeMetricsTests
{
    private const string Dynamic = """
        http:
          routers:
            whoami:
              rule: "Host(`emu.test`)"
              service: emu
          services:
            emu:
              loadBalancer:
                servers:
                  - url: "{upstream}"
        """;

    private static async Task<HttpResponseMessage> ThroughEdgeAsync(EdgeOpsServer server, string path = "/v1/models")
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Host = "emu.test";
        return await server.Client.SendAsync(request);
    }

    private static async Task<string> MetricsAsync(EdgeOpsServer server)
    {
        var response = await server.Client.SendAsync(server.Admin(HttpMethod.Get, "/metrics"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }

    private static double Sample(string text, string series)
    {
        var line = text.Split('\n').SingleOrDefault(l => l.StartsWith(series + " ", StringComparison.Ordinal));
        Assert.True(line is not null, $"no sample {series} in:\n{string.Join('\n', text.Split('\n').Where(l => l.StartsWith("traefik_", StringComparison.Ordinal)))}");
        return double.Parse(line![(series.Length + 1)..], CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task Requests_are_counted_under_Traefiks_names_and_labels()
    {
        await using var server = await EdgeOpsServer.StartAsync(Dynamic);
        for (var i = 0; i < 3; i++) Assert.Equal(HttpStatusCode.OK, (await ThroughEdgeAsync(server)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync("/health/liveliness")).StatusCode);
        var text = await MetricsAsync(server);

        Assert.Equal(3, Sample(text, "traefik_service_requests_total{code=\"200\",method=\"GET\",protocol=\"http\",service=\"emu@file\"}"));
        Assert.True(Sample(text, "traefik_entrypoint_requests_total{code=\"200\",entrypoint=\"gateway\",method=\"GET\",protocol=\"http\"}") >= 3);
        Assert.Contains("# TYPE traefik_entrypoint_requests_total counter", text);
        Assert.Contains("# TYPE traefik_service_request_duration_seconds histogram", text);
        // Traefik's default buckets (metrics.prometheus.buckets): 0.1, 0.3, 1.2, 5.
        var buckets = Regex.Matches(text, "^traefik_service_request_duration_seconds_bucket\\{code=\"200\",method=\"GET\",protocol=\"http\",service=\"emu@file\",le=\"([^\"]+)\"\\}", RegexOptions.Multiline)
            .Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(["0.1", "0.3", "1.2", "5", "+Inf"], buckets);
        Assert.Equal(3, Sample(text, "traefik_service_request_duration_seconds_count{code=\"200\",method=\"GET\",protocol=\"http\",service=\"emu@file\"}"));
        // The gateway's own services are counted too (the health check went to gateway@internal through the default router).
        Assert.Equal(1, Sample(text, "traefik_service_requests_total{code=\"200\",method=\"GET\",protocol=\"http\",service=\"gateway@internal\"}"));
        // Router labels are off by default, as Traefik's addRoutersLabels.
        Assert.DoesNotContain("traefik_router_requests_total", text);

        Assert.Equal(1, Sample(text, $"traefik_service_server_up{{service=\"emu@file\",url=\"{server.Upstream.Url}\"}}"));
        Assert.True(Sample(text, "traefik_config_reloads_total") >= 1);
        Assert.True(Sample(text, "traefik_config_last_reload_success") > 1_700_000_000);
    }

    [Fact]
    public async Task Router_labels_and_buckets_follow_the_static_configuration()
    {
        await using var server = await EdgeOpsServer.StartAsync(Dynamic, new PrometheusConfig(AddEntryPointsLabels: false, AddRoutersLabels: true, AddServicesLabels: true, Buckets: [0.5, 2]));
        Assert.Equal(HttpStatusCode.OK, (await ThroughEdgeAsync(server)).StatusCode);
        var text = await MetricsAsync(server);
        Assert.Equal(1, Sample(text, "traefik_router_requests_total{code=\"200\",method=\"GET\",protocol=\"http\",router=\"whoami@file\",service=\"emu@file\"}"));
        Assert.Equal(1, Sample(text, "traefik_router_request_duration_seconds_bucket{code=\"200\",method=\"GET\",protocol=\"http\",router=\"whoami@file\",service=\"emu@file\",le=\"2\"}"));
        Assert.DoesNotContain("traefik_entrypoint_requests_total", text);
    }

    [Fact]
    public async Task Each_edge_request_gets_one_access_line_and_the_gateways_own_keep_theirs()
    {
        await using var server = await EdgeOpsServer.StartAsync(Dynamic);
        Assert.Equal(HttpStatusCode.OK, (await ThroughEdgeAsync(server, "/v1/models?probe=1")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync("/health/liveliness")).StatusCode);
        await Task.Delay(100);
        var access = server.Logs.Lines.Where(l => l.Category == EdgeTelemetry.AccessLogCategory).Select(l => l.Message).ToList();
        var edgeLines = access.FindAll(l => l.StartsWith("GET /v1/models 200", StringComparison.Ordinal));
        var edge = Assert.Single(edgeLines);
        Assert.Contains("entrypoint=gateway router=whoami@file service=emu@file", edge);
        Assert.Contains($"server={server.Upstream.Url}", edge);
        Assert.Contains("client_ip=127.0.0.1", edge);
        Assert.Matches("duration_ms=[0-9.]+$", edge);
        // The gateway's own route: its own access line only (the gateway's shape, with a request id), not a second one.
        var health = access.Where(l => l.StartsWith("GET /health/liveliness", StringComparison.Ordinal)).ToList();
        Assert.Single(health);
        Assert.Contains("request_id=", health[0]);
    }

    [Theory]
    [InlineData("Upgrade", "websocket", "websocket")]
    [InlineData("Accept", "text/event-stream", "sse")]
    [InlineData("Content-Type", "application/grpc-web+proto", "grpc-web")]
    [InlineData("Content-Type", "application/grpc", "grpc")]
    [InlineData("Accept", "application/json", "http")]
    public void The_protocol_label_is_Traefiks(string header, string value, string protocol)
    {
        var context = new DefaultHttpContext();
        context.Request.Headers[header] = value;
        if (header == "Upgrade") context.Request.Headers.Connection = "keep-alive, Upgrade";
        Assert.Equal(protocol, EdgeTelemetry.Protocol(context.Request.Headers));
    }

    [Fact]
    public void Unknown_methods_are_one_label()
    {
        Assert.Equal("PATCH", EdgeTelemetry.Method("PATCH"));
        Assert.Equal("EXTENSION_METHOD", EdgeTelemetry.Method("PROPFIND"));
    }
}
