namespace AgenticGateway.Routing;

/// <summary>Chooses one deployment of a group for a request. Chosen by name from config, per group.</summary>
internal interface IRoutingStrategy
{
    string Name { get; }

    /// <summary>Returns the index into <c>candidates.All</c> of the chosen deployment; candidates is never empty.</summary>
    int Pick(in Candidates candidates, in RoutingInput input);
}

/// <summary>What a strategy may look at besides the deployments: whether the request streams, and the clock.</summary>
internal readonly record struct RoutingInput(bool Stream, long NowMinute);

/// <summary>The eligible deployments of a group, as a bit mask over its array: picking allocates nothing.</summary>
internal readonly struct Candidates(Deployment[] all, ulong mask)
{
    public Deployment[] All { get; } = all;
    public ulong Mask { get; } = mask;
    public int Count => System.Numerics.BitOperations.PopCount(Mask);
    public bool Contains(int index) => (Mask & (1UL << index)) != 0;

    /// <summary>The n-th eligible index (0-based), for uniform random choice.</summary>
    public int NthIndex(int n)
    {
        var m = Mask;
        for (var i = 0; i < n; i++) m &= m - 1;
        return System.Numerics.BitOperations.TrailingZeroCount(m);
    }

    public int Random() => NthIndex(System.Random.Shared.Next(Count));
}
