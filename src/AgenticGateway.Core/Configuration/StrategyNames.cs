namespace AgenticGateway.Configuration;

/// <summary>Routing strategy names as written in config, ours and LiteLLM's, mapped to one canonical name.</summary>
internal static class StrategyNames
{
    public const string SimpleShuffle = "simple-shuffle";
    public const string RoundRobin = "round-robin";
    public const string LeastBusy = "least-busy";
    public const string LatencyBased = "latency-based";
    public const string LowestCost = "lowest-cost";
    public const string UsageBased = "usage-based";

    public static readonly string[] Canonical = [SimpleShuffle, RoundRobin, LeastBusy, LatencyBased, LowestCost, UsageBased];

    public static string? Normalize(string name) => name.Trim().ToLowerInvariant() switch
    {
        "simple-shuffle" or "shuffle" or "weighted" => SimpleShuffle,
        "round-robin" or "roundrobin" => RoundRobin,
        "least-busy" => LeastBusy,
        "latency-based" or "latency-based-routing" or "lowest-latency" => LatencyBased,
        "lowest-cost" or "cost-based-routing" or "cost-based" => LowestCost,
        "usage-based" or "usage-based-routing" or "usage-based-routing-v2" or "lowest-tpm" => UsageBased,
        _ => null,
    };
}
