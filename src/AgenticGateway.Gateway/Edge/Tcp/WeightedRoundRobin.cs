namespace AgenticGateway.Edge.Tcp;

/// <summary>
/// Smooth weighted round robin (each pick raises every item by its weight and lowers the chosen one by the total), so
/// weights 3:1 give a a b a, not a a a b — Traefik's TCP and UDP balancers spread the same way.
/// </summary>
internal sealed class WeightedRoundRobin<T>
{
    private readonly T[] _items;
    private readonly int[] _weights;
    private readonly int[] _current;
    private readonly int _total;
    private readonly Lock _lock = new();

    public WeightedRoundRobin(IReadOnlyList<(T Item, int Weight)> items)
    {
        _items = [.. items.Select(i => i.Item)];
        _weights = [.. items.Select(i => Math.Max(0, i.Weight))];
        _current = new int[_items.Length];
        _total = _weights.Sum();
    }

    public int Count => _items.Length;

    /// <summary>The next item, or false when there is none with a weight above zero.</summary>
    public bool TryNext(out T item)
    {
        item = default!;
        if (_total == 0)
            return false;
        lock (_lock)
        {
            var best = -1;
            for (var i = 0; i < _items.Length; i++)
            {
                _current[i] += _weights[i];
                if (best < 0 || _current[i] > _current[best])
                    best = i;
            }
            _current[best] -= _total;
            item = _items[best];
            return true;
        }
    }
}
