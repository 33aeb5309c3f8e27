using System.Collections.Immutable;
using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace AgenticGateway.Yaml;

/// <summary>
/// A YAML mapping read with its path: every typed read reports a bad value as an error at that path, and keys
/// never read are reported at the end (errors in our schema, warnings in a LiteLLM file).
/// </summary>
internal sealed class ConfigMap
{
    private readonly YamlMappingNode _node;
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);

    public ConfigMap(YamlMappingNode node, string path, ConfigContext context)
    {
        _node = node;
        Path = path;
        Context = context;
    }

    public string Path { get; }
    public ConfigContext Context { get; }
    private ConfigIssues Issues => Context.Issues;

    public string Child(string key) => Path.Length == 0 ? key : $"{Path}.{key}";

    public IEnumerable<string> Keys => _node.Children.Keys.OfType<YamlScalarNode>().Select(k => k.Value ?? "");

    public bool Has(string key) => Find(key) is not null;

    private YamlNode? Find(string key)
    {
        _read.Add(key);
        return _node.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;
    }

    public void MarkRead(string key) => _read.Add(key);

    public bool WasRead(string key) => _read.Contains(key);

    /// <summary>The raw node without marking the key read (it is still reported as unknown unless read later).</summary>
    public YamlNode? Peek(string key) => _node.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    public YamlNode? RawNode(string key) => Find(key);

    /// <summary>A scalar as text, environment references expanded; null when absent or YAML null.</summary>
    public string? String(string key)
    {
        var node = Find(key);
        if (node is null) return null;
        return ScalarText(node, Child(key));
    }

    /// <summary>
    /// An authentication secret (a master key, a JWT secret) read like <see cref="String"/>, except that a value naming an
    /// environment variable (<c>os.environ/NAME</c>, <c>${NAME}</c>) which is unset or empty is an error, not a warning:
    /// an empty secret means no authentication, and a typo in a variable name must not open the gateway.
    /// </summary>
    public string? AuthSecret(string key)
    {
        var node = Find(key);
        if (node is null) return null;
        var path = Child(key);
        if (node is not YamlScalarNode { Value: { } raw } || !(raw.StartsWith("os.environ/", StringComparison.Ordinal) || raw.Contains("${", StringComparison.Ordinal)))
            return ScalarText(node, path);
        // The "is not set" warning Expand gives is replaced by the error below; its other errors (an unterminated ${) stay.
        var scratch = new ConfigIssues();
        var value = Context.Env.Expand(raw, path, scratch);
        foreach (var error in scratch.Errors) Issues.Error("", error);
        if (!string.IsNullOrWhiteSpace(value)) return value;
        Issues.Error(path, $"'{raw}' names an environment variable that is not set or is empty, and {key} is an authentication secret: "
            + $"the gateway would run without it. Set the variable, or remove {key}");
        return null;
    }

    public string? ScalarText(YamlNode node, string path)
    {
        if (node is not YamlScalarNode scalar)
        {
            Issues.Error(path, "expected a scalar value");
            return null;
        }
        if (scalar.Style == YamlDotNet.Core.ScalarStyle.Plain && (scalar.Value is null or "~" or "null" or "")) return null;
        return Context.Env.Expand(scalar.Value ?? "", path, Issues);
    }

    /// <summary>
    /// A scalar read as a number: a plain one as PyYAML resolves it (YAML 1.1: <c>20_000</c>, <c>0x1F</c>, <c>1:30</c>),
    /// normalized to decimal text; any other (quoted, or from the environment) as its text.
    /// </summary>
    private string? NumberText(string key)
    {
        var node = Find(key);
        if (node is null) return null;
        if (node is YamlScalarNode { Style: YamlDotNet.Core.ScalarStyle.Plain, Value: { Length: > 0 } plain } && Yaml11Numbers.Normalize(plain) is { } number)
            return number;
        return ScalarText(node, Child(key));
    }

    public int? Int(string key, int min = int.MinValue, int max = int.MaxValue)
    {
        var text = NumberText(key);
        if (text is null) return null;
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) &&
            !(double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d == Math.Floor(d) && d is >= int.MinValue and <= int.MaxValue && (v = (int)d) == d))
        {
            Issues.Error(Child(key), $"expected an integer, got '{text}'");
            return null;
        }
        if (v < min || v > max)
        {
            Issues.Error(Child(key), max == int.MaxValue ? $"must be >= {min}, got {v}" : $"must be between {min} and {max}, got {v}");
            return null;
        }
        return v;
    }

    public long? Long(string key, long min = 0)
    {
        var text = NumberText(key);
        if (text is null) return null;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) || d != Math.Floor(d) || d > long.MaxValue)
        {
            Issues.Error(Child(key), $"expected an integer, got '{text}'");
            return null;
        }
        if (d < min) { Issues.Error(Child(key), $"must be >= {min}, got {text}"); return null; }
        return (long)d;
    }

    public double? Double(string key, double min = double.MinValue)
    {
        var text = NumberText(key);
        if (text is null) return null;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v))
        {
            Issues.Error(Child(key), $"expected a number, got '{text}'");
            return null;
        }
        if (v < min) { Issues.Error(Child(key), $"must be >= {min}, got {text}"); return null; }
        return v;
    }

    public decimal? Decimal(string key)
    {
        var text = NumberText(key);
        if (text is null) return null;
        if (!decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || v < 0)
        {
            Issues.Error(Child(key), $"expected a non-negative number, got '{text}'");
            return null;
        }
        return v;
    }

    public bool? Bool(string key)
    {
        var text = String(key);
        if (text is null) return null;
        switch (text.ToLowerInvariant())
        {
            case "true" or "yes" or "on" or "1": return true;
            case "false" or "no" or "off" or "0": return false;
            default:
                Issues.Error(Child(key), $"expected true or false, got '{text}'");
                return null;
        }
    }

    /// <summary>A duration: a number of seconds, or text such as "250ms", "30s", "5m".</summary>
    /// <param name="max">The longest accepted (default <see cref="Durations.Max"/>, 30 days): a retention may be longer than any timer.</param>
    public TimeSpan? Duration(string key, bool positive = false, TimeSpan? max = null)
    {
        var text = NumberText(key);
        if (text is null) return null;
        if (!Durations.TryParse(text, max ?? Durations.Max, out var v))
        {
            Issues.Error(Child(key), $"expected a duration up to {(max ?? Durations.Max).TotalDays.ToString("0.###", CultureInfo.InvariantCulture)} days such as 30, \"30s\" or \"250ms\", got '{text}'");
            return null;
        }
        if (positive && v <= TimeSpan.Zero)
        {
            Issues.Error(Child(key), "must be greater than zero");
            return null;
        }
        return v;
    }

    public ConfigMap? Map(string key)
    {
        var node = Find(key);
        if (node is null || IsNull(node)) return null;
        if (node is YamlMappingNode map) return new ConfigMap(map, Child(key), Context);
        Issues.Error(Child(key), "expected a mapping");
        return null;
    }

    /// <summary>Items of a sequence with their paths; a missing key yields nothing.</summary>
    public IReadOnlyList<(YamlNode Node, string Path)> Sequence(string key)
    {
        var node = Find(key);
        if (node is null || IsNull(node)) return [];
        if (node is not YamlSequenceNode seq)
        {
            Issues.Error(Child(key), "expected a list");
            return [];
        }
        var items = new List<(YamlNode, string)>(seq.Children.Count);
        for (var i = 0; i < seq.Children.Count; i++) items.Add((seq.Children[i], $"{Child(key)}[{i}]"));
        return items;
    }

    public ConfigMap? AsMap(YamlNode node, string path)
    {
        if (node is YamlMappingNode map) return new ConfigMap(map, path, Context);
        Issues.Error(path, "expected a mapping");
        return null;
    }

    /// <summary>A list of strings; a single scalar is accepted as a one-item list.</summary>
    public ImmutableArray<string> StringList(string key)
    {
        var node = Find(key);
        if (node is null || IsNull(node)) return [];
        if (node is YamlScalarNode)
        {
            var single = ScalarText(node, Child(key));
            return single is null ? [] : [single];
        }
        var builder = ImmutableArray.CreateBuilder<string>();
        foreach (var (item, path) in Sequence(key))
        {
            var text = ScalarText(item, path);
            if (text is not null) builder.Add(text);
        }
        return builder.ToImmutable();
    }

    /// <summary>A mapping of string to string (headers, env, aliases).</summary>
    public ImmutableArray<KeyValuePair<string, string>> StringPairs(string key)
    {
        var map = Map(key);
        if (map is null) return [];
        var builder = ImmutableArray.CreateBuilder<KeyValuePair<string, string>>();
        foreach (var k in map.Keys.ToList())
        {
            var v = map.String(k);
            if (v is not null) builder.Add(new(k, v));
        }
        return builder.ToImmutable();
    }

    /// <summary>Reports keys never read: errors in strict mode (our schema), warnings otherwise (LiteLLM files).</summary>
    public void ReportUnknownKeys(bool strict, string? note = null)
    {
        foreach (var key in Keys)
        {
            if (_read.Contains(key)) continue;
            if (strict) Context.Issues.Error(Child(key), "unknown key");
            else Context.Issues.Warning(Child(key), note is null ? "unknown key, ignored" : $"not supported, ignored ({note})");
        }
    }

    private static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Style: YamlDotNet.Core.ScalarStyle.Plain, Value: null or "~" or "null" or "" };
}

internal sealed record ConfigContext(ConfigIssues Issues, EnvInterpolator Env);
