using AgenticGateway.Keys;
using AgenticGateway.OpenAi;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// <c>gatewayAuth</c>: the gateway's own client authentication on any edge router (the master key, a virtual key or a
/// JWT, in any header the gateway accepts: <c>Authorization: Bearer</c>, <c>x-api-key</c>, <c>api-key</c>,
/// <c>x-litellm-api-key</c>). The caller goes on as the <see cref="Caller"/> feature, so gatewayBudget and tokenMetering
/// further on (and an <c>*@internal</c> service) know whose request it is. Refusals are OpenAI's JSON 401, since the
/// clients are API clients. Options: <c>removeHeader</c> (default false: the key is not forwarded to the service; keep
/// it false in front of the gateway's own services, which read it again) and <c>adminOnly</c> (only the master key or
/// an admin JWT).
/// </summary>
internal sealed class GatewayAuthMiddleware : IEdgeMiddlewareType
{
    public string Name => "gatewayAuth";

    // The headers a gateway key may come in (the pipeline's ClientAuth reads the same ones).
    private static readonly string[] KeyHeaders = ["x-litellm-api-key", "Authorization", "x-api-key", "api-key"];

    public EdgeMiddleware? Build(EdgeOptions options, EdgeBuildContext context)
    {
        var removeHeader = options.Bool("removeHeader") ?? false;
        var adminOnly = options.Bool("adminOnly") ?? false;
        options.ReportUnknown();
        var access = context.Services.GetRequiredService<IGatewayEdgeAccess>();
        return next => async http =>
        {
            var (caller, error) = await access.AuthenticateAsync(http.Request, http.RequestAborted);
            if (caller is null)
            {
                await access.WriteErrorAsync(http, error ?? new ApiError(401, "Authentication required.", "authentication_error", "invalid_api_key"));
                return;
            }
            if (adminOnly && !caller.IsAdmin)
            {
                await access.WriteErrorAsync(http, new ApiError(403, "Only the master key (or an admin JWT) may call this route.", "permission_error", "not_admin"));
                return;
            }
            http.Features.Set(caller);
            if (removeHeader)
                foreach (var header in KeyHeaders) http.Request.Headers.Remove(header);
            await next(http);
        };
    }
}
