using System.Security.Claims;
using AgenticGateway.Keys;
using AgenticGateway.Mcp.Pinning;
using AgenticGateway.Pipeline;
using ModelContextProtocol.AspNetCore;
using ModelContextProtocol.Protocol;

namespace AgenticGateway.Services.Mcp;

/// <summary>
/// The MCP gateway's endpoints: <c>/mcp</c> (every server) and <c>/mcp/{server}</c> (one), each speaking Streamable
/// HTTP in both eras, negotiated per request by the SDK: the stateless 2026-07-28 protocol (server/discover, no
/// session) and, for clients that send <c>initialize</c>, the 2025-06-18/2025-11-25 session protocol; plus the legacy
/// SSE transport (<c>/sse</c> and <c>/message</c> under each) for old clients.
/// </summary>
internal static class McpEndpoints
{
    public static void AddMcpGateway(IServiceCollection services)
    {
        services.AddHttpContextAccessor();
        services.AddSingleton<IToolPinStore, AgenticGateway.Mcp.ToolPinStore>();
        services.AddSingleton(sp => new ToolPins(sp.GetRequiredService<IToolPinStore>(), sp.GetRequiredService<Runtime.RuntimeHolder>().Configured.Mcp.ApproveNewTools,
            sp.GetRequiredService<ILogger<ToolPins>>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<McpGateway>();
        services.AddHostedService(sp => sp.GetRequiredService<McpGateway>());
        services.AddSingleton<McpCallGuard>();
        services.AddSingleton(sp => new McpGuardrails(sp.GetService<Pipeline.IContentGuardrails>()));
        services.AddSingleton<McpMetrics>();
        services.AddSingleton<McpHandlers>();
        services.AddSingleton<McpOAuthExchange>();
        services.AddMcpServer(o =>
            {
                o.ServerInfo = new Implementation { Name = "agentic-gateway", Version = Telemetry.TelemetryNames.Version };
                o.ServerInstructions = "Tools of several MCP servers behind Agentic Gateway; each tool's name starts with its server's.";
            })
            .WithHttpTransport(t =>
            {
                // Stateless for 2026-07-28 clients (any replica serves them), sessions for those that initialize.
                t.SessionMode = HttpServerSessionMode.StatefulForInitializeClients;
#pragma warning disable MCP9004 // The legacy SSE transport is deprecated; old clients still use it.
                t.EnableLegacySse = true;
#pragma warning restore MCP9004
#pragma warning disable MCPEXP002 // The session's end is where the sandbox kept for it ends (there is no other hook).
                t.RunSessionHandler = RunSessionAsync;
#pragma warning restore MCPEXP002
            })
            .WithListToolsHandler((r, ct) => r.Services!.GetRequiredService<McpHandlers>().ListToolsAsync(r, ct))
            .WithCallToolHandler((r, ct) => r.Services!.GetRequiredService<McpHandlers>().CallToolAsync(r, ct))
            .WithListPromptsHandler((r, ct) => r.Services!.GetRequiredService<McpHandlers>().ListPromptsAsync(r, ct))
            .WithGetPromptHandler((r, ct) => r.Services!.GetRequiredService<McpHandlers>().GetPromptAsync(r, ct))
            .WithListResourcesHandler((r, ct) => r.Services!.GetRequiredService<McpHandlers>().ListResourcesAsync(r, ct))
            .WithReadResourceHandler((r, ct) => r.Services!.GetRequiredService<McpHandlers>().ReadResourceAsync(r, ct));
    }

    /// <summary>A session (initialize clients, legacy SSE) runs until it ends; then the sandbox kept for it ends too.</summary>
    private static async Task RunSessionAsync(HttpContext context, ModelContextProtocol.Server.McpServer server, CancellationToken ct)
    {
        // Read now: the session outlives the request that started it.
        var caller = context.Features.Get<Caller>();
        var sandboxes = context.RequestServices.GetService<SandboxToolServer>();
        try
        {
            await server.RunAsync(ct);
        }
        finally
        {
            if (caller is not null && server.SessionId is { } session && sandboxes is not null)
            {
                try { await sandboxes.EndSessionAsync(McpRequestIdentity.OwnerOf(caller), session); }
                catch (Exception ex) when (ex is not OutOfMemoryException) { /* the sandbox ends by its own timeout */ }
            }
        }
    }

    public static void Map(WebApplication app)
    {
        app.MapMcp("/mcp").Gateway(GatewayRoute.Mcp).Add(WithIdentity);
        app.MapMcp("/mcp/{server}").Gateway(GatewayRoute.Mcp).Add(WithIdentity);
        McpAdminEndpoints.Map(app);
        McpOAuthMetadata.Map(app);
    }

    /// <summary>
    /// Wraps each MCP endpoint (only those: no other route pays for it) so the SDK finds the caller where it reads it,
    /// HttpContext.User, once the pipeline has authenticated the request (AuthenticationStep).
    /// </summary>
    private static void WithIdentity(EndpointBuilder endpoint)
    {
        var inner = endpoint.RequestDelegate!;
        endpoint.RequestDelegate = context =>
        {
            if (context.Features.Get<Caller>() is { } caller)
            {
                var server = context.GetRouteValue("server") as string;
                // /mcp/{server} of a server that is not configured: a 404, not an empty server.
                if (server is not null && context.RequestServices.GetRequiredService<McpGateway>().Federation.Server(server) is null)
                    return PipelineErrors.WriteAsync(context, new OpenAi.ApiError(404, $"No MCP server '{server}' is configured here.", "invalid_request_error", "mcp_server_not_found"));
                var identity = new McpRequestIdentity(caller, server, UpstreamHeaders(context.Request));
                // The caller's JWT, for the servers whose tokens are exchanged for it; it is not among the headers above.
                context.User = McpOAuthSubject.Of(context) is { } subject ? new ClaimsPrincipal([identity, subject]) : new ClaimsPrincipal(identity);
            }
            return inner(context);
        };
    }

    /// <summary>
    /// The request headers an upstream could be given (each server's allow list picks from these): none that carries
    /// the gateway credential the caller presented, whatever its name.
    /// </summary>
    private static List<KeyValuePair<string, string>> UpstreamHeaders(HttpRequest request)
    {
        var presented = ClientAuth.PresentedKey(request);
        var result = new List<KeyValuePair<string, string>>();
        foreach (var (name, values) in request.Headers)
        {
            if (name.Equals("x-litellm-api-key", StringComparison.OrdinalIgnoreCase)) continue;
            var value = values.ToString();
            if (presented is { Length: > 0 } && value.Contains(presented, StringComparison.Ordinal)) continue;
            result.Add(new(name, value));
        }
        return result;
    }
}
