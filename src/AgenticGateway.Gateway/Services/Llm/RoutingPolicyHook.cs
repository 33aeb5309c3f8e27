using AgenticGateway.Cedar;
using AgenticGateway.OpenAi;
using AgenticGateway.Policies;
using AgenticGateway.Routing;

namespace AgenticGateway.Services.Llm;

/// <summary>
/// Routing policies as the dispatcher sees them (implemented in Policies/, which builds on this service): judged once
/// per model group before the router picks, told what it picked afterwards.
/// </summary>
internal interface IRoutingPolicyHook
{
    /// <summary>False when no policies are configured (the request path then does nothing more).</summary>
    bool TryEvaluate(LlmExchange x, ModelGroup group, ulong eligible, out GroupPolicy decided);

    /// <summary>After the router's first pick in the group (-1: none could take it): reports and decision records.</summary>
    void Picked(LlmExchange x, ModelGroup group, in GroupPolicy decided, ulong eligible, int index);
}

/// <summary>
/// What the policies decided for one model group of one request: which of its deployments the router may use
/// (<see cref="Allowed"/>) and which it should try first (<see cref="Preferred"/>), or the refusal when all are forbidden.
/// </summary>
internal readonly struct GroupPolicy
{
    public required ulong Allowed { get; init; }
    /// <summary>0 when there is no preference among the allowed ones.</summary>
    public required ulong Preferred { get; init; }
    public ApiError? Denied { get; init; }
    public RoutingVerdict? Verdict { get; init; }
    public long ElapsedTicks { get; init; }
    /// <summary>Write the decision to routing_decisions once the router picked (sampled).</summary>
    public bool Sampled { get; init; }
    /// <summary>The policy set that judged (a reload meanwhile does not change what this request's records say).</summary>
    public PolicySet? Set { get; init; }
    public bool DryRun { get; init; }
}
