using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Runtime;
using AgenticGateway.Observability;

namespace AgenticGateway.Services.Status;

/// <summary>
/// GET /metrics on the API's listener, unless server.metrics_urls gives it a listener of its own (then the API has no
/// /metrics). With server.metrics_auth (LiteLLM: require_auth_for_metrics_endpoint) and authentication on, only the
/// admin may scrape it: the master key or an admin JWT, sent as a bearer token.
/// </summary>
internal static class MetricsEndpoint
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    public static void Map(WebApplication app)
    {
        var exporter = app.Services.GetRequiredService<PrometheusExporter>();
        var runtimes = app.Services.GetRequiredService<RuntimeHolder>();
        app.MapGet("/metrics", async (HttpContext context) =>
        {
            var runtime = runtimes.Current;
            if (runtime.Options.Server.MetricsAuth && ClientAuth.IsOn(runtime) && context.Features.Get<Keys.Caller>() is not { IsAdmin: true })
            {
                // Credentials that did not authenticate say why; valid ones that are not the admin's are refused.
                var error = context.Features.Get<AuthenticationFailure>()?.Error
                    ?? new ApiError(403, "Only the master key (or an admin JWT) may read /metrics.", "permission_error", "not_admin");
                await PipelineErrors.WriteAsync(context, error);
                return;
            }
            context.Response.ContentType = ContentType;
            await context.Response.WriteAsync(exporter.Render(), context.RequestAborted);
        }).WithSummary("Prometheus metrics").Gateway(GatewayRoute.Status);
    }
}
