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
    public static string Version => Telemetry.TelemetryNames.Version;

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/health", (HttpContext context, RuntimeHolder runtimes, Spend.SpendWriter spend, IServiceProvider services) =>
        {
            var runtime = runtimes.Current;
            var report = Report(runtime, services.GetRequiredService<TimeProvider>(), services.GetRequiredService<GatewayStart>()) with { SpendQueue = spend.Pending };
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
        app.MapGet("/health/live", () => Results.Json(new SimpleStatus("alive"), GatewayJsonContext.Default.SimpleStatus)).Gateway(GatewayRoute.Public);
        // LiteLLM's spellings answer as LiteLLM does: the JSON string "I'm alive!", unauthenticated.
        foreach (var path in new[] { "/health/liveliness", "/health/liveness" })
            app.MapGet(path, () => Results.Text("\"I'm alive!\"", "application/json")).Gateway(GatewayRoute.Public);
        app.MapGet("/health/ready", (IHostApplicationLifetime lifetime) => lifetime.ApplicationStopping.IsCancellationRequested
            ? Results.Json(new SimpleStatus("draining"), GatewayJsonContext.Default.SimpleStatus, statusCode: 503)
            : Results.Json(new SimpleStatus("ready"), GatewayJsonContext.Default.SimpleStatus)).Gateway(GatewayRoute.Public);
        // LiteLLM's public readiness probe: {"status": "healthy"}, 503 when the database does not answer (or, ours,
        // while draining). Its details (database, cache, version) need a key, at /health/readiness/details.
        app.MapGet("/health/readiness", async (IHostApplicationLifetime lifetime, Storage.IDatabase db, CancellationToken ct) =>
        {
            var connected = await DatabaseAnswersAsync(db, ct);
            var ready = connected && !lifetime.ApplicationStopping.IsCancellationRequested;
            return Results.Json(new SimpleStatus(ready ? "healthy" : "unhealthy"), GatewayJsonContext.Default.SimpleStatus, statusCode: ready ? 200 : 503);
        }).Gateway(GatewayRoute.Public);
        app.MapGet("/health/readiness/details", async (Storage.IDatabase db, IServiceProvider services, Microsoft.Extensions.Logging.ILoggerFactory logs, CancellationToken ct) =>
        {
            var connected = await DatabaseAnswersAsync(db, ct);
            var cache = services.GetService<Limits.RedisConnection>() is null ? null : "redis";
            var logger = logs.CreateLogger("AgenticGateway");
            var level = logger.IsEnabled(LogLevel.Debug) ? "DEBUG" : logger.IsEnabled(LogLevel.Information) ? "INFO" : "WARNING";
            var details = new LiteLlmReadiness("healthy", connected ? "connected" : "disconnected", cache, Version, [], false, level, logger.IsEnabled(LogLevel.Debug));
            return Results.Json(details, GatewayJsonContext.Default.LiteLlmReadiness, statusCode: connected ? 200 : 503);
        }).Gateway(GatewayRoute.Account);
    }

    /// <summary>Whether the gateway's database answers a trivial query (it is created on first use, so this also proves it can be).</summary>
    private static async Task<bool> DatabaseAnswersAsync(Storage.IDatabase db, CancellationToken ct)
    {
        try
        {
            await using var c = await db.OpenAsync(ct);
            await using var command = c.CreateCommand();
            command.CommandText = "SELECT 1";
            await command.ExecuteScalarAsync(ct);
            return true;
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or IOException or InvalidOperationException or TimeoutException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <param name="time">The gateway's clock, the one cooldowns are set by.</param>
    /// <param name="started">When the gateway was built, which its uptime counts from.</param>
    public static HealthReport Report(GatewayRuntime runtime, TimeProvider time, GatewayStart started)
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
        return new HealthReport(status, Version, (long)Stopwatch.GetElapsedTime(started.Timestamp).TotalSeconds, providers, deployments, runtime.Options.Source);
    }
}

/// <summary>
/// When the gateway was built (a Stopwatch timestamp): /health's uptime counts from it. Taken when the host is built,
/// not on first use, so the uptime is the gateway's and not the time since someone first asked for it.
/// </summary>
internal sealed record GatewayStart(long Timestamp);
