namespace AgenticGateway.Edge.Runtime;

/// <summary>
/// A built HTTP service: a load balancer over servers, a weighted or failover choice between services, a mirror, or one
/// of the gateway's own (<c>llm@internal</c>, ...). Built once per configuration snapshot.
/// </summary>
internal abstract class EdgeService(string name)
{
    /// <summary>The service's full name (<c>whoami@file</c>).</summary>
    public string Name { get; } = name;

    /// <summary>
    /// Whether the service can serve: some server is healthy (a load balancer without health checks is always up).
    /// Weighted and failover services read it to pass over a child that cannot.
    /// </summary>
    public abstract bool IsUp { get; }

    public abstract Task InvokeAsync(HttpContext context);

    /// <summary>Each server's URL and status (UP or DOWN), for Traefik's API.</summary>
    public virtual IReadOnlyList<KeyValuePair<string, string>> ServerStatus => [];

    /// <summary>Starts background work (health checks) bound to the snapshot's lifetime.</summary>
    public virtual void Start(CancellationToken stopping) { }
}

/// <summary>
/// Smooth weighted round robin (nginx's): each pick adds every candidate's weight to its running score and takes the
/// highest, which spreads a 3:1 split as a a b a rather than a a a b. The order is computed once as a fixed cycle, so
/// a pick is one interlocked increment: no lock on the request path. Candidates that cannot serve are passed over.
/// </summary>
internal sealed class WeightedCycle
{
    private readonly int[] _order;
    private int _next = -1;

    public WeightedCycle(IReadOnlyList<int> weights)
    {
        // Bring large weights down by their common divisor so the cycle stays short (and capped).
        var g = weights.Where(w => w > 0).Aggregate(0, Gcd);
        var scaled = weights.Select(w => w <= 0 ? 0 : w / Math.Max(g, 1)).ToArray();
        var total = scaled.Sum();
        if (total > 10_000)
        {
            var factor = total / 10_000.0;
            scaled = scaled.Select(w => w == 0 ? 0 : Math.Max(1, (int)Math.Round(w / factor))).ToArray();
            total = scaled.Sum();
        }
        var order = new int[Math.Max(total, 0)];
        var current = new int[scaled.Length];
        for (var i = 0; i < order.Length; i++)
        {
            var best = -1;
            for (var c = 0; c < scaled.Length; c++)
            {
                if (scaled[c] == 0) continue;
                current[c] += scaled[c];
                if (best < 0 || current[c] > current[best]) best = c;
            }
            current[best] -= total;
            order[i] = best;
        }
        _order = order;
    }

    /// <summary>The next candidate for which <paramref name="usable"/> holds, or -1 when none does.</summary>
    public int Next<TState>(Func<int, TState, bool> usable, TState state)
    {
        if (_order.Length == 0) return -1;
        for (var tries = 0; tries < _order.Length; tries++)
        {
            var i = (int)((uint)Interlocked.Increment(ref _next) % (uint)_order.Length);
            if (usable(_order[i], state)) return _order[i];
        }
        return -1;
    }

    private static int Gcd(int a, int b) => b == 0 ? a : Gcd(b, a % b);
}
