using AgenticGateway.Keys;
using AgenticGateway.Limits;
using AgenticGateway.OpenAi;
using AgenticGateway.Pricing;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// <c>gatewayBudget</c>: the caller's key, user and team limits on any edge router: its rpm (and tpm/tpd, settled to the
/// tokens <c>tokenMetering</c> read from the answer) through the gateway's rate limits, and its budgets (settled to the
/// cost tokenMetering priced). Needs <c>gatewayAuth</c> before it on the router; the master key, admin JWTs and
/// anonymous callers (auth off) have no limits. Options: <c>rateLimit</c> and <c>budget</c> (both default true).
/// Refusals are OpenAI's JSON (429 for a rate limit or a budget held by requests in flight, 400 for a spent budget, as
/// the gateway's own routes answer) with OpenAI's x-ratelimit-* headers.
/// </summary>
internal sealed class GatewayBudgetMiddleware : IEdgeMiddlewareType
{
    public string Name => "gatewayBudget";

    public EdgeMiddleware? Build(EdgeOptions options, EdgeBuildContext context)
    {
        var useRate = options.Bool("rateLimit") ?? true;
        var useBudget = options.Bool("budget") ?? true;
        options.ReportUnknown();
        var access = context.Services.GetRequiredService<IGatewayEdgeAccess>();
        var rates = context.Services.GetRequiredService<RateLimits>();
        var budgets = context.Services.GetRequiredService<Budgets>();
        return next => async http =>
        {
            var caller = http.Features.Get<Caller>();
            if (caller is null)
            {
                // A router that forgot gatewayAuth would otherwise let everyone through unlimited: fail closed.
                await access.WriteErrorAsync(http, new ApiError(401, "This route counts budgets but no caller was identified: gatewayBudget needs gatewayAuth before it on the router.",
                    "authentication_error", "no_caller"));
                return;
            }
            if (caller.Identity is null)
            {
                await next(http);
                return;
            }
            RateLimits.Hold? rate = null;
            Budgets.Hold? budget = null;
            if (useRate)
            {
                (rate, var refused) = await rates.AcquireAsync(caller, 0, http.RequestAborted);
                if (rate is not null) RateLimits.WriteHeaders(http.Response.Headers, rate);
                if (refused is not null)
                {
                    await access.WriteErrorAsync(http, refused);
                    return;
                }
            }
            if (useBudget)
            {
                (budget, var refused) = await budgets.ReserveAsync(caller, 0m, http.RequestAborted);
                if (refused is not null)
                {
                    if (rate is not null) await rates.SettleAsync(rate, 0);
                    await access.WriteErrorAsync(http, refused);
                    return;
                }
            }
            var metered = new GatewayMeteredUsage();
            http.Features.Set(metered);
            try { await next(http); }
            finally
            {
                if (budget is not null) await budgets.SettleAsync(budget, Money.ToNanos(metered.Cost));
                if (rate is not null) await rates.SettleAsync(rate, metered.Usage?.TotalTokens ?? 0);
            }
        };
    }
}

/// <summary>What tokenMetering read from an answer, for gatewayBudget before it on the router to settle on.</summary>
internal sealed class GatewayMeteredUsage
{
    public Usage? Usage { get; set; }
    public decimal Cost { get; set; }
}
