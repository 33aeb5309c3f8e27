using AgenticGateway.Keys;
using AgenticGateway.OpenAi;
using AgenticGateway.Routing;
using AgenticGateway.Runtime;

namespace AgenticGateway.Pipeline;

/// <summary>
/// What a request reserves against its caller's token limits and budgets while it runs: the most it may use and cost
/// on any deployment it may end up on (its group's, and every fallback open to the caller). Output is bounded by the
/// request's max_tokens, else the deployment's maximum output, else <c>budgets.default_max_output_tokens</c>, times n.
/// </summary>
internal readonly record struct Reservation(long Tokens, decimal Cost)
{
    public static Reservation For(GatewayRuntime runtime, Caller caller, ModelGroup group, in ParsedRequest request, LlmOperation operation, long promptTokens)
    {
        var most = Of(runtime, new GroupTarget(group, runtime.Catalog.WildcardName(request.Model)), request, operation, promptTokens, default);
        foreach (var fallback in GroupAccess.ReachableFallbacks(caller, runtime, group))
            most = Of(runtime, fallback, request, operation, promptTokens, most);
        return most;
    }

    private static Reservation Of(GatewayRuntime runtime, GroupTarget target, in ParsedRequest request, LlmOperation operation, long promptTokens, Reservation most)
    {
        var choices = Math.Max(request.N ?? 1, 1);
        foreach (var d in target.Group.Deployments)
        {
            long output = operation is LlmOperation.Embeddings or LlmOperation.Rerank ? 0
                : (long)(request.MaxTokens ?? d.MaxOutputForRequest(target.Name) ?? runtime.Options.Budgets.DefaultMaxOutputTokens) * choices;
            // Cohere bills a search unit per query of up to 100 documents.
            long searchUnits = operation == LlmOperation.Rerank ? Math.Max(1, (request.Documents + 99) / 100) : 0;
            var cost = d.PriceForRequest(target.Name)?.Estimate(promptTokens, output, searchUnits) ?? 0m;
            most = new Reservation(Math.Max(most.Tokens, promptTokens + output), Math.Max(most.Cost, cost));
        }
        return most;
    }
}
