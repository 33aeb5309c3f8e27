using System.Collections.Immutable;

namespace AgenticGateway.Edge;

/// <summary>
/// One node of a Traefik configuration, read from YAML, TOML or our own config file alike: a map, a list or a scalar,
/// with the path a user sees in errors (<c>http.middlewares.auth.basicAuth.users[1]</c>). Traefik matches field names
/// without regard to case (its decoder does), so map lookups ignore case; the keys keep their spelling for messages.
/// Middlewares and services read their own options from these nodes (<see cref="EdgeOptions"/>), so a new middleware
/// needs no change to the parsers.
/// </summary>
internal sealed class EdgeNode
{
    private readonly ImmutableArray<KeyValuePair<string, EdgeNode>> _entries;
    private readonly ImmutableArray<EdgeNode> _items;

    private EdgeNode(string path, EdgeNodeKind kind, string? scalar, ImmutableArray<KeyValuePair<string, EdgeNode>> entries, ImmutableArray<EdgeNode> items)
    {
        Path = path;
        Kind = kind;
        Scalar = scalar;
        _entries = entries;
        _items = items;
    }

    public string Path { get; }
    public EdgeNodeKind Kind { get; }
    /// <summary>The text of a scalar (numbers and booleans as written; null for YAML's null); null for maps and lists.</summary>
    public string? Scalar { get; }
    /// <summary>A map's entries in file order; empty for other kinds.</summary>
    public ImmutableArray<KeyValuePair<string, EdgeNode>> Entries => _entries.IsDefault ? [] : _entries;
    /// <summary>A list's items; empty for other kinds.</summary>
    public ImmutableArray<EdgeNode> Items => _items.IsDefault ? [] : _items;

    public bool IsMap => Kind == EdgeNodeKind.Map;
    public bool IsList => Kind == EdgeNodeKind.List;
    public bool IsScalar => Kind == EdgeNodeKind.Scalar;

    /// <summary>A map's value for <paramref name="key"/>, matched without regard to case; null when absent or not a map.</summary>
    public EdgeNode? this[string key]
    {
        get
        {
            foreach (var (k, v) in Entries)
                if (string.Equals(k, key, StringComparison.OrdinalIgnoreCase)) return v;
            return null;
        }
    }

    public static string ChildPath(string parent, string key) => parent.Length == 0 ? key : $"{parent}.{key}";

    public static EdgeNode OfScalar(string path, string? text) => new(path, EdgeNodeKind.Scalar, text, default, default);

    public static EdgeNode OfMap(string path, IEnumerable<KeyValuePair<string, EdgeNode>> entries) =>
        new(path, EdgeNodeKind.Map, null, [.. entries], default);

    public static EdgeNode OfList(string path, IEnumerable<EdgeNode> items) => new(path, EdgeNodeKind.List, null, default, [.. items]);

    public static readonly EdgeNode EmptyMap = OfMap("", []);

    public override string ToString() => Kind switch
    {
        EdgeNodeKind.Scalar => Scalar ?? "null",
        EdgeNodeKind.List => $"[{string.Join(", ", Items)}]",
        _ => "{" + string.Join(", ", Entries.Select(e => $"{e.Key}: {e.Value}")) + "}",
    };
}

internal enum EdgeNodeKind { Scalar, Map, List }
