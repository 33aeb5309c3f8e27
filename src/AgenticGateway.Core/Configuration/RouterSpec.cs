using System.Collections.Immutable;
using YamlDotNet.RepresentationModel;
using AgenticGateway.Yaml;

namespace AgenticGateway.Configuration;

/// <summary>
/// Router settings being assembled, plus every model-group name the config refers to (fallbacks, aliases, per-group
/// strategies) with its path, checked once all deployments are known.
/// </summary>
internal sealed class RouterSpec
{
    public RouterOptions Options { get; set; } = new();
    public List<(string Path, string Group)> GroupReferences { get; } = [];
    public Dictionary<string, AliasOptions> Aliases { get; } = new(StringComparer.Ordinal);

    public string? ReadStrategy(ConfigMap map, string key)
    {
        var text = map.String(key);
        if (text is null) return null;
        var canonical = StrategyNames.Normalize(text);
        if (canonical is null)
            map.Context.Issues.Error(map.Child(key), $"unknown routing strategy '{text}' (known: {string.Join(", ", StrategyNames.Canonical)})");
        return canonical;
    }

    /// <summary>Reads fallbacks written either as a mapping {group: [targets]} or LiteLLM's list of one-key mappings.</summary>
    public ImmutableDictionary<string, ImmutableArray<string>> ReadFallbacks(ConfigMap map, string key, ImmutableDictionary<string, ImmutableArray<string>> existing)
    {
        var result = existing.ToBuilder();
        if (!map.Has(key)) return existing;
        if (map.RawNode(key) is YamlMappingNode)
        {
            AddFallbackMap(map.Map(key)!, result);
            return result.ToImmutable();
        }
        foreach (var (node, path) in map.Sequence(key))
        {
            var item = map.AsMap(node, path);
            if (item is not null) AddFallbackMap(item, result);
        }
        return result.ToImmutable();
    }

    private void AddFallbackMap(ConfigMap item, ImmutableDictionary<string, ImmutableArray<string>>.Builder result)
    {
        foreach (var group in item.Keys.ToList())
        {
            var targets = item.StringList(group);
            GroupReferences.Add((item.Child(group), group));
            for (var i = 0; i < targets.Length; i++) GroupReferences.Add(($"{item.Child(group)}[{i}]", targets[i]));
            result[group] = targets;
        }
    }

    public ImmutableArray<string> ReadGroupList(ConfigMap map, string key)
    {
        var list = map.StringList(key);
        for (var i = 0; i < list.Length; i++) GroupReferences.Add(($"{map.Child(key)}[{i}]", list[i]));
        return list;
    }
}
