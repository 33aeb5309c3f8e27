using System.Collections.Immutable;
using AgenticGateway.Policies;

namespace AgenticGateway.Tests.Policies.Decisions;

/// <summary>Routing decisions as the policy router makes them, for the decisions tests.</summary>
internal static class DecisionSamples
{
    public static readonly DateTimeOffset Start = new DateTimeOffset(2026, 12, 7, 6, 15, 30, 250, TimeSpan.FromHours(1)).AddTicks(1234);

    /// <summary>An allow on "smart" that chose the vLLM deployment over a forbidden OpenAI one, every field set.</summary>
    public static RoutingDecision Allow(string id = "req-allow", DateTimeOffset? at = null, string group = "smart", string requested = "smart") => new(
        id, at ?? Start, group, requested, "llama-vllm", "vllm", RoutingDecision.Allow, "prefer_vllm", ["prefer_vllm"],
        [
            new CandidateVerdict(0, "gpt-4o-openai", "openai", false, false, ["forbid: slow_for_sla", "error: policy2: attribute `average_latency_ms` absent"]),
            new CandidateVerdict(1, "llama-vllm", "vllm", true, true, ["permit(@priority 100): prefer_vllm"]),
        ],
        "team-key", "team-1", "user-1", false, 17);

    /// <summary>A deny: every candidate forbidden, nothing chosen, no caller fields.</summary>
    public static RoutingDecision Deny(string id = "req-deny", DateTimeOffset? at = null, string group = "fast") => new(
        id, at ?? Start, group, group, null, null, RoutingDecision.Deny, null, ["breaker", "slow_for_sla"],
        [new CandidateVerdict(0, "mini-openai", "openai", false, false, ["forbid: breaker", "forbid: slow_for_sla"])],
        null, null, null, false, 9);

    public static RoutingDecision DryRun(string id = "req-dry", DateTimeOffset? at = null) => Allow(id, at) with
    {
        Decision = RoutingDecision.DryRunDecision, DryRun = true, Candidates = [], Policies = [], DecidingPolicy = null,
    };

    /// <summary>Field-for-field equality (the record's own compares its arrays by reference).</summary>
    public static void AssertSame(RoutingDecision expected, RoutingDecision actual)
    {
        Assert.Equal(expected.RequestId, actual.RequestId);
        Assert.Equal(expected.CreatedAt.UtcTicks, actual.CreatedAt.UtcTicks);
        Assert.Equal(expected.ModelGroup, actual.ModelGroup);
        Assert.Equal(expected.RequestedModel, actual.RequestedModel);
        Assert.Equal(expected.ChosenDeployment, actual.ChosenDeployment);
        Assert.Equal(expected.Provider, actual.Provider);
        Assert.Equal(expected.Decision, actual.Decision);
        Assert.Equal(expected.DecidingPolicy, actual.DecidingPolicy);
        Assert.Equal(expected.Policies.AsEnumerable(), actual.Policies.AsEnumerable());
        Assert.Equal(expected.Candidates.Length, actual.Candidates.Length);
        foreach (var (e, a) in expected.Candidates.Zip(actual.Candidates))
        {
            Assert.Equal((e.Index, e.Deployment, e.Provider, e.Allowed, e.Preferred), (a.Index, a.Deployment, a.Provider, a.Allowed, a.Preferred));
            Assert.Equal(e.Reasons.AsEnumerable(), a.Reasons.AsEnumerable());
        }
        Assert.Equal(expected.KeyAlias, actual.KeyAlias);
        Assert.Equal(expected.TeamId, actual.TeamId);
        Assert.Equal(expected.UserId, actual.UserId);
        Assert.Equal(expected.DryRun, actual.DryRun);
        Assert.Equal(expected.EvaluationMicros, actual.EvaluationMicros);
    }

    public static string[] Ids(IEnumerable<RoutingDecision> decisions) => [.. decisions.Select(d => d.RequestId)];
}
