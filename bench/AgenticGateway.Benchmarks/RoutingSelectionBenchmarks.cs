using AgenticGateway.Configuration;
using AgenticGateway.Policies;
using AgenticGateway.Cedar;
using AgenticGateway.Routing;
using BenchmarkDotNet.Attributes;

namespace AgenticGateway.Benchmarks;

/// <summary>
/// What the router pays per judged model group with 20 policies (<see cref="CedarBenchmarks.Policies"/>): the selection
/// over 3 deployments whose live attributes (latency, error rate, in-flight, cooldown) are read from their run-time
/// state, plus the per-request context record. <c>Select</c> is the request path; <c>SelectExplained</c> what /route,
/// sampled decisions and dry-run disagreements pay. Target ≤ 20 µs.
/// </summary>
[MemoryDiagnoser]
public class RoutingSelectionBenchmarks
{
    private PolicySet _set = null!;
    private ICedarEntity[] _candidates = [];
    private ICedarEntity _principal = null!;
    private RouterBaseline _router = null!;

    [GlobalSetup]
    public void Setup()
    {
        var load = PolicySet.Load([new PolicySource("routing.cedar", CedarBenchmarks.Policies)]);
        if (!load.Succeeded) throw new InvalidOperationException(string.Join("\n", load.Errors));
        _set = load.Set!;
        var now = DateTimeOffset.UtcNow.UtcTicks;
        (DeploymentOptions, DeploymentState)[] deployments =
        [
            Deployment("gpt-4o-openai", "openai", "gpt-4o", 0.9, now),
            Deployment("claude-anthropic", "anthropic", "claude-sonnet-4-5", 0.7, now),
            Deployment("llama-vllm", "vllm", "llama-3.3-70b", 0.3, now),
        ];
        // The policies read the same options and run-time state the router picks from without them (the baseline).
        _candidates = [.. deployments.Select(d => (ICedarEntity)new DeploymentEntity(d.Item1, d.Item2))];
        _router = new RouterBaseline(deployments);
        _principal = new CedarEntity(new EntityUid("Key", "team-a-key"), new CedarRecord([
            new("key_alias", CedarValue.String("team-a-key")), new("team_id", CedarValue.String("premium")), new("is_admin", CedarValue.False),
            new("tags", CedarValue.Set([CedarValue.String("staff")])), new("metadata", CedarValue.Record(CedarRecord.Empty))]),
            [new EntityUid("User", "u1"), new EntityUid("Team", "premium")]);
    }

    private static (DeploymentOptions, DeploymentState) Deployment(string id, string provider, string model, double latencySeconds, long now)
    {
        var state = new DeploymentState();
        state.RecordSuccess(latencySeconds, null, now);
        return (new DeploymentOptions
        {
            Id = id, ModelName = "smart", Provider = provider, Model = model, ApiBase = new Uri("http://localhost/"), MaxInputTokens = 128_000,
            Price = new Pricing.ModelPrice { InputPerToken = 0.000001m, OutputPerToken = 0.000002m },
        }, state);
    }

    private static CedarRecord Context() => new([
        new("cost_budget_remaining", CedarValue.Decimal(8.5m)), new("spend", CedarValue.Decimal(41.5m)), new("max_budget", CedarValue.Decimal(50m)),
        new("latency_sla_ms", CedarValue.Long(450)), new("now", CedarValue.Long(1_765_000_000)), new("hour", CedarValue.Long(14)),
        new("day_of_week", CedarValue.String("monday")), new("request_bytes", CedarValue.Long(5_000)), new("requested_model", CedarValue.String("smart")),
        new("model_group", CedarValue.String("smart")), new("operation", CedarValue.String("chat")), new("stream", CedarValue.True),
        new("tags", CedarValue.Set([CedarValue.String("interactive")]))]);

    /// <summary>The router's own pick among the same 3 deployments, no policies: the baseline of the Ratio column.</summary>
    [Benchmark(Baseline = true)]
    public int RouterPickWithoutPolicies() => _router.Pick(stream: true);

    [Benchmark]
    public ulong Select() => RoutingSelection.Select(_set, _principal, _candidates, 0b111, Context(), EntityStore.Empty, explain: false).Preferred;

    [Benchmark]
    public int SelectExplained() => RoutingSelection.Select(_set, _principal, _candidates, 0b111, Context(), EntityStore.Empty, explain: true).Candidates!.Length;
}
