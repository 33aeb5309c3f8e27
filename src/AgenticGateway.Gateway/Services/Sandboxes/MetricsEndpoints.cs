using System.Buffers;
using System.Globalization;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Sandboxes.Usage;

namespace AgenticGateway.Services.Sandboxes;

/// <summary>
/// <c>GET /v1/sandboxes/{id}/metrics</c>: the sandbox's CPU, memory and disk samples (every 5 s, the last 15 minutes;
/// <see cref="UsageSampler"/>), optionally from <c>start</c> to <c>end</c> (Unix seconds). Running or paused, the
/// caller's only: another key's sandbox is a 404.
/// </summary>
internal static class MetricsEndpoints
{
    public static void Map(IEndpointRouteBuilder app, SandboxHttp http) =>
        app.MapGet("/v1/sandboxes/{id}/metrics", (HttpContext c, string id) => MetricsAsync(c, http, id)).WithSummary("A sandbox's CPU, memory and disk samples (every 5 s, the last 15 minutes)");

    private static async Task MetricsAsync(HttpContext context, SandboxHttp http, string id)
    {
        var owner = await http.OwnerAsync(context);
        if (owner is null) return;
        var (from, to, error) = Interval(context);
        if (error is not null) { await PipelineErrors.WriteAsync(context, error); return; }
        if (http.Manager.Find(owner, id) is null && http.Manager.FindPaused(owner, id) is null)
        {
            await PipelineErrors.WriteAsync(context, new ApiError(404, $"No sandbox '{SandboxHttp.Truncate(id)}' (it may have expired or been deleted).", "invalid_request_error", "sandbox_not_found", "id"));
            return;
        }
        var samples = ArrayPool<UsageSample>.Shared.Rent(UsageSampler.Capacity);
        try
        {
            var count = http.Manager.Usage.Samples(id)?.CopyTo(samples, from, to) ?? 0;
            await SandboxHttp.JsonAsync(context.Response, 200, w =>
            {
                w.WriteStartObject();
                w.WriteString("object", "list");
                w.WriteString("sandbox_id", id);
                w.WriteNumber("interval_seconds", UsageSampler.Interval.TotalSeconds);
                w.WriteStartArray("data");
                for (var i = 0; i < count; i++)
                {
                    var s = samples[i];
                    w.WriteStartObject();
                    w.WriteString("timestamp", s.Timestamp);
                    w.WriteNumber("cpu_count", s.CpuCount);
                    w.WriteNumber("cpu_used_pct", s.CpuUsedPct);
                    w.WriteNumber("mem_used", s.MemUsed);
                    w.WriteNumber("mem_total", s.MemTotal);
                    w.WriteNumber("mem_cache", s.MemCache);
                    w.WriteNumber("disk_used", s.DiskUsed);
                    w.WriteNumber("disk_total", s.DiskTotal);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            });
        }
        finally
        {
            ArrayPool<UsageSample>.Shared.Return(samples);
        }
    }

    /// <summary>The optional <c>start</c> and <c>end</c> (Unix seconds, as E2B's metrics take them) as a range of Unix milliseconds.</summary>
    public static (long FromMs, long ToMs, ApiError? Error) Interval(HttpContext c)
    {
        long from = long.MinValue, to = long.MaxValue;
        if (SandboxHttp.Query(c, "start") is { } start)
        {
            if (!TrySeconds(start, out var s)) return (0, 0, ApiError.BadRequest("start must be a Unix time in seconds (a non-negative integer).", "start"));
            from = s * 1000;
        }
        if (SandboxHttp.Query(c, "end") is { } end)
        {
            if (!TrySeconds(end, out var e)) return (0, 0, ApiError.BadRequest("end must be a Unix time in seconds (a non-negative integer).", "end"));
            // The whole second: a sample at 12:00:05.400 is in an interval that ends at 12:00:05.
            to = e * 1000 + 999;
        }
        if (from > to) return (0, 0, ApiError.BadRequest("start must not be after end.", "start"));
        return (from, to, null);

        // Beyond year 9999 nothing is sampled; refused rather than overflowing the milliseconds.
        static bool TrySeconds(string s, out long seconds) =>
            long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out seconds) && seconds <= 253_402_300_799;
    }
}
