using AgenticGateway.Observability;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Routing;
using AgenticGateway.Runtime;
using AgenticGateway.Services.Admin;
using AgenticGateway.Services.Llm;
using AgenticGateway.Services.Status;

namespace AgenticGateway.Hosting;

/// <summary>Every route the gateway serves, wired in one place.</summary>
internal static class GatewayEndpoints
{
    public static void Map(WebApplication app)
    {
        var service = app.Services.GetRequiredService<LlmService>();
        // As route handlers (not RequestDelegates), so the OpenAPI document lists them.
        var call = (Func<HttpContext, Task>)service.CallAsync;
        var countTokens = (Func<HttpContext, Task>)service.CountTokensAsync;
        // Chat completions run OpenAI's code_interpreter tool in the gateway's sandboxes (LiteLLM's interception).
        var chat = (Func<HttpContext, Task>)app.Services.GetRequiredService<Services.Responses.ChatCodeInterpreter>().CallAsync;
        // LiteLLM serves each OpenAI route with and without the /v1 prefix; so do we.
        foreach (var prefix in new[] { "/v1", "" })
        {
            app.MapPost(prefix + "/chat/completions", chat).Gateway(GatewayRoute.Llm("chat", RoutePayload.LlmChat))
                .WithName(prefix + "chat").WithSummary("Create a chat completion (OpenAI format, streaming with stream: true)");
            app.MapPost(prefix + "/completions", call).Gateway(GatewayRoute.Llm("text_completion", RoutePayload.LlmCompletions))
                .WithName(prefix + "completions").WithSummary("Create a text completion (legacy OpenAI format)");
            app.MapPost(prefix + "/embeddings", call).Gateway(GatewayRoute.Llm("embeddings", RoutePayload.LlmEmbeddings))
                .WithName(prefix + "embeddings").WithSummary("Create embeddings (float or base64)");
            app.MapGet(prefix + "/models", (HttpContext c, RuntimeHolder r) => ModelsEndpoints.ListAsync(c, r)).Gateway(GatewayRoute.Models)
                .WithName(prefix + "models").WithSummary("List the models this gateway serves");
            app.MapGet(prefix + "/models/{**id}", (HttpContext c, RuntimeHolder r, string id) => ModelsEndpoints.GetAsync(c, r, id)).Gateway(GatewayRoute.Models)
                .WithName(prefix + "model").WithSummary("Describe one model");
        }

        // LiteLLM's rerank API (Cohere's request shape) on each of LiteLLM's three paths.
        foreach (var path in new[] { "/v1/rerank", "/v2/rerank", "/rerank" })
        {
            app.MapPost(path, call).Gateway(GatewayRoute.Llm("rerank", RoutePayload.LlmRerank))
                .WithName(path).WithSummary("Rerank documents by relevance to a query (LiteLLM's /rerank, Cohere's request shape)");
        }

        // Anthropic's Messages API, for Anthropic-format clients (Claude Code, the Anthropic SDKs), on any deployment.
        app.MapPost("/v1/messages", call).Gateway(GatewayRoute.Llm("chat", RoutePayload.LlmMessages, anthropic: true))
            .WithName("messages").WithSummary("Create a message (Anthropic format, streaming with stream: true)");
        app.MapPost("/v1/messages/count_tokens", countTokens).Gateway(GatewayRoute.Llm("count_tokens", RoutePayload.LlmCountTokens, anthropic: true))
            .WithName("count_tokens").WithSummary("Count the input tokens of a message request (Anthropic format)");

        // OpenAI's Responses API (the default of the AI SDK, LangChain's useResponsesApi, the Agents SDK, Codex).
        Services.Responses.ResponsesEndpoints.Map(app);

        HealthEndpoints.Map(app);
        KeyEndpoints.Map(app);
        SpendEndpoints.Map(app);
        Caching.CacheServices.Map(app);
        Services.Models.ModelEndpoints.Map(app);
        Services.Sandboxes.SandboxEndpoints.Map(app);
        Services.E2b.E2bEndpoints.Map(app, app.Services.GetRequiredService<Sandboxes.SandboxManager>().Options.E2bHost);
        Services.Containers.ContainerEndpoints.Map(app);
        Services.Mcp.McpEndpoints.Map(app);
        Guardrails.GuardrailEndpoints.Map(app);
        Policies.PolicyEndpoints.Map(app);
        RoutingDecisionEndpoints.Map(app);
        // Providers' native APIs (/anthropic/*, /openai/*, ...) and LiteLLM's pass_through_endpoints.
        Services.Passthrough.PassthroughEndpoints.Map(app, app.Services.GetRequiredService<RuntimeHolder>().Current.Options);
        Ui.UiEndpoints.Map(app);
        // Traefik's API (/api/http/routers, ...) when the edge is configured.
        if (app.Services.GetService<Edge.Runtime.EdgeHolder>() is not null) Edge.Api.EdgeApi.Map(app);
        // With a listener of its own (server.metrics_urls), /metrics is not on the API's.
        if (app.Services.GetService<MetricsListener>() is null) MetricsEndpoint.Map(app);
        app.MapOpenApi("/openapi/{documentName}.json").Gateway(GatewayRoute.Public);

        app.MapFallback((HttpContext c) => PipelineErrors.WriteAsync(c, Unmatched(c.Request))).Gateway(GatewayRoute.Public);
    }

    private static readonly string[] PostRoutes = ["/chat/completions", "/completions", "/embeddings", "/messages", "/messages/count_tokens", "/rerank", "/v2/rerank"];

    /// <summary>404 for unknown paths; 405 (with Allow) for a known path used with the wrong method.</summary>
    private static ApiError Unmatched(HttpRequest request)
    {
        // The MCP SDK's endpoints take JSON bodies only: another content type falls through to here.
        if (Pipeline.ErrorShapes.IsJsonRpc(request.Path) && request.Method == HttpMethods.Post && !(request.ContentType ?? "").StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
            return new ApiError(415, $"POST {request.Path} takes a JSON-RPC body with Content-Type: application/json (got '{request.ContentType}').", "invalid_request_error", "unsupported_media_type");
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
