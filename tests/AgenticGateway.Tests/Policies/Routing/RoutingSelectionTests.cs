using AgenticGateway.Configuration;
using AgenticGateway.Policies;
using AgenticGateway.Cedar;

namespace AgenticGateway.Tests.Policies.Routing;

/// <summary>RoutingSelection alone: forbid removes, the top-priority permit prefers, no permit means no preference.</summary>
[Trait("Category", "unit")]
public sealed class RoutingSelectionTests
{
    private sealed class Fixed(double latencyMs, double errorRate) : ILiveDeploymentMetrics
    {
        public double AverageLatencyMs => latencyMs;
        public double TimeToFirstTokenMs => double.NaN;
        public double ErrorRate(long nowTicks) => errorRate;
        public int InFlight => 0;
        public bool IsCoolingDown(long nowTicks) => false;
    }

    private static ICedarEntity Deployment(string id, string provider, double latencyMs = double.NaN, double errorRate = 0) =>
        new DeploymentEntity(new DeploymentOptions { Id = id, ModelName = "smart", Provider = provider, Model = id, ApiBase = new Uri("http://localhost/") },
            new Fixed(latencyMs, errorRate));

    private static readonly ICedarEntity[] Candidates =
    [
        Deployment("gpt", "openai", latencyMs: 900),
        Deployment("llama", "vllm", latencyMs: 200),
        Deployment("flaky", "vllm", latencyMs: 100, errorRate: 0.2),
    ];

    private static PolicySet Set(string text)
    {
        var load = PolicySet.Load([new PolicySource("test.cedar", text)]);
        Assert.True(load.Succeeded, string.Join("; ", load.Errors));
        return load.Set!;
    }

    private static RoutingVerdict Select(string policies, CedarRecord context, bool explain = false, ulong eligible = 0b111) =>
        RoutingSelection.Select(Set(policies), PrincipalEntityFor("u1"), Candidates, eligible, context, EntityStore.Empty, explain);

    private static ICedarEntity PrincipalEntityFor(string user) => new CedarEntity(new EntityUid("User", user), CedarRecord.Empty, []);

    private static CedarRecord Context(params (string Name, CedarValue Value)[] attributes) => new(attributes.Select(a => KeyValuePair.Create(a.Name, a.Value)));

    [Fact]
    public void Seed_policies_prefer_vllm_on_a_low_budget_and_break_the_flaky_circuit()
    {
        var v = Select(PolicyRoutingFixture.SeedPolicies, Context(("cost_budget_remaining", CedarValue.Decimal(5m))));
        Assert.Equal(0b011UL, v.Allowed);
        Assert.Equal(0b010UL, v.Preferred);
        Assert.Equal("policy0", v.DecidingPolicy);
        Assert.Equal(100, v.TopPriority);
    }

    [Fact]
    public void A_tight_sla_forbids_the_slow_one_and_no_permit_means_no_preference()
    {
        var v = Select(PolicyRoutingFixture.SeedPolicies, Context(("latency_sla_ms", CedarValue.Long(300))));
        Assert.Equal(0b010UL, v.Allowed);
        Assert.Equal(v.Allowed, v.Preferred);
        Assert.Null(v.DecidingPolicy);
        Assert.Null(v.TopPriority);
    }

    [Fact]
    public void Ineligible_candidates_are_not_judged()
    {
        var v = Select(PolicyRoutingFixture.SeedPolicies, Context(("cost_budget_remaining", CedarValue.Decimal(5m))), eligible: 0b001);
        Assert.Equal(0b001UL, v.Allowed);
        Assert.Equal(0b001UL, v.Preferred);
        Assert.Null(v.DecidingPolicy);
    }

    [Fact]
    public void Equal_priorities_share_the_preference_and_the_first_in_load_order_decides()
    {
        var v = Select("""
            @id("b") @priority(5) permit (principal, action, resource) when { resource.provider == "vllm" };
            @id("a") @priority(5) permit (principal, action, resource) when { resource.deployment == "gpt" };
            @id("low") permit (principal, action, resource);
            """, CedarRecord.Empty);
        Assert.Equal(0b111UL, v.Preferred);
        Assert.Equal("b", v.DecidingPolicy);
    }

    [Fact]
    public void All_forbidden_names_every_matching_forbid_in_load_order()
    {
        var v = Select("""
            @id("slow") forbid (principal, action, resource) when { resource.average_latency_ms > 150 };
            @id("never") forbid (principal, action, resource == Deployment::"nobody");
            @id("vllm") forbid (principal, action, resource in ModelGroup::"smart") when { resource.provider == "vllm" };
            @id("yes") permit (principal, action, resource);
            """, CedarRecord.Empty);
        Assert.Equal(0UL, v.Allowed);
        Assert.True(v.AllForbidden(0b111));
        Assert.Equal(["slow", "vllm"], v.ForbiddingPolicies.ToArray());
    }

    [Fact]
    public void Explain_gives_every_candidates_reasons_and_the_errors()
    {
        var v = Select(PolicyRoutingFixture.SeedPolicies, Context(("cost_budget_remaining", CedarValue.Decimal(5m))), explain: true);
        var byId = v.Candidates!.ToDictionary(c => c.Deployment);
        // latency_sla_ms is absent: policy1 errors (and is skipped) for every candidate.
        Assert.Equal(["error: policy1: ", "permit(@priority 100): policy0"], byId["llama"].Reasons.Select(r => r.StartsWith("error: ", StringComparison.Ordinal) ? "error: policy1: " : r).ToArray());
        Assert.True(byId["llama"].Preferred);
        Assert.Equal(["forbid: policy2", "permit(@priority 100): policy0"], byId["flaky"].Reasons.Where(r => !r.StartsWith("error: ", StringComparison.Ordinal)).ToArray());
        Assert.False(byId["flaky"].Allowed);
        Assert.Equal("openai", byId["gpt"].Provider);
        // Once in the list of errors.
        Assert.Single(v.Errors, e => e.StartsWith("policy1: ", StringComparison.Ordinal));
        Assert.Contains(byId["gpt"].Reasons, r => r.StartsWith("error: policy1: ", StringComparison.Ordinal));
    }

    [Fact]
    public void Policies_for_other_actions_do_not_take_part()
    {
        var v = Select("""
            forbid (principal, action == Action::"something_else", resource);
            @priority(3) permit (principal, action in [Action::"routing:select_model"], resource) when { resource.deployment == "gpt" };
            """, CedarRecord.Empty);
        Assert.Equal(0b111UL, v.Allowed);
        Assert.Equal(0b001UL, v.Preferred);
        Assert.Equal("policy1", v.DecidingPolicy);
    }

    [Fact]
    public void Policies_see_the_error_rate_to_six_digits()
    {
        var entity = Deployment("edge", "vllm", errorRate: 0.0504);
        Assert.True(entity.TryGetAttribute("current_error_rate", out var rate));
        Assert.Equal(0.0504m, rate.AsDecimal);
        var set = Set("forbid(principal, action, resource) when { resource.current_error_rate > decimal(\"0.05\") };");
        var verdict = RoutingSelection.Select(set, PrincipalEntityFor("u1"), [entity], 0b1, CedarRecord.Empty, EntityStore.Empty, explain: false);
        Assert.Equal(0UL, verdict.Allowed);
    }
}
