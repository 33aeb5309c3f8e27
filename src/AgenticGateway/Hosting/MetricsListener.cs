using AgenticGateway.Observability;
using AgenticGateway.Services.Status;
namespace AgenticGateway.Hosting;

/// <summary>
/// /metrics on a listener of its own (server.metrics_urls, such as http://127.0.0.1:9090), like Traefik's metrics entry
/// point: Prometheus scrapes it on an address the API's clients never reach, and it serves nothing else.
/// </summary>
internal sealed class MetricsListener(string urls, PrometheusExporter exporter, ILogger<MetricsListener> logger) : IHostedService, IAsyncDisposable
{
    private WebApplication? _app;

    /// <summary>The addresses bound (port 0 resolved), once started.</summary>
    public IReadOnlyList<string> Addresses => _app is null ? [] : Hosting.GatewayApp.BoundAddresses(_app);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder(GatewayApp.HostOptions());
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls(urls);
        builder.WebHost.ConfigureKestrel(k => k.AddServerHeader = false);
        var app = builder.Build();
        app.MapGet("/metrics", () => Results.Text(exporter.Render(), MetricsEndpoint.ContentType));
        app.MapFallback((HttpContext c) => Results.NotFound());
        await app.StartAsync(cancellationToken);
        _app = app;
        Log.MetricsListening(logger, string.Join(", ", Addresses));
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is not null) await _app.StopAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null) await _app.DisposeAsync();
    }
}
