namespace AgenticGateway.Edge.Acme;

/// <summary>
/// Answers the HTTP-01 challenge (RFC 8555 §8.3): <c>GET /.well-known/acme-challenge/&lt;token&gt;</c> with the token's key
/// authorization. The edge calls it first on the resolver's httpChallenge entry point, as Traefik puts its challenge
/// router before every other.
/// </summary>
internal sealed class AcmeHttpChallenge(AcmeChallenges challenges)
{
    private const string Prefix = "/.well-known/acme-challenge/";

    /// <summary>Whether the request was a pending challenge's and has been answered; false leaves it to the routers.</summary>
    public async Task<bool> TryAnswerAsync(HttpContext context)
    {
        var request = context.Request;
        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method)) return false;
        var path = request.Path.Value;
        if (path is null || !path.StartsWith(Prefix, StringComparison.Ordinal)) return false;
        var token = path[Prefix.Length..];
        if (!IsToken(token)) return false;
        var keyAuthorization = await challenges.FindAsync(AcmeChallenges.Http01, token, context.RequestAborted);
        if (keyAuthorization is null) return false;
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "text/plain";
        context.Response.ContentLength = keyAuthorization.Length;
        if (HttpMethods.IsGet(request.Method)) await context.Response.WriteAsync(keyAuthorization, context.RequestAborted);
        return true;
    }

    /// <summary>A token is base64url (§8.1, at least 128 bits); anything else is not looked up.</summary>
    private static bool IsToken(string token) =>
        token.Length is > 0 and <= 256 && token.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');
}
