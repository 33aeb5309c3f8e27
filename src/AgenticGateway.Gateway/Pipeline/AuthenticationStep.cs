using AgenticGateway.Keys;
using AgenticGateway.Observability;
using AgenticGateway.OpenAi;
using AgenticGateway.Runtime;

namespace AgenticGateway.Pipeline;

/// <summary>Credentials that did not authenticate on a route where they are optional: the service may say why.</summary>
internal sealed record AuthenticationFailure(ApiError Error);

/// <summary>
/// Step 2: who is calling, as the route requires (<see cref="RouteAuth"/>): the master key, a virtual key or a JWT,
/// checked by <see cref="ClientAuth"/>. The caller goes on as the <see cref="Caller"/> feature. One place for every
/// route kind, so the LLM, sandbox, admin and UI routes cannot differ in how they authenticate.
/// </summary>
internal sealed class AuthenticationStep(RequestDelegate next, ClientAuth auth, RuntimeHolder runtimes)
{
    // Not async on the usual path (the identity cache answers at once): an await here would box a state machine per
    // request. The slow path (a cache miss, a JWKS fetch) awaits in AuthenticatedAsync.
    public Task InvokeAsync(HttpContext context)
    {
        var route = context.Route();
        if (route.Auth == RouteAuth.None) return next(context);
        var runtime = runtimes.Current;
        if (route.Auth == RouteAuth.Admin && !ClientAuth.IsOn(runtime))
            return PipelineErrors.WriteAsync(context, new ApiError(403, "Key management needs a master key: set master_key (or general_settings.master_key), or JWT auth with an admin scope.",
                "permission_error", "no_master_key"));
        var span = GatewayTracing.Source.StartActivity("auth");
        var authenticating = auth.AuthenticateAsync(context.Request, runtime, context.RequestAborted);
        if (!authenticating.IsCompletedSuccessfully) return AuthenticatedAsync(context, route, authenticating, span);
        span?.Dispose();
        return Continue(context, route, authenticating.Result);
    }

    private async Task AuthenticatedAsync(HttpContext context, GatewayRoute route, ValueTask<(Caller? Caller, ApiError? Error)> authenticating, System.Diagnostics.Activity? span)
    {
        (Caller? Caller, ApiError? Error) result;
        using (span) result = await authenticating;
        await Continue(context, route, result);
    }

    private Task Continue(HttpContext context, GatewayRoute route, (Caller? Caller, ApiError? Error) result)
    {
        var (caller, error) = result;
        if (caller is not null) context.Features.Set(caller);
        switch (route.Auth)
        {
            case RouteAuth.Optional:
                if (error is not null) context.Features.Set(new AuthenticationFailure(error));
                break;
            case RouteAuth.Caller when error is not null || caller is null:
                return PipelineErrors.WriteAsync(context, error ?? new ApiError(401, "Authentication required.", "authentication_error", "invalid_api_key"));
            case RouteAuth.Admin when error is not null || caller is not { IsAdmin: true }:
                return PipelineErrors.WriteAsync(context, error ?? new ApiError(403, "Only the master key (or an admin JWT) may manage keys.", "permission_error", "not_admin"));
        }
        return next(context);
    }
}
