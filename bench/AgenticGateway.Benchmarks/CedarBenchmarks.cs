using AgenticGateway.Cedar;
using AgenticGateway.Routing;
using BenchmarkDotNet.Attributes;

namespace AgenticGateway.Benchmarks;

/// <summary>
/// Policy routing's cost per request: 20 routing policies (seed 003's three and seventeen more of the kinds operators
/// write: budgets, SLAs, error rates, regions, teams, tags, prices, hours) evaluated against the 3 candidate
/// deployments of a model group, every applicable policy for every candidate, as the router does. Target ≤ 20 µs.
/// </summary>
[MemoryDiagnoser]
public class CedarBenchmarks
{
    internal const string Policies = """
        // Prefer self-hosted when budget is low
        @priority(100)
        permit (principal, action == "routing:select_model", resource)
        when {
            context.cost_budget_remaining < 10.0 &&
            resource.provider == "vllm"
        };

        // Forbid slow models for tight latency SLAs
        @priority(85)
        forbid (principal, action == "routing:select_model", resource)
        when {
            context.latency_sla_ms < 500 &&
            resource.average_latency_ms > context.latency_sla_ms
        };

        // Circuit breaker for high error rates
        forbid (principal, action == "routing:select_model", resource)
        when { resource.current_error_rate > 0.05 };

        @id("eu-data-stays-in-eu") forbid (principal in Team::"eu-legal", action == "routing:select_model", resource)
        when { resource has region && !(resource.region like "eu-*") };
        @id("premium-team-prefers-openai") @priority(60) permit (principal in Team::"premium", action == "routing:select_model", resource)
        when { resource.provider == "openai" };
        @id("cheap-for-embeddings") @priority(70) permit (principal, action == "routing:select_model", resource)
        when { context.operation == "embeddings" && resource.input_cost_per_token < 0.0000005 };
        @id("no-cooling") forbid (principal, action == "routing:select_model", resource) when { resource.cooling_down };
        @id("busy") forbid (principal, action == "routing:select_model", resource) when { resource.in_flight > 200 };
        @id("big-prompts-need-big-windows") forbid (principal, action == "routing:select_model", resource)
        when { resource has max_input_tokens && context.request_bytes > resource.max_input_tokens * 3 };
        @id("gpu-tag") @priority(40) permit (principal, action == "routing:select_model", resource)
        when { resource.tags.contains("gpu") && context.tags.containsAny(["batch", "offline"]) };
        @id("night-batch") @priority(30) permit (principal, action == "routing:select_model", resource)
        when { context.hour < 6 && resource.provider == "vllm" };
        @id("weekend-cheap") @priority(20) permit (principal, action == "routing:select_model", resource)
        when { ["saturday", "sunday"].contains(context.day_of_week) && resource.output_cost_per_token <= 0.000002 };
        @id("admins-anything") @priority(10) permit (principal, action == "routing:select_model", resource)
        when { principal.is_admin };
        @id("interns-no-premium") forbid (principal, action == "routing:select_model", resource)
        when { principal.tags.contains("intern") && resource.tags.contains("premium") };
        @id("streaming-latency") forbid (principal, action == "routing:select_model", resource)
        when { context.stream && resource has time_to_first_token_ms && resource.time_to_first_token_ms > 2000 };
        @id("spend-guard") forbid (principal, action == "routing:select_model", resource)
        when { context has max_budget && context.spend > context.max_budget * 0.9 && resource.provider != "vllm" };
        @id("group-smart") @priority(5) permit (principal, action == "routing:select_model", resource in ModelGroup::"smart")
        unless { resource.current_error_rate > 0.02 };
        @id("model-pin") @priority(90) permit (principal, action == "routing:select_model", resource)
        when { principal.metadata has pinned_model && principal.metadata.pinned_model == resource.model };
        @id("old-models") forbid (principal, action == "routing:select_model", resource) when { resource.model like "*-0314" };
        @id("other-action") permit (principal, action == Action::"admin:view", resource);
        """;

    private PolicySet _set = null!;
    private CedarRequest[] _requests = [];
    private IEntityStore _store = null!;
    private RouterBaseline _router = null!;

    [GlobalSetup]
    public void Setup()
    {
        var load = PolicySet.Load([new PolicySource("routing.cedar", Policies)]);
        if (!load.Succeeded)
            throw new InvalidOperationException(string.Join("\n", load.Errors));
        _set = load.Set!;
        var group = new EntityUid("ModelGroup", "smart");
        var principal = new CedarEntity(new EntityUid("Key", "team-a-key"), Attrs(
            ("key_alias", CedarValue.String("team-a-key")), ("team_id", CedarValue.String("premium")), ("is_admin", CedarValue.False),
            ("tags", CedarValue.Set([CedarValue.String("staff")])), ("metadata", CedarValue.Record(Attrs(("cost_center", CedarValue.String("42")))))),
            [new EntityUid("User", "u1"), new EntityUid("Team", "premium")]);
        var action = new CedarEntity(new EntityUid("Action", "routing:select_model"), CedarRecord.Empty, []);
        var context = Attrs(("cost_budget_remaining", CedarValue.Decimal(8.5m)), ("spend", CedarValue.Decimal(41.5m)), ("max_budget", CedarValue.Decimal(50m)),
            ("latency_sla_ms", CedarValue.Long(450)), ("now", CedarValue.Long(1_765_000_000)), ("hour", CedarValue.Long(14)),
            ("day_of_week", CedarValue.String("monday")), ("request_bytes", CedarValue.Long(5_000)), ("requested_model", CedarValue.String("smart")),
            ("model_group", CedarValue.String("smart")), ("operation", CedarValue.String("chat")), ("stream", CedarValue.True),
            ("tags", CedarValue.Set([CedarValue.String("interactive")])));
        var candidates = new[]
        {
            Deployment("gpt-4o-openai", "openai", "gpt-4o", "us-east-1", 0.0000025m, 0.00001m, 900m, 0.001m, 4, ["premium"], group),
            Deployment("claude-anthropic", "anthropic", "claude-sonnet-4-5", "eu-west-1", 0.000003m, 0.000015m, 700m, 0.03m, 12, ["premium"], group),
            Deployment("llama-vllm", "vllm", "llama-3.3-70b", null, 0.0000002m, 0.0000006m, 300m, 0.0m, 1, ["gpu", "self-hosted"], group),
        };
        _requests = [.. candidates.Select(c => new CedarRequest(principal, action, c, context))];
        // The same three deployments as a model group the router picks from without policies: the Ratio column's 1.0.
        _router = new RouterBaseline([
            (RouterBaseline.Options("gpt-4o-openai", "openai", "gpt-4o", 0.0000025m, 0.00001m, ["premium"]), new DeploymentState()),
            (RouterBaseline.Options("claude-anthropic", "anthropic", "claude-sonnet-4-5", 0.000003m, 0.000015m, ["premium"]), new DeploymentState()),
            (RouterBaseline.Options("llama-vllm", "vllm", "llama-3.3-70b", 0.0000002m, 0.0000006m, ["gpu", "self-hosted"]), new DeploymentState()),
        ]);
        _store = new EntityStore([new CedarEntity(new EntityUid("Team", "premium"), CedarRecord.Empty, []), new CedarEntity(group, CedarRecord.Empty, [])]);
    }

    /// <summary>The router's own pick among the same 3 deployments, no policies: the baseline of the Ratio column.</summary>
    [Benchmark(Baseline = true)]
    public int RouterPickWithoutPolicies() => _router.Pick(stream: true);

    /// <summary>Every applicable policy against every candidate: one request's routing decision.</summary>
    [Benchmark]
    public int EvaluateRequest()
    {
        var satisfied = 0;
        foreach (ref readonly var request in _requests.AsSpan())
        {
            foreach (var i in _set.PoliciesFor(request.Action.Uid))
                if (_set.Evaluate(i, request, _store, out _) == PolicyOutcome.Satisfied)
                    satisfied++;
        }
        return satisfied;
    }

    private static CedarRecord Attrs(params (string Name, CedarValue Value)[] attributes) =>
        new(attributes.Select(a => new KeyValuePair<string, CedarValue>(a.Name, a.Value)));

    private static CedarEntity Deployment(string id, string provider, string model, string? region, decimal input, decimal output,
        decimal latency, decimal errorRate, long inFlight, string[] tags, EntityUid group)
    {
        var attributes = new List<(string, CedarValue)>
        {
            ("deployment", CedarValue.String(id)), ("model_group", CedarValue.String("smart")), ("provider", CedarValue.String(provider)),
            ("model", CedarValue.String(model)), ("tags", CedarValue.Set([.. tags.Select(CedarValue.String)])),
            ("input_cost_per_token", CedarValue.Decimal(input)), ("output_cost_per_token", CedarValue.Decimal(output)),
            ("max_input_tokens", CedarValue.Long(128_000)), ("average_latency_ms", CedarValue.Decimal(latency)),
            ("current_error_rate", CedarValue.Decimal(errorRate)), ("in_flight", CedarValue.Long(inFlight)), ("cooling_down", CedarValue.False),
        };
        if (region is not null)
            attributes.Add(("region", CedarValue.String(region)));
        return new CedarEntity(new EntityUid("Deployment", id), Attrs([.. attributes]), [group]);
    }
}
