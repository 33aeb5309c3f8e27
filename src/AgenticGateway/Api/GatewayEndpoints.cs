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
                .WithName(prefix + "chat").WithSummary("Create a chat completion (OpenAI format, streaming with stream: true)");
            app.MapPost(prefix + "/completions", (Func<HttpContext, Task>)(c => llm.HandleAsync(c, LlmOperation.Completions)))
                .WithName(prefix + "completions").WithSummary("Create a text completion (legacy OpenAI format)");
            app.MapPost(prefix + "/embeddings", (Func<HttpContext, Task>)(c => llm.HandleAsync(c, LlmOperation.Embeddings)))
                .WithName(prefix + "embeddings").WithSummary("Create embeddings (float or base64)");
            app.MapGet(prefix + "/models", (HttpContext c, RuntimeHolder r, ClientAuth a) => ModelsEndpoints.ListAsync(c, r, a))
                .WithName(prefix + "models").WithSummary("List the models this gateway serves");
            app.MapGet(prefix + "/models/{**id}", (HttpContext c, RuntimeHolder r, ClientAuth a, string id) => ModelsEndpoints.GetAsync(c, r, a, id))
                .WithName(prefix + "model").WithSummary("Describe one model");
        }

        // Anthropic's Messages API, for Anthropic-format clients (Claude Code, the Anthropic SDKs), on any deployment.
        app.MapPost("/v1/messages", (Func<HttpContext, Task>)(c => llm.HandleAsync(c, LlmOperation.Messages)))
            .WithName("messages").WithSummary("Create a message (Anthropic format, streaming with stream: true)");
        app.MapPost("/v1/messages/count_tokens", (Func<HttpContext, Task>)(c => llm.CountTokensAsync(c)))
            .WithName("count_tokens").WithSummary("Count the input tokens of a message request (Anthropic format)");

        HealthEndpoints.Map(app);
        Keys.KeyEndpoints.Map(app);
        Spend.SpendEndpoints.Map(app);
        Sandboxes.Api.SandboxEndpoints.Map(app);
        Ui.UiEndpoints.Map(app);
        MetricsEndpoint.Map(app);
        app.MapOpenApi("/openapi/{documentName}.json");

        app.MapFallback((HttpContext c) => ErrorWriter.WriteAsync(c.Response, Unmatched(c.Request), ErrorShapes.IsAnthropic(c.Request.Path)));
    }

    private static readonly string[] PostRoutes = ["/chat/completions", "/completions", "/embeddings", "/messages", "/messages/count_tokens"];

    /// <summary>404 for unknown paths; 405 (with Allow) for a known path used with the wrong method.</summary>
    private static ApiError Unmatched(HttpRequest request)
    {
        var path = (request.Path.Value ?? "").TrimEnd('/');
        if (path.StartsWith("/v1/", StringComparison.Ordinal)) path = path[3..];
        if (request.Method != HttpMethods.Post && PostRoutes.Contains(path, StringComparer.Ordinal))
        {
            request.HttpContext.Response.Headers.Allow = "POST";
            return new ApiError(405, $"Method {request.Method} is not allowed on {request.Path}; use POST.", "invalid_request_error", "method_not_allowed");
        }
        return new ApiError(404, $"Unknown route: {request.Method} {request.Path}", "invalid_request_error", "unknown_url");
    }
}
