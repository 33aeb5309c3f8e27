namespace AgenticGateway.Pipeline;

/// <summary>
/// What a route asks of the pipeline (<see cref="GatewayPipeline"/>), as endpoint metadata: the router it belongs to
/// (whose middlewares, in configuration order, wrap its service), who may call it, how its body is read, the error
/// shape its clients parse, and the operation it is named by in spans and the access log.
/// </summary>
internal sealed record GatewayRoute(string Router, string Operation, RouteAuth Auth, RoutePayload Payload = RoutePayload.None, bool AnthropicErrors = false)
{
    // The routers of today's configuration model (see Configuration/RouterDefinition.cs).
    public const string LlmRouter = "llm", SandboxesRouter = "sandboxes", McpRouter = "mcp", AdminRouter = "admin", InternalRouter = "internal";
    /// <summary>Operations of the E2B-compatible routes start so; their errors take E2B's <c>{code, message}</c> shape.</summary>
    public const string E2bOperationPrefix = "e2b";

    public static GatewayRoute Llm(string operation, RoutePayload payload, bool anthropic = false) => new(LlmRouter, operation, RouteAuth.Caller, payload, anthropic);
    public static readonly GatewayRoute Models = new(LlmRouter, "models", RouteAuth.Caller);
    /// <summary>Stored responses (retrieve, delete, cancel, input items) and containers: the caller's own, read in the service.</summary>
    public static readonly GatewayRoute StoredResponses = new(LlmRouter, "responses", RouteAuth.Caller);
    public static readonly GatewayRoute Sandboxes = new(SandboxesRouter, "sandboxes", RouteAuth.Caller);
    /// <summary>The MCP gateway (/mcp): JSON-RPC, read by the MCP SDK itself (so no payload step).</summary>
    public static readonly GatewayRoute Mcp = new(McpRouter, "mcp", RouteAuth.Caller);
    /// <summary>Key, team, user, spend and audit management, and the admin UI's data: the master key or an admin JWT.</summary>
    public static readonly GatewayRoute Admin = new(AdminRouter, "admin", RouteAuth.Admin);
    /// <summary>Reads a caller may make about its own key (its usage, the model catalogue).</summary>
    public static readonly GatewayRoute Account = new(AdminRouter, "account", RouteAuth.Caller);
    /// <summary>Health details, /metrics: open, with more for the admin.</summary>
    public static readonly GatewayRoute Status = new(InternalRouter, "status", RouteAuth.Optional);
    /// <summary>Probes, the admin UI's static files, the OpenAPI document: no credentials.</summary>
    public static readonly GatewayRoute Public = new(InternalRouter, "public", RouteAuth.None);
}

/// <summary>Who may call a route.</summary>
internal enum RouteAuth
{
    /// <summary>Anyone; credentials are not read.</summary>
    None,
    /// <summary>Anyone; valid credentials make a caller (the service decides what they add), invalid ones are noted.</summary>
    Optional,
    /// <summary>A caller with valid credentials (anyone while authentication is off).</summary>
    Caller,
    /// <summary>The master key or an admin JWT; refused while authentication is off.</summary>
    Admin,
}

/// <summary>The router's parser: how the body becomes the payload feature the middlewares and service read.</summary>
internal enum RoutePayload
{
    None,
    LlmChat,
    LlmCompletions,
    LlmEmbeddings,
    LlmMessages,
    /// <summary>Anthropic's count_tokens: a Messages body that is counted, not sent.</summary>
    LlmCountTokens,
    /// <summary>LiteLLM's rerank (Cohere's request shape).</summary>
    LlmRerank,
    /// <summary>OpenAI's Responses API: create.</summary>
    LlmResponses,
}

internal static class GatewayRouteExtensions
{
    /// <summary>Puts the route's endpoints on the pipeline with these requirements.</summary>
    public static TBuilder Gateway<TBuilder>(this TBuilder builder, GatewayRoute route) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(route);

    /// <summary>The LLM call a route's payload is (null for count_tokens, which calls nothing billable, and non-LLM routes).</summary>
    public static Routing.LlmOperation? Operation(this RoutePayload payload) => payload switch
    {
        RoutePayload.LlmChat => Routing.LlmOperation.ChatCompletions,
        RoutePayload.LlmCompletions => Routing.LlmOperation.Completions,
        RoutePayload.LlmEmbeddings => Routing.LlmOperation.Embeddings,
        RoutePayload.LlmMessages => Routing.LlmOperation.Messages,
        RoutePayload.LlmRerank => Routing.LlmOperation.Rerank,
        RoutePayload.LlmResponses => Routing.LlmOperation.Responses,
        _ => null,
    };

    /// <summary>The route of the request being served, or the internal default for a path no route serves.</summary>
    public static GatewayRoute Route(this HttpContext context) =>
        context.GetEndpoint()?.Metadata.GetMetadata<GatewayRoute>() ?? GatewayRoute.Public;
}
