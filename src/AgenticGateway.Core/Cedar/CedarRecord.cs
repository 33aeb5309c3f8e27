namespace AgenticGateway.Cedar;

/// <summary>A Cedar record: attributes by name. Immutable after construction.</summary>
internal sealed class CedarRecord : IEquatable<CedarRecord>
{
    private readonly Dictionary<string, CedarValue> _attributes;

    public CedarRecord(IEnumerable<KeyValuePair<string, CedarValue>> attributes)
    {
        _attributes = new Dictionary<string, CedarValue>(StringComparer.Ordinal);
        foreach (var (name, value) in attributes)
            _attributes[name] = value;
    }

    public static CedarRecord Empty { get; } = new([]);

    public bool TryGet(string name, out CedarValue value) => _attributes.TryGetValue(name, out value);

    public IEnumerable<KeyValuePair<string, CedarValue>> Attributes => _attributes;

    public int Count => _attributes.Count;

    public bool Equals(CedarRecord? other)
    {
        if (other is null || other.Count != Count)
            return false;
        if (ReferenceEquals(this, other))
            return true;
        foreach (var (name, value) in _attributes)
            if (!other._attributes.TryGetValue(name, out var theirs) || !value.Equals(theirs))
                return false;
        return true;
    }

    public override bool Equals(object? obj) => obj is CedarRecord other && Equals(other);

    public override int GetHashCode()
    {
        var hash = Count;
        foreach (var (name, value) in _attributes)
            hash ^= HashCode.Combine(StringComparer.Ordinal.GetHashCode(name), value);
        return hash;
    }

    public override string ToString() =>
        "{" + string.Join(", ", _attributes.OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => $"{CedarText.Quote(a.Key)}: {a.Value}")) + "}";
}
