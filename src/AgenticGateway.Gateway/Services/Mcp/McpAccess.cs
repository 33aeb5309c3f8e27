using AgenticGateway.Keys;
using AgenticGateway.Mcp.Federation;

namespace AgenticGateway.Services.Mcp;

/// <summary>
/// Whether a caller may see and call a server's tool: the server's access groups, then the key's and team's
/// object_permission (mcp_servers, mcp_access_groups, mcp_tool_permissions, blocked_tools), strictest wins.
/// </summary>
internal static class McpAccess
{
    public static bool MayUseServer(Caller caller, ServerState server) =>
        caller.MayUseMcpServer(server.Name, server.Config is { } c ? c.AccessGroups : []);

    public static bool MayCall(Caller caller, ServerState server, string tool, string exposedName) =>
        MayUseServer(caller, server) && caller.MayUseMcpTool(server.Name, tool, exposedName);
}
