using System.Diagnostics;
using System.Reflection;
using AgenticGateway.Pipeline;
using AgenticGateway.Runtime;

namespace AgenticGateway.Services.Status;

/// <summary>
/// /health, /health/live and /health/ready (with LiteLLM's spellings too). /health answers everyone with the status;
/// its details (deployments, the config path, the Redis endpoint) go only to the admin (master key or admin JWT) once
/// authentication is on. The probes stay open.
/// </summary>
internal static class HealthEndpoints
{
    private static readonly long Started = Stopwatch.GetTimestamp();
    public static string Version => Telemetry.TelemetryNames.Version;

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/health", (HttpContext context, RuntimeHolder runtimes, Spend.SpendWriter spend, IServiceProvider services) =>
        {
            var runtime = runtimes.Current;
            var report = Report(runtime, services.GetRequiredService<TimeProvider>()) with { SpendQueue = spend.Pending };
            // Redis being down degrades the gateway (limits are per node until it returns) but does not stop it.
            if (services.GetService<Limits.RedisConnection>() is { } redis)
            {
                var mode = redis.IsUp ? "shared" : redis.FailOpen ? "local (fail-open)" : "refusing limited requests (fail-closed)";
                report = report with { Redis = new StoreHealth(redis.IsUp ? "up" : "down", redis.Endpoint, mode) };
                if (!redis.IsUp && report.Status == "healthy") report = report with { Status = "degraded" };
            }
            // Load balancers call this without a key: they get the status, and nothing an attacker could map the deployment with.
            if (Pipeline.ClientAuth.IsOn(runtime) && context.Features.Get<Keys.Caller>() is not { IsAdmin: true })
                return Results.Json(new SimpleStatus(report.Status), GatewayJsonContext.Default.SimpleStatus);
            return Results.Json(report, GatewayJsonContext.Default.HealthReport);
        }).Gateway(GatewayRoute.Status);
        foreach (var path in new[] { "/health/live", "/health/liveliness", "/health/liveness" })
            app.MapGet(path, () => Results.Json(new SimpleStatus("alive"), GatewayJsonContext.Default.SimpleStatus)).Gateway(GatewayRoute.Public);
        foreach (var path in new[] { "/health/ready", "/health/readiness" })
        {
            app.MapGet(path, (IHostApplicationLifetime lifetime) => lifetime.ApplicationStopping.IsCancellationRequested
                ? Results.Json(new SimpleStatus("draining"), GatewayJsonContext.Default.SimpleStatus, statusCode: 503)
                : Results.Json(new SimpleStatus("ready"), GatewayJsonContext.Default.SimpleStatus)).Gateway(GatewayRoute.Public);
        }
    }

    /// <param name="time">The gateway's clock, the one cooldowns are set by.</param>
    public static HealthReport Report(GatewayRuntime runtime, TimeProvider time)
    {
        var now = time.GetUtcNow().UtcTicks;
        var deployments = runtime.AllDeployments.Select(d => new DeploymentHealth(
            d.Id, d.GroupName, d.ProviderName,
            d.State.IsCoolingDown(now) ? "cooldown" : d.State.IsHealthy ? "healthy" : "half_open",
            d.State.InFlight,
            double.IsNaN(d.State.LatencySeconds) ? null : Math.Round(d.State.LatencySeconds * 1000, 2))).ToList();
        var providers = deployments.GroupBy(d => d.Provider).Select(g => new ProviderHealth(
            g.Key,
            g.Any(d => d.State != "cooldown"),
            g.Where(d => d.LatencyMs is not null).Select(d => d.LatencyMs).DefaultIfEmpty(null).Average() is { } avg ? Math.Round(avg, 2) : null)).ToList();
        var status = providers.All(p => p.Healthy) ? "healthy" : providers.Any(p => p.Healthy) ? "degraded" : "unhealthy";
        return new HealthReport(status, Version, (long)Stopwatch.GetElapsedTime(Started).TotalSeconds, providers, deployments, runtime.Options.Source);
    }
}
