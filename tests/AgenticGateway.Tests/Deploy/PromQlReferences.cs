using System.Text.RegularExpressions;

namespace AgenticGateway.Tests.Deploy;

/// <summary>
/// The metric names, label names and label equalities a PromQL expression refers to. Not a PromQL parser (promtool
/// checks the syntax): it strips what cannot be a metric name (matchers, grouping clauses, ranges, strings, function
/// names, keywords) and keeps the identifiers that remain. Enough for the expressions of our dashboards and rules.
/// </summary>
internal sealed partial record PromQlReferences(string Expression, IReadOnlySet<string> Metrics, IReadOnlySet<string> Labels, IReadOnlyList<(string Label, string Value)> Equalities)
{
    private static readonly HashSet<string> Keywords = ["by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset", "inf", "nan"];

    public static PromQlReferences Of(string expression)
    {
        var metrics = new HashSet<string>(StringComparer.Ordinal);
        var labels = new HashSet<string>(StringComparer.Ordinal);
        var equalities = new List<(string, string)>();

        // Grafana's label_values(metric{...}, label) names a metric and a label the usual way cannot see.
        var text = LabelValues().Replace(expression, m =>
        {
            labels.Add(m.Groups["label"].Value);
            return m.Groups["selector"].Value;
        });
        foreach (Match selector in Selector().Matches(text))
        {
            foreach (Match matcher in Matcher().Matches(selector.Groups[1].Value))
            {
                labels.Add(matcher.Groups["label"].Value);
                if (matcher.Groups["op"].Value == "=") equalities.Add((matcher.Groups["label"].Value, matcher.Groups["value"].Value));
            }
        }
        text = Selector().Replace(text, " ");
        foreach (Match clause in Grouping().Matches(text))
        {
            foreach (var label in clause.Groups["labels"].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)) labels.Add(label);
        }
        text = Grouping().Replace(text, " ");
        text = Range().Replace(text, " ");
        text = StringLiteral().Replace(text, " ");
        foreach (Match identifier in Identifier().Matches(text))
        {
            if (!Keywords.Contains(identifier.Value.ToLowerInvariant())) metrics.Add(identifier.Value);
        }
        return new PromQlReferences(expression, metrics, labels, equalities);
    }

    [GeneratedRegex("""label_values\(\s*(?<selector>[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})?)\s*,\s*(?<label>[a-zA-Z_][a-zA-Z0-9_]*)\s*\)""")]
    private static partial Regex LabelValues();

    [GeneratedRegex(@"\{([^}]*)\}")]
    private static partial Regex Selector();

    [GeneratedRegex(@"(?<label>[a-zA-Z_][a-zA-Z0-9_]*)\s*(?<op>=~|!~|!=|=)\s*""(?<value>[^""]*)""")]
    private static partial Regex Matcher();

    [GeneratedRegex(@"\b(by|without|on|ignoring|group_left|group_right)\s*\((?<labels>[^)]*)\)")]
    private static partial Regex Grouping();

    [GeneratedRegex(@"\[[^\]]*\]")]
    private static partial Regex Range();

    [GeneratedRegex("\"[^\"]*\"")]
    private static partial Regex StringLiteral();

    // An identifier not preceded by a word character, '$' or '.', and not a function call.
    [GeneratedRegex(@"(?<![\w$.])[a-zA-Z_:][a-zA-Z0-9_:]*\b(?!\s*\()")]
    private static partial Regex Identifier();
}
