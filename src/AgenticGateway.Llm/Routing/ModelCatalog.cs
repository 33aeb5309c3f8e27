using System.Collections.Frozen;

namespace AgenticGateway.Routing;

/// <summary>Resolves a requested model name to its group: exact name, alias, or the longest matching wildcard.</summary>
internal sealed class ModelCatalog
{
    private readonly FrozenDictionary<string, ModelGroup> _byName;
    private readonly FrozenDictionary<string, ModelGroup>.AlternateLookup<ReadOnlySpan<char>> _bySpan;
    private readonly ModelGroup[] _wildcards;

    public ModelCatalog(IReadOnlyList<ModelGroup> groups, IReadOnlyDictionary<string, (ModelGroup Group, bool Hidden, string Target)> aliases, GroupTarget[] defaultFallbacks)
    {
        Groups = groups;
        var map = new Dictionary<string, ModelGroup>(StringComparer.Ordinal);
        foreach (var g in groups) if (g.WildcardPrefix is null) map[g.Name] = g;
        foreach (var (alias, (group, _, _)) in aliases) map[alias] = group;
        _byName = map.ToFrozenDictionary(StringComparer.Ordinal);
        _bySpan = _byName.GetAlternateLookup<ReadOnlySpan<char>>();
        _wildcards = [.. groups.Where(g => g.WildcardPrefix is not null).OrderByDescending(g => g.WildcardPrefix!.Length)];
        Aliases = aliases;
        DefaultFallbacks = defaultFallbacks;
    }

    public IReadOnlyList<ModelGroup> Groups { get; }
    public IReadOnlyDictionary<string, (ModelGroup Group, bool Hidden, string Target)> Aliases { get; }
    public GroupTarget[] DefaultFallbacks { get; }

    public bool TryResolve(ReadOnlySpan<char> model, out ModelGroup group)
    {
        if (_bySpan.TryGetValue(model, out group!)) return true;
        foreach (var w in _wildcards)
        {
            if (model.StartsWith(w.WildcardPrefix, StringComparison.Ordinal)) { group = w; return true; }
        }
        group = null!;
        return false;
    }

    public bool TryResolve(string model, out ModelGroup group) => TryResolve(model.AsSpan(), out group);

    /// <summary>
    /// The name a wildcard group builds its upstream model from: an alias's target (an alias of
    /// <c>openai/gpt-4o</c> onto <c>openai/*</c> sends <c>gpt-4o</c>), else the name itself.
    /// </summary>
    public string WildcardName(string model) => Aliases.TryGetValue(model, out var a) ? a.Target : model;

    /// <summary>Public names for /v1/models: groups (wildcards excluded) and aliases not marked hidden.</summary>
    public IEnumerable<(string Id, string OwnedBy)> PublicModels()
    {
        foreach (var g in Groups)
        {
            if (g.WildcardPrefix is null) yield return (g.Name, g.Deployments[0].ProviderName);
        }
        foreach (var (alias, (group, hidden, _)) in Aliases)
        {
            if (!hidden) yield return (alias, group.Deployments[0].ProviderName);
        }
    }
}

/// <summary>A fallback target: its group, and the name it was configured by (what a wildcard group substitutes from).</summary>
internal readonly record struct GroupTarget(ModelGroup Group, string Name);
