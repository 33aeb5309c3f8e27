using AgenticGateway.Keys;
using AgenticGateway.Limits;
using AgenticGateway.OpenAi;

namespace AgenticGateway.Pipeline.Middlewares;

/// <summary><c>in-flight</c>: max_parallel_requests of the caller's key, user and team (Traefik's inFlightReq).</summary>
internal sealed class InFlightMiddleware(ParallelRequests parallel) : IRouterMiddleware
{
    public const string Type = "in-flight";

    public bool AppliesTo(HttpContext context) => VirtualKeyCall.Is(context);

    public async ValueTask<ApiError?> InvokeAsync(HttpContext context, RouterNext next)
    {
        var caller = context.Features.Get<Caller>()!;
        var (hold, refused) = parallel.Acquire(caller);
        if (refused is not null) return refused;
        try { return await next.InvokeAsync(context); }
        finally { if (hold is not null) ParallelRequests.Release(hold); }
    }
}
