using System.Globalization;
using Tomlyn.Parsing;
using Tomlyn.Syntax;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace AgenticGateway.Edge;

/// <summary>
/// Traefik's configuration files, YAML or TOML, read into <see cref="EdgeNode"/> trees so that one reader serves both.
/// A syntax error names the file, line and column (<c>dynamic.toml:12:5: ...</c>); the trees carry paths for the
/// readers' errors. Sizes are bounded: a file above <see cref="MaxBytes"/>, or YAML aliases expanding past
/// <see cref="MaxNodes"/> nodes (a "billion laughs"), is refused rather than read.
/// </summary>
internal static class EdgeFiles
{
    public const long MaxBytes = 16 * 1024 * 1024;
    public const int MaxNodes = 1_000_000;

    /// <summary>Whether the file provider reads this file: *.yml, *.yaml and *.toml, as Traefik's does.</summary>
    public static bool IsConfigFile(string path) =>
        Path.GetExtension(path).ToLowerInvariant() is ".yml" or ".yaml" or ".toml";

    /// <summary>Reads a file by its extension (.toml is TOML, anything else YAML); null after reporting an error.</summary>
    /// <param name="displayName">How errors name the file (a path relative to the provider's directory); the path by default.</param>
    public static EdgeNode? Load(string path, List<string> errors, string? displayName = null)
    {
        var name = displayName ?? path;
        string text;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) { errors.Add($"{name}: the file does not exist"); return null; }
            if (info.Length > MaxBytes) { errors.Add($"{name}: the file is larger than {MaxBytes / (1024 * 1024)} MiB"); return null; }
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            errors.Add($"{name}: cannot be read: {e.Message}");
            return null;
        }
        return Parse(text, name, errors);
    }

    public static EdgeNode? Parse(string text, string fileName, List<string> errors) =>
        Path.GetExtension(fileName).Equals(".toml", StringComparison.OrdinalIgnoreCase)
            ? ParseToml(text, fileName, errors)
            : ParseYaml(text, fileName, errors);

    // ---------- YAML ----------

    public static EdgeNode? ParseYaml(string text, string fileName, List<string> errors)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            errors.Add($"{fileName}:{e.Start.Line}:{e.Start.Column}: {Innermost(e)}");
            return null;
        }
        if (stream.Documents.Count == 0) return EdgeNode.OfMap("", []);
        if (stream.Documents.Count > 1) { errors.Add($"{fileName}: holds {stream.Documents.Count} YAML documents; Traefik reads one"); return null; }
        var budget = MaxNodes;
        var fileErrors = new List<string>();
        var root = FromYaml(stream.Documents[0].RootNode, "", fileName, fileErrors, ref budget);
        if (fileErrors.Count > 0) { errors.AddRange(fileErrors); return null; }
        if (root.IsScalar && root.Scalar is null) return EdgeNode.OfMap("", []);
        if (!root.IsMap) { errors.Add($"{fileName}: expected a map at the top (http:, tcp:, udp:, tls:)"); return null; }
        return root;
    }

    /// <summary>A YAML node of another document (our config file's edge keys) as a tree rooted at <paramref name="path"/>.</summary>
    public static EdgeNode FromYamlNode(YamlNode node, string path, string fileName, List<string> errors)
    {
        var budget = MaxNodes;
        return FromYaml(node, path, fileName, errors, ref budget);
    }

    private static string Innermost(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e.Message;
    }

    private static EdgeNode FromYaml(YamlNode node, string path, string file, List<string> errors, ref int budget)
    {
        if (--budget < 0)
        {
            if (budget == -1) errors.Add($"{file}: the document expands to more than {MaxNodes} nodes (YAML aliases)");
            return EdgeNode.OfScalar(path, null);
        }
        switch (node)
        {
            case YamlScalarNode scalar:
                var isNull = scalar.Style == ScalarStyle.Plain && scalar.Value is null or "" or "~" or "null" or "Null" or "NULL";
                return EdgeNode.OfScalar(path, isNull ? null : scalar.Value);
            case YamlSequenceNode sequence:
            {
                var items = new List<EdgeNode>(sequence.Children.Count);
                for (var i = 0; i < sequence.Children.Count; i++)
                    items.Add(FromYaml(sequence.Children[i], $"{path}[{i}]", file, errors, ref budget));
                return EdgeNode.OfList(path, items);
            }
            case YamlMappingNode mapping:
            {
                var entries = new List<KeyValuePair<string, EdgeNode>>(mapping.Children.Count);
                var merged = new List<YamlNode>();
                foreach (var (keyNode, value) in mapping.Children)
                {
                    if (keyNode is not YamlScalarNode { Value: { } key })
                    {
                        errors.Add($"{file}:{keyNode.Start.Line}:{keyNode.Start.Column}: a key must be a plain value");
                        continue;
                    }
                    // YAML's merge key (<<: *defaults), which Traefik's YAML reader honours: merged after the map's own keys.
                    if (key == "<<" && ((YamlScalarNode)keyNode).Style == ScalarStyle.Plain)
                    {
                        if (value is YamlSequenceNode many) merged.AddRange(many.Children);
                        else merged.Add(value);
                        continue;
                    }
                    if (entries.Any(e => string.Equals(e.Key, key, StringComparison.OrdinalIgnoreCase)))
                    {
                        errors.Add($"{file}:{keyNode.Start.Line}:{keyNode.Start.Column}: the key '{key}' is defined twice in {(path.Length == 0 ? "the top level" : path)}");
                        continue;
                    }
                    entries.Add(new(key, FromYaml(value, EdgeNode.ChildPath(path, key), file, errors, ref budget)));
                }
                foreach (var source in merged)
                {
                    if (source is not YamlMappingNode map)
                    {
                        errors.Add($"{file}:{source.Start.Line}:{source.Start.Column}: '<<' merges a map or a list of maps");
                        continue;
                    }
                    foreach (var (keyNode, value) in map.Children)
                    {
                        if (keyNode is not YamlScalarNode { Value: { } key } || entries.Any(e => string.Equals(e.Key, key, StringComparison.OrdinalIgnoreCase))) continue;
                        entries.Add(new(key, FromYaml(value, EdgeNode.ChildPath(path, key), file, errors, ref budget)));
                    }
                }
                return EdgeNode.OfMap(path, entries);
            }
            default:
                errors.Add($"{file}:{node.Start.Line}:{node.Start.Column}: unsupported YAML node");
                return EdgeNode.OfScalar(path, null);
        }
    }

    // ---------- TOML ----------

    public static EdgeNode? ParseToml(string text, string fileName, List<string> errors)
    {
        DocumentSyntax doc;
        try
        {
            doc = SyntaxParser.Parse(text, fileName, true);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            errors.Add($"{fileName}: {e.Message}");
            return null;
        }
        if (doc.HasErrors)
        {
            foreach (var d in doc.Diagnostics)
                if (d.Kind == DiagnosticMessageKind.Error)
                    errors.Add($"{fileName}:{d.Span.Start.Line + 1}:{d.Span.Start.Column + 1}: {d.Message}");
            return null;
        }
        var fileErrors = new List<string>();
        var root = new TomlBuilder(fileName, fileErrors);
        var rootTable = new TomlBuilder.Table();
        foreach (var kv in doc.KeyValues) root.SetKeyValue(rootTable, kv);
        foreach (var table in doc.Tables)
        {
            var target = root.OpenTable(rootTable, table);
            if (target is null) continue;
            foreach (var kv in table.Items) root.SetKeyValue(target, kv);
        }
        if (fileErrors.Count > 0) { errors.AddRange(fileErrors); return null; }
        return TomlBuilder.ToNode(rootTable, "");
    }

    /// <summary>TOML's tables, dotted keys and arrays of tables assembled from Tomlyn's syntax tree, keeping positions for errors.</summary>
    private sealed class TomlBuilder(string file, List<string> errors)
    {
        public sealed class Table
        {
            public readonly List<KeyValuePair<string, object>> Entries = [];
            /// <summary>Defined by a [header] or a key's value (so [a] twice is an error), not only implied by [a.b].</summary>
            public bool Explicit;
            /// <summary>An inline table: closed, nothing may be added to it later.</summary>
            public bool Inline;

            public object? Get(string key) => Entries.FirstOrDefault(e => e.Key == key).Value;
        }

        public void SetKeyValue(Table table, KeyValueSyntax kv)
        {
            var keys = Keys(kv.Key!);
            var target = Navigate(table, keys, keys.Count - 1, kv.Key!);
            if (target is null || kv.Value is null) return;
            var last = keys[^1];
            if (target.Get(last) is not null)
            {
                Error(kv.Key!, $"the key '{string.Join('.', keys)}' is defined twice");
                return;
            }
            target.Entries.Add(new(last, Value(kv.Value)));
        }

        public Table? OpenTable(Table root, TableSyntaxBase syntax)
        {
            var keys = Keys(syntax.Name!);
            var parent = Navigate(root, keys, keys.Count - 1, syntax.Name!);
            if (parent is null) return null;
            var last = keys[^1];
            var existing = parent.Get(last);
            if (syntax is TableArraySyntax)
            {
                if (existing is null)
                {
                    existing = new List<object>();
                    parent.Entries.Add(new(last, existing));
                }
                if (existing is not List<object> list || list.Any(i => i is not Table { Inline: false }))
                {
                    Error(syntax.Name!, $"'{string.Join('.', keys)}' is already defined as something other than an array of tables");
                    return null;
                }
                var item = new Table { Explicit = true };
                list.Add(item);
                return item;
            }
            switch (existing)
            {
                case null:
                    var created = new Table { Explicit = true };
                    parent.Entries.Add(new(last, created));
                    return created;
                case Table { Explicit: false, Inline: false } implied:
                    implied.Explicit = true;
                    return implied;
                default:
                    Error(syntax.Name!, $"the table [{string.Join('.', keys)}] is defined twice");
                    return null;
            }
        }

        /// <summary>Walks the first <paramref name="count"/> keys, creating implied tables; through an array of tables, its last table.</summary>
        private Table? Navigate(Table table, List<string> keys, int count, SyntaxNode at)
        {
            for (var i = 0; i < count; i++)
            {
                var next = table.Get(keys[i]);
                switch (next)
                {
                    case null:
                        var created = new Table();
                        table.Entries.Add(new(keys[i], created));
                        table = created;
                        break;
                    case Table { Inline: false } t:
                        table = t;
                        break;
                    case List<object> { Count: > 0 } list when list[^1] is Table { Inline: false } lastTable:
                        table = lastTable;
                        break;
                    default:
                        Error(at, $"'{string.Join('.', keys.Take(i + 1))}' is a value, not a table");
                        return null;
                }
            }
            return table;
        }

        private object Value(ValueSyntax value)
        {
            switch (value)
            {
                case StringValueSyntax s: return s.Value ?? "";
                case IntegerValueSyntax n: return n.Value.ToString(CultureInfo.InvariantCulture);
                case FloatValueSyntax f: return f.Value.ToString("R", CultureInfo.InvariantCulture);
                case BooleanValueSyntax b: return b.Value ? "true" : "false";
                case DateTimeValueSyntax d: return d.Token?.Text ?? "";
                case ArraySyntax a:
                    var list = new List<object>();
                    foreach (var item in a.Items) if (item.Value is not null) list.Add(Value(item.Value));
                    return list;
                case InlineTableSyntax t:
                    var table = new Table { Explicit = true };
                    foreach (var item in t.Items) if (item.KeyValue is not null) SetKeyValue(table, item.KeyValue);
                    table.Inline = true;
                    return table;
                default:
                    Error(value, "unsupported TOML value");
                    return "";
            }
        }

        private static List<string> Keys(KeySyntax key)
        {
            var keys = new List<string> { KeyText(key.Key!) };
            if (key.DotKeys is { } dots)
                foreach (var dot in dots) keys.Add(KeyText(dot.Key!));
            return keys;
        }

        private static string KeyText(BareKeyOrStringValueSyntax key) => key switch
        {
            BareKeySyntax bare => bare.Key?.Text ?? "",
            StringValueSyntax s => s.Value ?? "",
            _ => key.ToString() ?? "",
        };

        private void Error(SyntaxNode at, string message) =>
            errors.Add($"{file}:{at.Span.Start.Line + 1}:{at.Span.Start.Column + 1}: {message}");

        public static EdgeNode ToNode(object value, string path) => value switch
        {
            Table t => EdgeNode.OfMap(path, t.Entries.Select(e => new KeyValuePair<string, EdgeNode>(e.Key, ToNode(e.Value, EdgeNode.ChildPath(path, e.Key))))),
            List<object> l => EdgeNode.OfList(path, l.Select((item, i) => ToNode(item, $"{path}[{i}]"))),
            _ => EdgeNode.OfScalar(path, (string)value),
        };
    }
}
