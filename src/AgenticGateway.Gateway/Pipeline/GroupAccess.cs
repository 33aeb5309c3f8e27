using AgenticGateway.Keys;
using AgenticGateway.OpenAi;
using AgenticGateway.Routing;
using AgenticGateway.Runtime;

namespace AgenticGateway.Pipeline;

/// <summary>
/// Which model groups may serve a caller. A group is open to a caller when its key, user and team all allow the model,
/// and, when a budget binds the caller, when every deployment of the group has a known price (a request recorded at $0
/// would never stop the budget), unless the operator allows unpriced models. The same rule admits the requested group,
/// picks the fallbacks that may be tried, and bounds what admission reserves: a request can only run where it was priced.
/// </summary>
internal static class GroupAccess
{
    public static bool MayRunOn(Caller caller, GatewayRuntime runtime, GroupTarget target) =>
        caller.MayUse(target.Name, target.Group.Name, target.Group.AccessGroups) && (!caller.HasBudget || runtime.Options.Budgets.AllowUnpricedModels || IsPriced(target.Group, target.Name));

    /// <summary>Whether every deployment of the group has a price for a request of this model.</summary>
    public static bool IsPriced(ModelGroup group, string requestedModel)
    {
        foreach (var d in group.Deployments)
        {
            if (d.PriceForRequest(requestedModel) is null) return false;
        }
        return true;
    }

    /// <summary>The 400 for a budgeted caller asking for a model whose cost the gateway cannot know.</summary>
    public static ApiError Unpriced(string model) => new(400,
        $"The model '{model}' has no known price, so the budget that applies to this key cannot be enforced on it. Use a priced model, or ask the operator to configure its price (input_cost_per_token, output_cost_per_token).",
        "invalid_request_error", "model_unpriced", "model");

    /// <summary>
    /// The fallback groups a request of <paramref name="requested"/> may move on to for this caller, each once, in no
    /// particular order: every kind (context window, content policy, ordinary, default), as any failure may lead to one.
    /// </summary>
    public static IEnumerable<GroupTarget> ReachableFallbacks(Caller caller, GatewayRuntime runtime, ModelGroup requested)
    {
        HashSet<GroupTarget>? seen = null;
        foreach (var list in new[] { requested.ContextWindowFallbacks, requested.ContentPolicyFallbacks, requested.Fallbacks, runtime.Catalog.DefaultFallbacks })
        {
            foreach (var target in list)
            {
                if (target.Group == requested || !MayRunOn(caller, runtime, target)) continue;
                if (!(seen ??= []).Add(target)) continue;
                yield return target;
            }
        }
    }
}
