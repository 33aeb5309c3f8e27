using System.Globalization;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace AgenticGateway.Mcp.OpenApi;

/// <summary>
/// An OpenAPI document written in YAML as the JSON tree it stands for. OpenAPI 3 asks for YAML 1.2, so plain scalars
/// resolve by the 1.2 core schema (null, true/false, integers, floats; "yes" and "on" stay strings, unlike the config
/// reader's YAML 1.1); quoted scalars are strings. Aliases are expanded, so the node count is capped: a few aliases
/// of aliases would otherwise expand into billions of nodes.
/// </summary>
internal static class SpecYaml
{
    public const int MaxNodes = 2_000_000;
    private const int MaxDepth = 256;

    public static JsonNode? Parse(string text)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        if (stream.Documents.Count != 1) throw new FormatException($"expected one YAML document, found {stream.Documents.Count}");
        var budget = MaxNodes;
        return Convert(stream.Documents[0].RootNode, ref budget, 0);
    }

    private static JsonNode? Convert(YamlNode node, ref int budget, int depth)
    {
        if (--budget < 0) throw new FormatException($"the document expands to more than {MaxNodes} nodes (aliases)");
        if (depth > MaxDepth) throw new FormatException($"the document nests deeper than {MaxDepth} levels");
        switch (node)
        {
            case YamlScalarNode s when s.Style is ScalarStyle.Plain:
                return Plain(s.Value ?? "");
            case YamlScalarNode s:
                return JsonValue.Create(s.Value ?? "");
            case YamlSequenceNode seq:
                var array = new JsonArray();
                foreach (var child in seq.Children) array.Add(Convert(child, ref budget, depth + 1));
                return array;
            case YamlMappingNode map:
                var obj = new JsonObject();
                foreach (var (key, value) in map.Children)
                {
                    if (key is not YamlScalarNode { Value: { } name }) throw new FormatException($"a mapping key at {key.Start} is not text");
                    // YAML allows a key twice; JSON readers keep the last, and so does this.
                    obj[name] = Convert(value, ref budget, depth + 1);
                }
                return obj;
            default:
                throw new FormatException($"unexpected YAML node at {node.Start}");
        }
    }

    private static JsonNode? Plain(string text)
    {
        switch (text)
        {
            case "" or "~" or "null" or "Null" or "NULL": return null;
            case "true" or "True" or "TRUE": return JsonValue.Create(true);
            case "false" or "False" or "FALSE": return JsonValue.Create(false);
        }
        if (IsInteger(text) && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer)) return JsonValue.Create(integer);
        if (text.StartsWith("0x", StringComparison.Ordinal) && long.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var hex)) return JsonValue.Create(hex);
        if (IsFloat(text) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d)) return JsonValue.Create(d);
        // .inf and .nan have no JSON form; like any other plain text they stay strings.
        return JsonValue.Create(text);
    }

    private static bool IsInteger(string text)
    {
        var start = text[0] is '-' or '+' ? 1 : 0;
        if (start == text.Length) return false;
        for (var i = start; i < text.Length; i++) if (!char.IsAsciiDigit(text[i])) return false;
        return true;
    }

    // The 1.2 core schema's float: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
    private static bool IsFloat(string text)
    {
        var i = text[0] is '-' or '+' ? 1 : 0;
        var digits = 0;
        while (i < text.Length && char.IsAsciiDigit(text[i])) { i++; digits++; }
        if (i < text.Length && text[i] == '.')
        {
            i++;
            while (i < text.Length && char.IsAsciiDigit(text[i])) { i++; digits++; }
        }
        if (digits == 0) return false;
        if (i < text.Length && text[i] is 'e' or 'E')
        {
            i++;
            if (i < text.Length && text[i] is '-' or '+') i++;
            var exponent = 0;
            while (i < text.Length && char.IsAsciiDigit(text[i])) { i++; exponent++; }
            if (exponent == 0) return false;
        }
        return i == text.Length;
    }
}
