using System.Security.Claims;
using AgenticGateway.Pipeline;
using AgenticGateway.Runtime;
using Microsoft.IdentityModel.JsonWebTokens;

namespace AgenticGateway.Services.Mcp;

/// <summary>
/// The JWT a caller authenticated with, kept beside its <see cref="McpRequestIdentity"/> in the principal the MCP SDK
/// hands each message's handlers (per POST for sessions too, so a session whose client renews its token uses the new
/// one): the subject token of the exchanges for servers with per-user tokens. It carries no claim, so the SDK's session
/// binding (the user id claim) is unchanged.
/// </summary>
internal sealed class McpOAuthSubject : ClaimsIdentity
{
    private McpOAuthSubject(string token, DateTimeOffset? expires) : base(authenticationType: "jwt")
    {
        Token = token;
        Expires = expires;
    }

    /// <summary>The caller's JWT as presented; never logged, never forwarded.</summary>
    public string Token { get; }
    /// <summary>When it expires (its exp): an exchanged token is not kept past it.</summary>
    public DateTimeOffset? Expires { get; }

    /// <summary>
    /// The JWT the pipeline validated for this caller, or null when it presented something else (a virtual key, the
    /// master key). With JWT auth on, ClientAuth validates every credential shaped like a JWT as one and refuses it if it
    /// is not valid, so a caller admitted with one (this runs after authentication) was admitted by it.
    /// </summary>
    public static McpOAuthSubject? Of(HttpContext context)
    {
        if (context.RequestServices.GetService<RuntimeHolder>()?.Current.Options.Jwt is null) return null;
        if (ClientAuth.PresentedKey(context.Request) is not { } presented || !JwtAuthenticator.LooksLikeJwt(presented)) return null;
        DateTimeOffset? expires = null;
        try
        {
            var jwt = new JsonWebToken(presented);
            if (jwt.ValidTo != DateTime.MinValue) expires = new DateTimeOffset(jwt.ValidTo, TimeSpan.Zero);
        }
        catch (ArgumentException)
        {
            return null;
        }
        return new McpOAuthSubject(presented, expires);
    }
}
