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
    /// <summary>
    /// Whether the middleware acts on this request (the limits act on a virtual key's calls). The chain passes over
    /// the others without calling them, and a request none applies to goes straight to the service.
    /// </summary>
    bool AppliesTo(HttpContext context);

    /// <summary>Runs the middleware around <paramref name="next"/>; called only for a request it applies to.</summary>
    ValueTask<ApiError?> InvokeAsync(HttpContext context, RouterNext next);
}

/// <summary>The rest of a router's chain: the next middleware, and at the end the service.</summary>
/// <remarks>
/// Not async: passing the next middleware's ValueTask on costs nothing, where an await per link would box a state
/// machine per middleware per request (Kestrel runs the chain on every request; bench/run.sh's allocation column).
/// </remarks>
internal readonly struct RouterNext(IRouterMiddleware[] chain, int index, RequestDelegate service)
{
    public ValueTask<ApiError?> InvokeAsync(HttpContext context)
    {
        var i = FirstApplying(chain, index, context);
        if (i < chain.Length) return chain[i].InvokeAsync(context, new RouterNext(chain, i + 1, service));
        var served = service(context);
        return served.IsCompletedSuccessfully ? default : ServedAsync(served);
    }

    /// <summary>The index of the first middleware from <paramref name="from"/> on that applies to the request, or the chain's length.</summary>
    public static int FirstApplying(IRouterMiddleware[] chain, int from, HttpContext context)
    {
        while (from < chain.Length && !chain[from].AppliesTo(context)) from++;
        return from;
    }

    private static async ValueTask<ApiError?> ServedAsync(Task served)
    {
        await served;
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
    public Task InvokeAsync(HttpContext context)
    {
        var chain = chains.For(runtimes.Current.Options.Pipeline, context.Route().Router);
        var first = RouterNext.FirstApplying(chain, 0, context);
        if (first == chain.Length) return next(context);
        var outcome = chain[first].InvokeAsync(context, new RouterNext(chain, first + 1, next));
        if (!outcome.IsCompletedSuccessfully) return OutcomeAsync(context, outcome);
        return outcome.Result is { } refused ? RefuseAsync(context, refused) : Task.CompletedTask;
    }

    private async Task OutcomeAsync(HttpContext context, ValueTask<ApiError?> outcome)
    {
        if (await outcome is { } refused) await RefuseAsync(context, refused);
    }

    private Task RefuseAsync(HttpContext context, ApiError refused)
    {
        metrics.Refused(refused.Code ?? refused.Type);
        if (refused is Limits.RateLimitRefusal limited) metrics.RateLimited(limited.Scope, limited.Limit);
        return PipelineErrors.WriteAsync(context, refused);
    }
}
