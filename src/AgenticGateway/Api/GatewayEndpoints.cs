using AgenticGateway.Health;
using AgenticGateway.Observability;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Routing;
using AgenticGateway.Runtime;

namespace AgenticGateway.Api;

/// <summary>Every route the gateway serves, wired in one place.</summary>
internal static class GatewayEndpoints
{
    public static void Map(WebApplication app)
    {
        var llm = app.Services.GetRequiredService<LlmProxyHandler>();
        // LiteLLM serves each OpenAI route with and without the /v1 prefix; so do we.
        foreach (var prefix in new[] { "/v1", "" })
        {
            app.MapPost(prefix + "/chat/completions", (Func<HttpContext, Task>)(c => llm.HandleAsync(c, LlmOperation.ChatCompletions)))
                .WithName(prefix + "chat").WithSummary("Create a chat completion (OpenAI format, streaming with stream: true)").Accepts<System.Text.Json.JsonElement>("application/json");
            app.MapPost(prefix + "/completions", (Func<HttpContext, Task>)(c => llm.HandleAsync(c, LlmOperation.Completions)))
                .WithName(prefix + "completions").WithSummary("Create a text completion (legacy OpenAI format)").Accepts<System.Text.Json.JsonElement>("application/json");
            app.MapPost(prefix + "/embeddings", (Func<HttpContext, Task>)(c => llm.HandleAsync(c, LlmOperation.Embeddings)))
                .WithName(prefix + "embeddings").WithSummary("Create embeddings (float or base64)").Accepts<System.Text.Json.JsonElement>("application/json");
            app.MapGet(prefix + "/models", (HttpContext c, RuntimeHolder r) => ModelsEndpoints.ListAsync(c, r))
                .WithName(prefix + "models").WithSummary("List the models this gateway serves");
            app.MapGet(prefix + "/models/{**id}", (HttpContext c, RuntimeHolder r, string id) => ModelsEndpoints.GetAsync(c, r, id))
                .WithName(prefix + "model").WithSummary("Describe one model");
        }

        HealthEndpoints.Map(app);
        app.MapGet("/metrics", (PrometheusExporter exporter) => Results.Text(exporter.Render(), "text/plain; version=0.0.4; charset=utf-8"))
            .WithSummary("Prometheus metrics");
        app.MapOpenApi("/openapi/{documentName}.json");

        app.MapFallback((HttpContext c) => ErrorWriter.WriteAsync(c.Response,
            new ApiError(404, $"Unknown route: {c.Request.Method} {c.Request.Path}", "invalid_request_error", "unknown_url")));
    }
}
