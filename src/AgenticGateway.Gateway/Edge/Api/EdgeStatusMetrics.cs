using AgenticGateway.Edge.Observability;
using AgenticGateway.Edge.Runtime;
using AgenticGateway.Observability;

namespace AgenticGateway.Edge.Api;

/// <summary>
/// Traefik's state gauges, computed when /metrics is scraped from the current snapshot: <c>traefik_service_server_up</c>
/// (1 while a load balancer's server passes its health checks, 0 while it is out of rotation) and
/// <c>traefik_config_last_reload_success</c> (when the last configuration was applied, Unix seconds). Each snapshot
/// swap counts as a reload (<c>traefik_config_reloads_total</c>), the first one included, as in Traefik.
/// </summary>
internal static class EdgeStatusMetrics
{
    public static void Register(PrometheusExporter exporter, EdgeHolder holder, EdgeTelemetry telemetry, TimeProvider time)
    {
        holder.Swapped += _ => telemetry.ConfigApplied(time.GetUtcNow());
        exporter.AddGauges(() => Samples(holder, telemetry));
    }

    internal static List<PrometheusExporter.GaugeSample> Samples(EdgeHolder holder, EdgeTelemetry telemetry)
    {
        var samples = new List<PrometheusExporter.GaugeSample>
        {
            new("traefik_config_last_reload_success", "Last config reload success", telemetry.LastReloadUnixSeconds, []),
        };
        EdgeSnapshot snapshot;
        try { snapshot = holder.Current; }
        catch (InvalidOperationException) { return samples; } // scraped before the edge's first build
        foreach (var (name, service) in snapshot.Services.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            foreach (var (url, status) in service.ServerStatus)
                samples.Add(new("traefik_service_server_up", "service server is up, described by gauge value of 0 or 1.", status == "UP" ? 1 : 0, [("service", name), ("url", url)]));
        }
        return samples;
    }
}
