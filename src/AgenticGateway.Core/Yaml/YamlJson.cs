using System.Globalization;
using System.Text;
using System.Text.Json;
using YamlDotNet.RepresentationModel;

namespace AgenticGateway.Yaml;

/// <summary>
/// A YAML value as JSON text, typed as PyYAML would type it (so as LiteLLM sends it on): plain scalars resolve to null,
/// YAML 1.1 booleans and numbers; quoted ones stay strings; os.environ/ references are expanded.
/// </summary>
internal static class YamlJson
{
    public static string? ToJson(YamlNode node, string path, ConfigContext context)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            if (!Write(node, path, context, writer)) return null;
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static bool Write(YamlNode node, string path, ConfigContext context, Utf8JsonWriter writer)
    {
        switch (node)
        {
            case YamlScalarNode s when s.Style == YamlDotNet.Core.ScalarStyle.Plain:
                var text = s.Value ?? "";
                if (text is "" or "~" or "null" or "Null" or "NULL") writer.WriteNullValue();
                else if (text is "true" or "True" or "TRUE" or "yes" or "Yes" or "YES" or "on" or "On" or "ON") writer.WriteBooleanValue(true);
                else if (text is "false" or "False" or "FALSE" or "no" or "No" or "NO" or "off" or "Off" or "OFF") writer.WriteBooleanValue(false);
                else if (Yaml11Numbers.TryInteger(text, out var integer)) writer.WriteNumberValue(integer);
                else if (Yaml11Numbers.Normalize(text) is { } number && double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d)) writer.WriteNumberValue(d);
                else writer.WriteStringValue(context.Env.Expand(text, path, context.Issues));
                return true;
            case YamlScalarNode s:
                writer.WriteStringValue(context.Env.Expand(s.Value ?? "", path, context.Issues));
                return true;
            case YamlSequenceNode seq:
                writer.WriteStartArray();
                for (var i = 0; i < seq.Children.Count; i++)
                {
                    if (!Write(seq.Children[i], $"{path}[{i}]", context, writer)) return false;
                }
                writer.WriteEndArray();
                return true;
            case YamlMappingNode map:
                writer.WriteStartObject();
                foreach (var (k, v) in map.Children)
                {
                    if (k is not YamlScalarNode { Value: { } name }) { context.Issues.Error(path, "expected text keys"); return false; }
                    writer.WritePropertyName(name);
                    if (!Write(v, $"{path}.{name}", context, writer)) return false;
                }
                writer.WriteEndObject();
                return true;
            default:
                context.Issues.Error(path, "expected a value");
                return false;
        }
    }
}
