using System.Text.Json;
using AgenticGateway.Spend;
using AgenticGateway.Observability;
using AgenticGateway.Pricing;

namespace AgenticGateway.Ui;

/// <summary>
/// The overview page's numbers: requests, errors, latency percentiles, tokens and cost, in total and per time bucket,
/// computed from the recent requests in memory.
/// </summary>
internal static class OverviewSeries
{
    public static void Write(Utf8JsonWriter w, IReadOnlyList<RequestRecord> records, DateTimeOffset from, DateTimeOffset to, int bucketCount, RecentRequests source)
    {
        var bucketSeconds = Math.Max(1, (int)Math.Ceiling((to - from).TotalSeconds / bucketCount));
        var buckets = new List<RequestRecord>[bucketCount];
        for (var i = 0; i < bucketCount; i++) buckets[i] = [];
        foreach (var r in records)
        {
            var i = (int)((r.Time - from).TotalSeconds / bucketSeconds);
            buckets[Math.Clamp(i, 0, bucketCount - 1)].Add(r);
        }

        w.WriteStartObject();
        w.WriteString("from", from);
        w.WriteString("to", to);
        w.WriteNumber("bucket_seconds", bucketSeconds);
        w.WriteNumber("recorded_total", source.Total);
        w.WriteNumber("capacity", source.Capacity);
        w.WritePropertyName("totals");
        WriteStats(w, records, null);
        w.WriteStartArray("series");
        for (var i = 0; i < bucketCount; i++) WriteStats(w, buckets[i], from.AddSeconds((double)i * bucketSeconds));
        w.WriteEndArray();
        w.WriteStartArray("by_model");
        foreach (var g in records.GroupBy(r => r.Model).OrderByDescending(g => g.Count()))
        {
            w.WriteStartObject();
            w.WriteString("model", g.Key);
            w.WritePropertyName("stats");
            WriteStats(w, g.ToList(), null);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteStats(Utf8JsonWriter w, IReadOnlyList<RequestRecord> records, DateTimeOffset? at)
    {
        w.WriteStartObject();
        if (at is { } t) w.WriteString("t", t);
        var errors = records.Count(IsError);
        w.WriteNumber("requests", records.Count);
        w.WriteNumber("errors", errors);
        w.WriteNumber("error_rate", records.Count == 0 ? 0 : Math.Round((double)errors / records.Count, 4));
        var latencies = records.Select(r => r.LatencyMs).Order().ToArray();
        WritePercentile(w, "p50_ms", latencies, 0.50);
        WritePercentile(w, "p95_ms", latencies, 0.95);
        WritePercentile(w, "p99_ms", latencies, 0.99);
        w.WriteNumber("prompt_tokens", records.Sum(r => r.PromptTokens));
        w.WriteNumber("completion_tokens", records.Sum(r => r.CompletionTokens));
        w.WriteNumber("cost", Money.FromNanos(records.Sum(r => r.CostNanos)));
        w.WriteEndObject();
    }

    public static bool IsError(RequestRecord r) => r.Status >= 400;

    /// <summary>Nearest-rank percentile of sorted values; null when there are none.</summary>
    internal static double? Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? null : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

    private static void WritePercentile(Utf8JsonWriter w, string name, double[] sorted, double p)
    {
        if (Percentile(sorted, p) is { } v) w.WriteNumber(name, Math.Round(v, 2)); else w.WriteNull(name);
    }
}
