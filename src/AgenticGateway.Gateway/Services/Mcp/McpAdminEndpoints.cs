using System.Text.Json;
using System.Text.Json.Serialization;
using AgenticGateway.Keys;
using AgenticGateway.Mcp.Pinning;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;

namespace AgenticGateway.Services.Mcp;

/// <summary>
/// The MCP gateway's admin API: servers and their health (<c>GET /v1/mcp/server</c>, LiteLLM's path), every tool with
/// its pin (<c>GET /v1/mcp/tools/pins</c>: served, or held and why, with the held definition to read), and approval of
/// a held definition by its hash (<c>POST /v1/mcp/tools/approve</c>), recorded in the audit log (<c>/audit/logs</c>).
/// </summary>
internal static class McpAdminEndpoints
{
    public static void Map(WebApplication app)
    {
        app.MapGet("/v1/mcp/server", (Func<HttpContext, McpGateway, Task>)ServersAsync).Gateway(GatewayRoute.Admin)
            .WithName("mcp_servers").WithSummary("List the MCP servers behind /mcp and their health");
        app.MapGet("/v1/mcp/tools/pins", (Func<HttpContext, McpGateway, Task>)PinsAsync).Gateway(GatewayRoute.Admin)
            .WithName("mcp_tool_pins").WithSummary("List every MCP tool's pin: approved, or quarantined with the held definition");
        app.MapPost("/v1/mcp/tools/approve", (Func<HttpContext, McpGateway, AuditLog, Task>)ApproveAsync).Gateway(GatewayRoute.Admin)
            .WithName("mcp_tool_approve").WithSummary("Approve a quarantined MCP tool definition by its hash");
    }

    private static async Task ServersAsync(HttpContext context, McpGateway gateway)
    {
        var federation = gateway.Federation;
        await federation.ListToolsAsync(null, context.RequestAborted);
        var servers = federation.Servers.OrderBy(s => s.Name, StringComparer.Ordinal).Select(s => new McpServerView(
            s.Name, s.Config?.Transport.ToString().ToLowerInvariant() ?? "builtin", s.Config?.Url?.GetLeftPart(UriPartial.Path), s.Config?.Description,
            s.Healthy ? "healthy" : "unhealthy", s.LastError, s.Tools?.Served.Length ?? 0, s.Tools?.Held.Length ?? 0)).ToList();
        await context.Response.WriteAsJsonAsync(servers, McpAdminJson.Default.ListMcpServerView, contentType: null, context.RequestAborted);
    }

    private static async Task PinsAsync(HttpContext context, McpGateway gateway)
    {
        await gateway.Pins.EnsureLoadedAsync(context.RequestAborted);
        var pins = gateway.Pins.All.OrderBy(p => p.Server, StringComparer.Ordinal).ThenBy(p => p.Tool, StringComparer.Ordinal)
            .Select(p => new McpPinView(p.Server, p.Tool, p.Quarantined ? "quarantined" : p.ApprovedHash is null ? "pending" : "approved",
                p.ApprovedHash, p.PendingHash, p.PendingDefinition is { } d ? JsonDocument.Parse(d).RootElement : null, p.Reason, p.ApprovedBy, p.UpdatedAt)).ToList();
        await context.Response.WriteAsJsonAsync(pins, McpAdminJson.Default.ListMcpPinView, contentType: null, context.RequestAborted);
    }

    private static async Task ApproveAsync(HttpContext context, McpGateway gateway, AuditLog audit)
    {
        var (body, error) = await JsonBody.ReadObjectAsync(context.Request, 64 * 1024, context.RequestAborted);
        if (error is not null) { await PipelineErrors.WriteAsync(context, error); return; }
        string? Field(string name) => body!.Value.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        var (server, tool, hash) = (Field("server"), Field("tool"), Field("hash"));
        if (server is null || tool is null || hash is null)
        {
            await PipelineErrors.WriteAsync(context, new ApiError(400, "Give server, tool and hash (the pending_hash of GET /v1/mcp/tools/pins) as strings.", "invalid_request_error", "invalid_request") { Param = server is null ? "server" : tool is null ? "tool" : "hash" });
            return;
        }
        var caller = context.Features.Get<Caller>();
        var by = caller?.Key?.KeyAlias ?? caller?.Key?.KeyName ?? "master_key";
        var approved = await gateway.Pins.ApproveAsync(server, tool, hash, by, context.RequestAborted);
        if (approved is null)
        {
            var pin = gateway.Pins.Find(server, tool);
            await PipelineErrors.WriteAsync(context, pin is null
                ? new ApiError(404, $"No MCP tool {server}/{tool} is known.", "invalid_request_error", "not_found")
                : new ApiError(409, $"MCP tool {server}/{tool} holds no definition with hash {hash} (held now: {pin.PendingHash ?? "none"}); read GET /v1/mcp/tools/pins again.", "invalid_request_error", "hash_mismatch"));
            return;
        }
        // Who approved which definition, kept with the other admin changes (/audit/logs).
        await audit.RecordAsync(by, "mcp_tool.approve", "mcp_tool", $"{server}/{tool}", null, $$"""{"approved_hash":"{{hash}}"}""", context.RequestAborted);
        // Served from the next listing on; list now so the approval takes effect at once.
        await gateway.Federation.RefreshAsync(server, context.RequestAborted);
        await context.Response.WriteAsJsonAsync(new McpPinView(approved.Server, approved.Tool, "approved", approved.ApprovedHash, null, null, null, approved.ApprovedBy, approved.UpdatedAt),
            McpAdminJson.Default.McpPinView, contentType: null, context.RequestAborted);
    }
}

internal sealed record McpServerView(string Name, string Transport, string? Url, string? Description, string Status, string? LastError, int Tools, int ToolsHeld);

internal sealed record McpPinView(string Server, string Tool, string Status, string? ApprovedHash, string? PendingHash, JsonElement? PendingDefinition,
    string? Reason, string? ApprovedBy, DateTimeOffset UpdatedAt);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(List<McpServerView>))]
[JsonSerializable(typeof(List<McpPinView>))]
[JsonSerializable(typeof(McpPinView))]
internal sealed partial class McpAdminJson : JsonSerializerContext;
