using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using AgenticGateway.Configuration;
using AgenticGateway.Observability;
using AgenticGateway.Tests.Deploy;
using AgenticGateway.Tests.Support;
using OpenTelemetry.Metrics;
using Microsoft.AspNetCore.Http;
using Xunit.Abstractions;

namespace AgenticGateway.Tests.ExpositionDiff;

/// <summary>
/// One gateway, three exporters over the same measurements: ours (/metrics), OpenTelemetry's Prometheus exporter
/// (/metrics-otel) and prometheus-net's Meter adapter (/metrics-pnet), each given the same histogram buckets and our
/// scrape-time gauges as observable gauges. Each exposition is checked as DeployedGatewayTests checks ours: every metric,
/// label and label value the dashboards and alert rules ask for must be there. The report is the test's output.
/// </summary>
public sealed partial class ExpositionDiffTests(ITestOutputHelper output)
{
    private const string Master = "sk-exposition-diff";
    private static readonly double[] SecondsBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
    private static readonly string[] Meters = [GatewayMetrics.MeterName, "Microsoft.AspNetCore.Hosting", GaugeMeter];
    private const string GaugeMeter = "AgenticGateway.ScrapeGauges";

    [Fact]
    public async Task Compare_the_expositions_against_the_dashboards_and_alerts()
    {
        var redis = await RedisInstance.SharedAsync();
        var yaml = $"""
            master_key: {Master}
            models:
              - {"{"}name: gpt-4o, provider: mock{"}"}
              - {"{"}name: flaky, provider: mock, id: flaky-a, mock: {"{"}fault: "status=500"{"}"}{"}"}
              - {"{"}name: flaky, provider: mock, id: flaky-b, mock: {"{"}fault: "status=500"{"}"}{"}"}
            router:
              num_retries: 1
              retry_backoff: 0ms
              fallbacks: {"{"}flaky: [gpt-4o]{"}"}
            sandboxes: {"{"}pools: {"{"}python: {"{"}min_ready: 1, max_total: 4{"}"}{"}"}{"}"}
            """;
        var registry = Prometheus.Metrics.NewCustomRegistry();
        using var adapter = Prometheus.MeterAdapter.StartListening(new Prometheus.MeterAdapterOptions
        {
            // Registry alone is ignored in 8.2.1 (the adapter then writes to the default registry): name the factory.
            MetricFactory = Prometheus.Metrics.WithCustomRegistry(registry),
            InstrumentFilterPredicate = i => Meters.Contains(i.Meter.Name),
            ResolveHistogramBuckets = _ => SecondsBuckets,
        });
        using var gaugeMeter = new Meter(GaugeMeter);
        PrometheusExporter? ours = null;
        await using var gateway = await GatewayServer.StartAsync(yaml, storage: s => s with { RedisUrl = new Secret("redis://" + redis.Endpoint) },
            services: s => s.AddOpenTelemetry().WithMetrics(m => m
                .AddMeter(Meters)
                .AddView(i => i is Histogram<double> ? new ExplicitBucketHistogramConfiguration { Boundaries = SecondsBuckets } : null)
                .AddPrometheusExporter()),
            routes: app =>
            {
                ours = app.Services.GetRequiredService<PrometheusExporter>();
                app.MapPrometheusScrapingEndpoint("/metrics-otel");
                app.MapGet("/metrics-pnet", async (HttpContext c) =>
                {
                    c.Response.ContentType = "text/plain; version=0.0.4";
                    await registry.CollectAndExportAsTextAsync(c.Response.Body, c.RequestAborted);
                });
            });
        ObservableGauges(gaugeMeter, ours!);
        // prometheus-net's adapter only starts listening at its first scrape: scrape once before the traffic.
        await gateway.Client.GetStringAsync("/metrics-pnet");

        // The same traffic as DeployedGatewayTests: success, a stream, a retry and a fallback, a budget refusal, sandboxes.
        using (var ok = await gateway.ChatAsync(Master)) Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        using (var stream = await gateway.ChatAsync(Master, stream: true)) await stream.Content.ReadAsStringAsync();
        using (var fellBack = await gateway.ChatAsync(Master, model: "flaky")) Assert.Equal(HttpStatusCode.OK, fellBack.StatusCode);
        var poor = await gateway.GenerateKeyAsync("""{"max_budget": 0.000000001}""", Master);
        using (var first = await gateway.ChatAsync(poor)) Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        using (var refused = await gateway.ChatAsync(poor)) Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!(await gateway.Client.GetStringAsync("/metrics")).Contains("sandbox_pool_ready{runtime=\"python\"} 1", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
            await Task.Delay(100);
        var (created, body) = await gateway.AdminAsync("/v1/sandboxes", """{"runtime":"python"}""", Master);
        Assert.Equal(HttpStatusCode.Created, created);
        var (createdCold, bodyCold) = await gateway.AdminAsync("/v1/sandboxes", """{"runtime":"python","memory_mb":256}""", Master);
        Assert.Equal(HttpStatusCode.Created, createdCold);
        var id = body.GetProperty("id").GetString();
        await gateway.AdminAsync($"/v1/sandboxes/{id}/execute", """{"code":"1 + 1"}""", Master);
        foreach (var ended in new[] { id, bodyCold.GetProperty("id").GetString() }) await gateway.AdminAsync($"/v1/sandboxes/{ended}", null, Master, HttpMethod.Delete);

        var queries = DeployFiles.DashboardExpressions().Concat(DeployFiles.TemplateQueries()).Concat(DeployFiles.AlertExpressions()).ToList();
        var report = new StringBuilder();
        var expositions = new List<(string Name, Exposition Exposition, string Text)>();
        foreach (var (name, path) in new[] { ("ours", "/metrics"), ("OpenTelemetry.Exporter.Prometheus.AspNetCore 1.20.1-beta.1", "/metrics-otel"), ("prometheus-net.AspNetCore 8.2.1", "/metrics-pnet") })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Authorization = new("Bearer", Master);
            using var response = await gateway.Client.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            expositions.Add((name, Exposition.Parse(text), text));
        }
        var reference = expositions[0].Exposition;
        foreach (var (name, exposition, text) in expositions)
        {
            var problems = Check(exposition, queries);
            report.AppendLine($"== {name}: {exposition.Labels.Count} sample names, {text.Length} bytes, {problems.Count} dashboard/alert problems");
            foreach (var p in problems.Take(40)) report.AppendLine("   " + p);
            if (ReferenceEquals(exposition, reference)) continue;
            var missing = reference.Labels.Keys.Where(k => !exposition.Labels.ContainsKey(k)).Order().ToList();
            report.AppendLine($"   sample names of ours missing here ({missing.Count}): {string.Join(", ", missing)}");
            var extra = exposition.Labels.Keys.Where(k => !reference.Labels.ContainsKey(k)).Order().ToList();
            report.AppendLine($"   sample names only here ({extra.Count}): {string.Join(", ", extra.Take(30))}{(extra.Count > 30 ? ", ..." : "")}");
            var common = reference.Labels.Keys.Where(exposition.Labels.ContainsKey);
            foreach (var k in common.Where(k => !reference.Labels[k].SetEquals(exposition.Labels[k])).Order())
                report.AppendLine($"   labels of {k}: ours [{string.Join(",", reference.Labels[k].Order())}], here [{string.Join(",", exposition.Labels[k].Order())}]");
            var buckets = exposition.Values.Where(v => v.Label == "le").Select(v => v.Value).Distinct().Order().ToList();
            report.AppendLine($"   le values: {string.Join(" ", buckets)}");
        }
        output.WriteLine(report.ToString());
        var results = Directory.CreateDirectory(Path.Combine(DeployFiles.Root, "bench", "results")).FullName;   // git-ignored: absent in a fresh clone
        File.WriteAllText(Path.Combine(results, "exposition-diff.txt"), report.ToString()
            + string.Concat(expositions.Select(e => $"\n\n######## {e.Name}\n{e.Text}")));
    }

    /// <summary>Our scrape-time gauges (spend queue, Redis, deployments, sandboxes) as observable gauges, read from our own exposition.</summary>
    private static void ObservableGauges(Meter meter, PrometheusExporter ours)
    {
        foreach (var name in new[] { "gateway_spend_queue_depth", "gateway_redis_up", "llm_deployment_state", "llm_deployment_in_flight", "sandbox_active", "sandbox_pool_ready" })
        {
            meter.CreateObservableGauge(name, () => Exposition.Samples(ours.Render(), name)
                .Select(s => new Measurement<double>(s.Value, s.Labels.Select(l => new KeyValuePair<string, object?>(l.Key, l.Value)).ToArray())));
        }
    }

    private static List<string> Check(Exposition exported, List<string> queries)
    {
        var problems = new List<string>();
        foreach (var expression in queries)
        {
            var refs = PromQlReferences.Of(expression);
            foreach (var metric in refs.Metrics.Where(m => m != "up" && !exported.Labels.ContainsKey(m)))
                problems.Add($"{metric} is not exported ({expression})");
            var present = refs.Metrics.Where(exported.Labels.ContainsKey).ToList();
            if (present.Count == 0) continue;
            foreach (var label in refs.Labels.Where(l => l is not ("job" or "instance") && !present.Any(m => exported.Labels[m].Contains(l))))
                problems.Add($"label {label} is on none of {string.Join(", ", present)}");
            foreach (var (label, value) in refs.Equalities.Where(e => e.Label is not ("job" or "instance")))
                if (!present.Any(m => exported.Values.Contains((m, label, value)))) problems.Add($"no series of {string.Join(", ", present)} has {label}=\"{value}\"");
        }
        return problems.Distinct().ToList();
    }

    private sealed partial class Exposition
    {
        public Dictionary<string, HashSet<string>> Labels { get; } = new(StringComparer.Ordinal);
        public HashSet<(string Metric, string Label, string Value)> Values { get; } = [];

        public static Exposition Parse(string text)
        {
            var result = new Exposition();
            foreach (var (name, labels, _) in All(text))
            {
                var set = result.Labels.TryGetValue(name, out var s) ? s : result.Labels[name] = new HashSet<string>(StringComparer.Ordinal);
                foreach (var (k, v) in labels)
                {
                    set.Add(k);
                    result.Values.Add((name, k, v));
                }
            }
            return result;
        }

        public static IEnumerable<(List<(string Key, string Value)> Labels, double Value)> Samples(string text, string metric) =>
            All(text).Where(s => s.Name == metric).Select(s => (s.Labels, s.Value));

        private static IEnumerable<(string Name, List<(string Key, string Value)> Labels, double Value)> All(string text)
        {
            foreach (var line in text.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#')))
            {
                var m = Sample().Match(line);
                if (!m.Success) continue;
                var labels = Label().Matches(m.Groups["labels"].Value).Select(l => (l.Groups["k"].Value, l.Groups["v"].Value)).ToList();
                yield return (m.Groups["name"].Value, labels, double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture));
            }
        }

        [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})? (?<value>\S+)( \S+)?$")]
        private static partial Regex Sample();

        [GeneratedRegex(@"(?<k>[a-zA-Z_][a-zA-Z0-9_]*)=""(?<v>(?:[^""\\]|\\.)*)""")]
        private static partial Regex Label();
    }
}
