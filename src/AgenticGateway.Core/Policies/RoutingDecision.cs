using System.Collections.Immutable;

namespace AgenticGateway.Policies;

/// <summary>
/// One routing decision as the policy router made it: what was asked, what was chosen, which policies decided and why
/// each candidate was allowed or not. The request path produces it (sampled, always for denials and dry-run
/// disagreements); a <see cref="IRoutingDecisionSink"/> stores it in the routing_decisions table.
/// </summary>
/// <param name="Decision"><c>allow</c>, <c>deny</c> or <c>dry_run</c>.</param>
/// <param name="DecidingPolicy">The permit that decided the preference (allow), absent when no permit matched.</param>
/// <param name="Policies">The policies named by the decision: the deciding permit, or every forbidding policy on a deny.</param>
/// <param name="EvaluationMicros">How long the policy evaluation took, in microseconds.</param>
internal sealed record RoutingDecision(
    string RequestId,
    DateTimeOffset CreatedAt,
    string ModelGroup,
    string RequestedModel,
    string? ChosenDeployment,
    string? Provider,
    string Decision,
    string? DecidingPolicy,
    ImmutableArray<string> Policies,
    ImmutableArray<CandidateVerdict> Candidates,
    string? KeyAlias,
    string? TeamId,
    string? UserId,
    bool DryRun,
    long EvaluationMicros)
{
    public const string Allow = "allow";
    public const string Deny = "deny";
    public const string DryRunDecision = "dry_run";
}

/// <summary>
/// How the policies judged one candidate deployment: allowed (no forbid matched), preferred (among the top-priority
/// permits' candidates), and the reasons in words (<c>"forbid: policy1"</c>, <c>"permit(@priority 100): policy0"</c>,
/// <c>"error: policy2: ..."</c>).
/// </summary>
internal sealed record CandidateVerdict(int Index, string Deployment, string Provider, bool Allowed, bool Preferred, ImmutableArray<string> Reasons);

/// <summary>Where routing decisions go. Must not block: a full queue drops the decision and answers false.</summary>
internal interface IRoutingDecisionSink
{
    bool TryWrite(RoutingDecision decision);
}
