namespace AgenticGateway.Routing;

/// <summary>Deployments under one public model name, the strategy that picks among them, and where to fall back.</summary>
internal sealed class ModelGroup(string name, Deployment[] deployments, IRoutingStrategy strategy)
{
    public const int MaxDeployments = Configuration.DeploymentOptions.MaxPerGroup;

    public string Name { get; } = name;
    public Deployment[] Deployments { get; } = deployments;
    public IRoutingStrategy Strategy { get; } = strategy;
    public string? WildcardPrefix { get; } = name.EndsWith('*') ? name[..^1] : null;
    /// <summary>The access groups (LiteLLM's model_info.access_groups) of the group's deployments: a key listing one may use the group.</summary>
    public string[] AccessGroups { get; } = deployments.SelectMany(d => d.Options.AccessGroups).Distinct(StringComparer.Ordinal).ToArray();
    public GroupTarget[] Fallbacks { get; set; } = [];
    public GroupTarget[] ContextWindowFallbacks { get; set; } = [];
    public GroupTarget[] ContentPolicyFallbacks { get; set; } = [];

    /// <summary>
    /// Picks a deployment not in <paramref name="tried"/> (a bit mask) that is not cooling down; if every untried one
    /// is unavailable, allows a repeat of a tried one. Returns -1 when all are cooling down.
    /// </summary>
    /// <param name="probe">True when the pick is the half-open probe of a deployment leaving cooldown; the caller
    /// must end it (<see cref="DeploymentState.EndProbe"/>) whatever the outcome.</param>
    public int Pick(ulong tried, in RoutingInput input, long nowTicks, out bool probe) => Pick(tried, ulong.MaxValue, input, nowTicks, out probe);

    /// <param name="eligible">The deployments this request may use at all (tag routing), as a bit mask.</param>
    public int Pick(ulong tried, ulong eligible, in RoutingInput input, long nowTicks, out bool probe)
    {
        probe = false;
        var all = Deployments;
        ulong available = 0;
        for (var i = 0; i < all.Length; i++)
        {
            if (!all[i].State.IsCoolingDown(nowTicks)) available |= 1UL << i;
        }
        available &= eligible;
        var untried = available & ~tried;
        // Deployments that reached their rpm or tpm this minute are passed over while another has room; when none
        // has, the limits only steer and the request still goes to one of them.
        var withRoom = untried & UnderLimits(input.NowMinute);
        var index = withRoom == untried ? -1 : PickFrom(withRoom, input, nowTicks, out probe);
        if (index < 0) index = PickFrom(untried, input, nowTicks, out probe);
        // Every untried deployment may be busy with another request's probe: repeat a tried one rather than fail.
        return index >= 0 ? index : PickFrom(available & tried, input, nowTicks, out probe);
    }

    /// <summary>Deployments below their configured rpm and tpm in the current minute (this node's count).</summary>
    internal ulong UnderLimits(long nowMinute)
    {
        ulong mask = 0;
        var all = Deployments;
        for (var i = 0; i < all.Length; i++)
        {
            var o = all[i].Options;
            var full = (o.Rpm is > 0 && all[i].State.RequestsThisMinute(nowMinute) >= o.Rpm)
                || (o.Tpm is > 0 && all[i].State.TokensThisMinute(nowMinute) >= o.Tpm);
            if (!full) mask |= 1UL << i;
        }
        return mask;
    }

    private int PickFrom(ulong pool, in RoutingInput input, long nowTicks, out bool probe)
    {
        probe = false;
        var all = Deployments;
        while (pool != 0)
        {
            var index = all.Length == 1 ? 0 : Strategy.Pick(new Candidates(all, pool), input);
            // A deployment whose cooldown just ended admits one probe at a time; others look elsewhere.
            if (all[index].State.TryAcquire(nowTicks, out probe)) return index;
            pool &= ~(1UL << index);
        }
        return -1;
    }

    /// <summary>
    /// A choice without side effects for explanations (/route): the first deployment of <paramref name="pool"/> that is
    /// available and under its limits, else the first available one; -1 when none is. The strategy's pick is not
    /// simulated, so round-robin counters, probes and the like stay as they were.
    /// </summary>
    internal int FirstAvailable(ulong pool, long nowMinute, long nowTicks)
    {
        var index = First(pool & UnderLimits(nowMinute), nowTicks);
        return index >= 0 ? index : First(pool, nowTicks);
    }

    private int First(ulong pool, long nowTicks)
    {
        for (var i = 0; i < Deployments.Length; i++)
        {
            if ((pool & (1UL << i)) != 0 && Deployments[i].State.IsAvailable(nowTicks)) return i;
        }
        return -1;
    }

    /// <summary>Whether another deployment than those tried could take a retry right now.</summary>
    public bool HasUntriedAvailable(ulong tried, long nowTicks)
    {
        for (var i = 0; i < Deployments.Length; i++)
        {
            if ((tried & (1UL << i)) == 0 && Deployments[i].State.IsAvailable(nowTicks)) return true;
        }
        return false;
    }

    /// <summary>When the first deployment leaves cooldown (for Retry-After when all are cooling down).</summary>
    public long EarliestAvailableTicks() => Deployments.Min(d => d.State.CooldownUntilTicks);
}
