using AgenticGateway.Observability;
using AgenticGateway.OpenAi;
using AgenticGateway.Runtime;

namespace AgenticGateway.Pipeline;

/// <summary>
/// A middleware a router names (Traefik's word): it sees the request before the service and the outcome after it. It
/// refuses by returning the error (written once, in the route's shape), or calls <paramref name="next"/>.
/// </summary>
internal interface IRouterMiddleware
{
    ValueTask<ApiError?> InvokeAsync(HttpContext context, RouterNext next);
}

/// <summary>The rest of a router's chain: the next middleware, and at the end the service.</summary>
internal readonly struct RouterNext(IRouterMiddleware[] chain, int index, RequestDelegate service)
{
    public async ValueTask<ApiError?> InvokeAsync(HttpContext context)
    {
        if (index < chain.Length) return await chain[index].InvokeAsync(context, new RouterNext(chain, index + 1, service));
        await service(context);
        return null;
    }
}

/// <summary>
/// Step 4: the router's middlewares, in the order the configuration lists them (for the LLM router: in-flight, budget,
/// rate limit), around step 5, the service (the endpoint). The chain comes from the configuration snapshot the request
/// started on, so a reload changes it for new requests only.
/// </summary>
internal sealed class RouterStep(RequestDelegate next, RuntimeHolder runtimes, RouterChains chains, GatewayMetrics metrics)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var chain = chains.For(runtimes.Current.Options.Pipeline, context.Route().Router);
        if (chain.Length == 0)
        {
            await next(context);
            return;
        }
        if (await new RouterNext(chain, 0, next).InvokeAsync(context) is { } refused)
        {
            metrics.Refused(refused.Code ?? refused.Type);
            if (refused is Limits.RateLimitRefusal limited) metrics.RateLimited(limited.Scope, limited.Limit);
            await PipelineErrors.WriteAsync(context, refused);
        }
    }
}
