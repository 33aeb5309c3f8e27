using System.Text;

using AgenticGateway.Services.Sandboxes;

namespace AgenticGateway.Services.E2b.Envd;

/// <summary>
/// The user an envd call acts as. The SDK names it in <c>Authorization: Basic base64("name:")</c> (RPC) or the
/// <c>username</c> query parameter (/files). E2B's templates have <c>user</c> and <c>root</c>; both are accepted, and
/// the agent ops of the call carry the name (<c>"user"</c>, docs/sandbox-agent-protocol.md), where the sandbox's agent
/// decides what it means: in a microVM the agent is root inside the VM, the VM being the isolation boundary (as in
/// E2B's own sandboxes, which give root and sudo), so <c>root</c> is root there and <c>user</c> is uid 1000; in a
/// bubblewrap sandbox the agent is the sandbox's one unprivileged user and both names are that user, since a sandbox
/// is never root on the host. Any other name is refused, as envd refuses a user its sandbox does not have.
/// </summary>
internal static class EnvdUser
{
    public const string Default = "user";

    /// <summary>The user named by the request, or the error message for one the sandbox does not have.</summary>
    public static (string? User, string? Error) FromRequest(HttpContext context, bool query)
    {
        string? name = null;
        if (query && context.Request.Query.TryGetValue("username", out var q) && q.Count > 0 && !string.IsNullOrEmpty(q[0])) name = q[0];
        else if (context.Request.Headers.Authorization.ToString() is { Length: > 0 } auth)
        {
            if (!auth.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase)) return (null, "Authorization must be Basic base64(\"user:\")");
            try
            {
                var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(auth[6..].Trim()));
                var colon = decoded.IndexOf(':');
                name = colon >= 0 ? decoded[..colon] : decoded;
            }
            catch (FormatException) { return (null, "Authorization Basic credentials are not valid base64"); }
        }
        if (string.IsNullOrEmpty(name)) return (Default, null);
        return name is "user" or "root" ? (name, null) : (null, $"error looking up user '{SandboxHttp.Truncate(name)}': unknown user (this sandbox has 'user' and 'root')");
    }

}
