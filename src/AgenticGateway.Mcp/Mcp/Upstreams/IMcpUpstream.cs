using System.Text.Json;
using ModelContextProtocol.Protocol;

namespace AgenticGateway.Mcp.Upstreams;

/// <summary>
/// One MCP server behind the gateway as the federation sees it: a client of a stdio or HTTP server, an OpenAPI
/// document served as tools, or a server the gateway runs itself (sandboxes). Lists are the server's own names; the
/// federation prefixes, filters, pins and caches them. Implementations are shared by every caller, so per-caller state
/// (a sandbox, forwarded credentials) comes in the <see cref="McpCallContext"/>.
/// </summary>
internal interface IMcpUpstream : IAsyncDisposable
{
    string Name { get; }

    /// <summary>Raised when the server says a list changed (notifications/*/list_changed): the federation re-lists it.</summary>
    event Action<IMcpUpstream>? ListChanged;

    ValueTask<IReadOnlyList<Tool>> ListToolsAsync(CancellationToken ct);
    /// <summary>
    /// Calls a tool by the server's own name. A tool that ran and failed is a result with <c>IsError</c>; a protocol
    /// failure (unknown tool, bad arguments) is an <see cref="ModelContextProtocol.McpProtocolException"/>; an
    /// unreachable server any other exception.
    /// </summary>
    ValueTask<CallToolResult> CallToolAsync(string tool, IReadOnlyDictionary<string, JsonElement>? arguments, McpCallContext context, CancellationToken ct);

    ValueTask<IReadOnlyList<Resource>> ListResourcesAsync(CancellationToken ct);
    ValueTask<ReadResourceResult> ReadResourceAsync(string uri, McpCallContext context, CancellationToken ct);
    ValueTask<IReadOnlyList<Prompt>> ListPromptsAsync(CancellationToken ct);
    ValueTask<GetPromptResult> GetPromptAsync(string name, IReadOnlyDictionary<string, JsonElement>? arguments, McpCallContext context, CancellationToken ct);
}

/// <summary>
/// Who a call is for. <paramref name="Owner"/> scopes per-caller state (the sandbox API's owner, SandboxHttp.OwnerOf: "key:" and the token hash, or "admin");
/// <paramref name="Session"/> is the client's MCP session when it has one (null for stateless 2026-07-28 clients);
/// <paramref name="Headers"/> are the client's headers this server may receive (its forward list, and
/// x-mcp-{server}-{header}), never the gateway's credentials.
/// </summary>
internal sealed record McpCallContext(string Owner, string? Session, IReadOnlyList<KeyValuePair<string, string>> Headers);
