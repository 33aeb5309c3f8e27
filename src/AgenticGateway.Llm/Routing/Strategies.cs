using AgenticGateway.Configuration;
namespace AgenticGateway.Routing;

/// <summary>Weighted random choice, weights from weight, else rpm, else tpm, else equal (LiteLLM's simple-shuffle).</summary>
internal sealed class SimpleShuffleStrategy : IRoutingStrategy
{
    public string Name => StrategyNames.SimpleShuffle;

    public int Pick(in Candidates candidates, in RoutingInput input)
    {
        double total = 0;
        var all = candidates.All;
        for (var i = 0; i < all.Length; i++) if (candidates.Contains(i)) total += Weight(all[i]);
        if (total <= 0) return candidates.Random();
        var r = Random.Shared.NextDouble() * total;
        var last = -1;
        for (var i = 0; i < all.Length; i++)
        {
            if (!candidates.Contains(i)) continue;
            last = i;
            r -= Weight(all[i]);
            if (r < 0) return i;
        }
        return last;
    }

    private static double Weight(Deployment d) => d.Options.Weight ?? d.Options.Rpm ?? d.Options.Tpm ?? 1;
}

/// <summary>Takes deployments in turn.</summary>
internal sealed class RoundRobinStrategy : IRoutingStrategy
{
    private int _next = -1;
    public string Name => StrategyNames.RoundRobin;

    public int Pick(in Candidates candidates, in RoutingInput input)
    {
        var n = candidates.All.Length;
        var start = (int)((uint)Interlocked.Increment(ref _next) % (uint)n);
        for (var k = 0; k < n; k++)
        {
            var i = (start + k) % n;
            if (candidates.Contains(i)) return i;
        }
        return candidates.NthIndex(0);
    }
}

/// <summary>Fewest requests in flight; ties broken at random so equal deployments share load.</summary>
internal sealed class LeastBusyStrategy : IRoutingStrategy
{
    public string Name => StrategyNames.LeastBusy;

    public int Pick(in Candidates candidates, in RoutingInput input)
    {
        var all = candidates.All;
        var offset = Random.Shared.Next(all.Length);
        int best = -1, bestLoad = int.MaxValue;
        for (var k = 0; k < all.Length; k++)
        {
            var i = (k + offset) % all.Length;
            if (!candidates.Contains(i)) continue;
            var load = all[i].State.InFlight;
            if (load < bestLoad) { best = i; bestLoad = load; }
        }
        return best;
    }
}

/// <summary>
/// Lowest smoothed latency (time to first token for streams). A deployment without measurements is tried first,
/// so a new or recovered deployment gets sampled.
/// </summary>
internal sealed class LatencyBasedStrategy : IRoutingStrategy
{
    public string Name => StrategyNames.LatencyBased;

    public int Pick(in Candidates candidates, in RoutingInput input)
    {
        var all = candidates.All;
        var offset = Random.Shared.Next(all.Length);
        int best = -1;
        var bestLatency = double.MaxValue;
        for (var k = 0; k < all.Length; k++)
        {
            var i = (k + offset) % all.Length;
            if (!candidates.Contains(i)) continue;
            var state = all[i].State;
            var latency = input.Stream && !double.IsNaN(state.TimeToFirstTokenSeconds) ? state.TimeToFirstTokenSeconds : state.LatencySeconds;
            if (double.IsNaN(latency))
            {
                // Not measured yet: sample it when idle; while its first request runs, measured ones go first.
                if (state.InFlight == 0) return i;
                latency = double.MaxValue / 2;
            }
            if (latency < bestLatency) { best = i; bestLatency = latency; }
        }
        return best;
    }
}

/// <summary>
/// Cheapest by <see cref="Deployment.Price"/>, compared on a reference request of 1,000 prompt and 1,000 completion
/// tokens (so a per-request price counts too); a deployment without a known price counts as most expensive.
/// </summary>
internal sealed class LowestCostStrategy : IRoutingStrategy
{
    private const decimal ReferenceTokens = 1000;
    public string Name => StrategyNames.LowestCost;

    public int Pick(in Candidates candidates, in RoutingInput input)
    {
        var all = candidates.All;
        var offset = Random.Shared.Next(all.Length);
        int best = -1;
        var bestCost = decimal.MaxValue;
        for (var k = 0; k < all.Length; k++)
        {
            var i = (k + offset) % all.Length;
            if (!candidates.Contains(i)) continue;
            var cost = all[i].Price is { } p ? (p.InputPerToken + p.OutputPerToken) * ReferenceTokens + p.PerRequest : decimal.MaxValue - 1;
            if (cost < bestCost) { best = i; bestCost = cost; }
        }
        return best;
    }
}

/// <summary>Least token usage this minute relative to the deployment's tpm (LiteLLM's usage-based routing).</summary>
internal sealed class UsageBasedStrategy : IRoutingStrategy
{
    public string Name => StrategyNames.UsageBased;

    public int Pick(in Candidates candidates, in RoutingInput input)
    {
        var all = candidates.All;
        var offset = Random.Shared.Next(all.Length);
        int best = -1;
        var bestUse = double.MaxValue;
        for (var k = 0; k < all.Length; k++)
        {
            var i = (k + offset) % all.Length;
            if (!candidates.Contains(i)) continue;
            var d = all[i];
            double used = d.State.TokensThisMinute(input.NowMinute);
            var use = d.Options.Tpm is > 0 ? used / d.Options.Tpm.Value : used;
            if (d.Options.Rpm is > 0 && d.State.RequestsThisMinute(input.NowMinute) >= d.Options.Rpm) use += 1e12;
            if (use < bestUse) { best = i; bestUse = use; }
        }
        return best;
    }
}

internal static class RoutingStrategies
{
    /// <summary>A fresh instance per group: round-robin keeps its own turn.</summary>
    public static IRoutingStrategy Create(string canonicalName) => canonicalName switch
    {
        StrategyNames.RoundRobin => new RoundRobinStrategy(),
        StrategyNames.LeastBusy => new LeastBusyStrategy(),
        StrategyNames.LatencyBased => new LatencyBasedStrategy(),
        StrategyNames.LowestCost => new LowestCostStrategy(),
        StrategyNames.UsageBased => new UsageBasedStrategy(),
        _ => new SimpleShuffleStrategy(),
    };
}
