using AgenticGateway.Keys;
using AgenticGateway.Limits;
using AgenticGateway.OpenAi;

namespace AgenticGateway.Pipeline.Middlewares;

/// <summary>
/// <c>budget</c>: reserves the LLM request's worst-case cost against the budgets of the caller's key, user and team,
/// and settles to what the request really cost (0 when it was refused further on, or failed).
/// </summary>
internal sealed class BudgetMiddleware(Budgets budgets) : IRouterMiddleware
{
    public const string Type = "budget";

    public bool AppliesTo(HttpContext context) => VirtualKeyCall.Is(context);

    private sealed record ProxyBudgetOfRuntime(Runtime.GatewayRuntime Runtime, ProxyBudget? Budget);

    // Derived from the running config, so built once per runtime (a reload swaps the runtime) rather than per request.
    private ProxyBudgetOfRuntime? _proxyBudget;

    /// <summary>LiteLLM's global budget from the running config (it reloads), or null when none is set.</summary>
    private ProxyBudget? ProxyBudgetOf(Runtime.GatewayRuntime runtime)
    {
        if (_proxyBudget is { } known && ReferenceEquals(known.Runtime, runtime)) return known.Budget;
        var budget = runtime.Options.Budgets is { ProxyMaxBudget: { } max } b
            ? new ProxyBudget(new LimitSettings { MaxBudget = max, BudgetDuration = b.ProxyBudgetDuration }) : null;
        _proxyBudget = new ProxyBudgetOfRuntime(runtime, budget);
        return budget;
    }

    public async ValueTask<ApiError?> InvokeAsync(HttpContext context, RouterNext next)
    {
        var (caller, llm) = (context.Features.Get<Caller>()!, context.Features.Get<LlmRequest>()!);
        var (hold, refused) = await budgets.ReserveAsync(caller, llm.Reservation.Cost, context.RequestAborted, ProxyBudgetOf(llm.Runtime));
        if (refused is not null) return refused;
        // Routing policies read where the caller's budgets stand (cost_budget_remaining).
        if (hold is not null) context.Features.Set(hold);
        try { return await next.InvokeAsync(context); }
        finally
        {
            if (hold is not null) await budgets.SettleAsync(hold, context.Features.Get<ILlmOutcome>()?.CostNanos ?? 0);
        }
    }
}
