using System.Buffers;
using System.Text.Json;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Sandboxes.Usage;
using AgenticGateway.Services.Sandboxes;

namespace AgenticGateway.Services.E2b;

/// <summary>
/// E2B's metrics (openapi.yml <c>SandboxMetric</c>): a sandbox's samples, taken every 5 s by the sandboxes'
/// <see cref="UsageSampler"/> and kept 15 minutes, filtered by <c>start</c>/<c>end</c> (Unix seconds, both included);
/// and the latest sample of several sandboxes at once. A paused sandbox answers the samples it had (none are added
/// while it is paused); another owner's sandbox is a 404, and is left out of the many-sandboxes answer.
/// </summary>
internal static class E2bMetrics
{
    private const int MaxSandboxes = 100;

    public static async Task SandboxAsync(HttpContext c, SandboxHttp http, string id)
    {
        var owner = await http.OwnerAsync(c);
        if (owner is null) return;
        var (from, to, error) = MetricsEndpoints.Interval(c);
        if (error is not null) { await PipelineErrors.WriteAsync(c, error); return; }
        if (http.Manager.Find(owner, id) is null && http.Manager.FindPaused(owner, id) is null)
        {
            await PipelineErrors.WriteAsync(c, new ApiError(404, $"Sandbox {SandboxHttp.Truncate(id)} not found (it may have timed out or been killed).", "invalid_request_error", "sandbox_not_found"));
            return;
        }
        var samples = ArrayPool<UsageSample>.Shared.Rent(UsageSampler.Capacity);
        try
        {
            var count = http.Manager.Usage.Samples(id)?.CopyTo(samples, from, to) ?? 0;
            await SandboxHttp.JsonAsync(c.Response, 200, w =>
            {
                w.WriteStartArray();
                for (var i = 0; i < count; i++) Write(w, samples[i]);
                w.WriteEndArray();
            });
        }
        finally
        {
            ArrayPool<UsageSample>.Shared.Return(samples);
        }
    }

    /// <summary><c>?sandbox_ids=a,b</c>: each of the caller's sandboxes with a sample, by id, with its latest.</summary>
    public static async Task ManyAsync(HttpContext c, SandboxHttp http)
    {
        var owner = await http.OwnerAsync(c);
        if (owner is null) return;
        var ids = c.Request.Query["sandbox_ids"].SelectMany(s => (s ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Distinct(StringComparer.Ordinal).ToList();
        if (ids.Count is 0 or > MaxSandboxes)
        {
            await PipelineErrors.WriteAsync(c, ApiError.BadRequest($"sandbox_ids must name 1 to {MaxSandboxes} sandboxes, comma-separated.", "sandbox_ids"));
            return;
        }
        await SandboxHttp.JsonAsync(c.Response, 200, w =>
        {
            w.WriteStartObject();
            w.WriteStartObject("sandboxes");
            foreach (var id in ids)
            {
                if (http.Manager.Find(owner, id) is null && http.Manager.FindPaused(owner, id) is null) continue;
                if (http.Manager.Usage.Samples(id) is not { } ring || !ring.TryLatest(out var latest)) continue;
                w.WritePropertyName(id);
                Write(w, latest);
            }
            w.WriteEndObject();
            w.WriteEndObject();
        });
    }

    private static void Write(Utf8JsonWriter w, in UsageSample s)
    {
        w.WriteStartObject();
        w.WriteString("timestamp", s.Timestamp);
        w.WriteNumber("timestampUnix", s.UnixMs / 1000);
        w.WriteNumber("cpuCount", s.CpuCount);
        w.WriteNumber("cpuUsedPct", s.CpuUsedPct);
        w.WriteNumber("memUsed", s.MemUsed);
        w.WriteNumber("memTotal", s.MemTotal);
        w.WriteNumber("memCache", s.MemCache);
        w.WriteNumber("diskUsed", s.DiskUsed);
        w.WriteNumber("diskTotal", s.DiskTotal);
        w.WriteEndObject();
    }
}
