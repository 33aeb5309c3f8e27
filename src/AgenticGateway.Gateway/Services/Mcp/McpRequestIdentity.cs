using System.Security.Claims;
using AgenticGateway.Keys;

namespace AgenticGateway.Services.Mcp;

/// <summary>
/// The gateway's caller as the MCP SDK sees it. The SDK hands each message's <c>HttpContext.User</c> to the handlers
/// (for sessions too, per POST), and binds a session to the user id claim it was created with, so a session id leaked
/// to another key is refused. The id is the key's token hash (never the key), "admin" or "anonymous".
/// </summary>
internal sealed class McpRequestIdentity : ClaimsIdentity
{
    public McpRequestIdentity(Caller caller, string? server, IReadOnlyList<KeyValuePair<string, string>> headers)
        : base([new Claim(ClaimTypes.NameIdentifier, OwnerOf(caller))], authenticationType: "agentic-gateway")
    {
        Caller = caller;
        Server = server;
        Headers = headers;
    }

    public Caller Caller { get; }
    /// <summary>The one server of <c>/mcp/{server}</c>, null on <c>/mcp</c>.</summary>
    public string? Server { get; }
    /// <summary>The client's request headers that upstreams may be given (filtered per server when a call is made).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; }

    /// <summary>
    /// What owns per-caller state (sandboxes, loop and rate counters): the sandbox API's owner ("key:" and the token
    /// hash, "user:" and the id, or "admin"), so a key's MCP sandbox is the one its REST calls see and count against.
    /// </summary>
    public static string OwnerOf(Caller caller) => Sandboxes.SandboxHttp.OwnerOf(caller);
}
