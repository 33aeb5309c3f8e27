using AgenticGateway.Keys;
using AgenticGateway.Limits;
using AgenticGateway.OpenAi;

namespace AgenticGateway.Pipeline.Middlewares;

/// <summary>
/// <c>rate-limit</c>: rpm, tpm and tpd of the caller's key, user and team (token limits reserve the request's worst
/// case and settle to its real usage), with OpenAI's x-ratelimit-* headers on the answer.
/// </summary>
internal sealed class RateLimitMiddleware(RateLimits limits) : IRouterMiddleware
{
    public const string Type = "rate-limit";

    public bool AppliesTo(HttpContext context) => VirtualKeyCall.Is(context);

    public async ValueTask<ApiError?> InvokeAsync(HttpContext context, RouterNext next)
    {
        var (caller, llm) = (context.Features.Get<Caller>()!, context.Features.Get<LlmRequest>()!);
        var (hold, refused) = await limits.AcquireAsync(caller, llm.Reservation.Tokens, context.RequestAborted);
        if (hold is not null) RateLimits.WriteHeaders(context.Response.Headers, hold);
        if (refused is not null) return refused;
        try { return await next.InvokeAsync(context); }
        finally
        {
            if (hold is not null) await limits.SettleAsync(hold, context.Features.Get<ILlmOutcome>()?.Usage?.TotalTokens ?? 0);
        }
    }
}
