using System.Text;
using YamlDotNet.RepresentationModel;

namespace AgenticGateway.Yaml;

/// <summary>A YAML node as canonical text (mapping keys sorted), so two entries that say the same compare equal.</summary>
internal static class YamlCanonical
{
    /// <param name="skip">Top-level keys to leave out (a secret, or the id itself).</param>
    public static string Text(YamlNode node, params string[] skip)
    {
        var sb = new StringBuilder();
        Write(node, sb, skip);
        return sb.ToString();
    }

    private static void Write(YamlNode node, StringBuilder sb, string[] skip)
    {
        switch (node)
        {
            case YamlScalarNode s:
                sb.Append('"').Append(s.Value).Append('"');
                break;
            case YamlSequenceNode seq:
                sb.Append('[');
                foreach (var item in seq.Children) { Write(item, sb, []); sb.Append(','); }
                sb.Append(']');
                break;
            case YamlMappingNode map:
                sb.Append('{');
                foreach (var (k, v) in map.Children.Select(p => (Key: (p.Key as YamlScalarNode)?.Value ?? "", p.Value)).Where(p => !skip.Contains(p.Key)).OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    sb.Append('"').Append(k).Append("\":");
                    Write(v, sb, []);
                    sb.Append(',');
                }
                sb.Append('}');
                break;
        }
    }
}
