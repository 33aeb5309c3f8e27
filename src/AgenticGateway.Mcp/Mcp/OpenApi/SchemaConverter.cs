using System.Text.Json.Nodes;

namespace AgenticGateway.Mcp.OpenApi;

/// <summary>
/// Turns OpenAPI schemas into the self-contained JSON Schema a tool's inputSchema must be. Local references are
/// inlined, because models follow a flat schema best (and some providers do not resolve <c>$ref</c> at all); a
/// recursive schema cannot be inlined, so it goes into the input schema's <c>$defs</c> once and is referenced there.
/// When inlining would grow too large (a schema used many times inside others multiplies), every reference goes to
/// <c>$defs</c> instead, which keeps the size linear in the spec's.
/// </summary>
internal sealed class SchemaConverter
{
    /// <summary>Nodes one tool's schema may take when inlined before the converter falls back to <c>$defs</c>.</summary>
    public const int InlineBudget = 20_000;

    private static readonly HashSet<string> SchemaMaps = ["properties", "patternProperties", "$defs", "definitions", "dependentSchemas"];
    private static readonly HashSet<string> SchemaValues =
        ["items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames", "unevaluatedItems", "unevaluatedProperties", "additionalItems"];
    private static readonly HashSet<string> SchemaLists = ["allOf", "anyOf", "oneOf", "prefixItems"];

    private readonly SpecDocument _document;
    private readonly bool _inline;
    private readonly Dictionary<string, string> _defKeys = new(StringComparer.Ordinal);
    private readonly JsonObject _defs = [];
    private readonly HashSet<string> _inlining = new(StringComparer.Ordinal);
    private int _budget = InlineBudget;

    private SchemaConverter(SpecDocument document, bool inline)
    {
        _document = document;
        _inline = inline;
    }

    /// <summary>Runs <paramref name="build"/> with a converter, then again with every reference in <c>$defs</c> if inlining grew too large.</summary>
    public static JsonObject Build(SpecDocument document, Func<SchemaConverter, JsonObject> build)
    {
        JsonObject result;
        SchemaConverter converter;
        try
        {
            converter = new SchemaConverter(document, inline: true);
            result = build(converter);
        }
        catch (InlineBudgetExceeded)
        {
            converter = new SchemaConverter(document, inline: false);
            result = build(converter);
        }
        if (converter._defs.Count > 0) result["$defs"] = converter._defs;
        return result;
    }

    public JsonNode Convert(JsonNode? node, string where)
    {
        if (_inline && --_budget < 0) throw new InlineBudgetExceeded();
        switch (node)
        {
            case JsonValue value when value.TryGetValue<bool>(out var b):
                return JsonValue.Create(b);
            case JsonObject obj:
                return SpecDocument.Reference(obj) is { } reference ? Referenced(obj, reference, where) : Copy(obj, where);
            default:
                throw new FormatException($"{where}: a schema must be an object");
        }
    }

    private JsonNode Referenced(JsonObject obj, string reference, string where)
    {
        JsonNode result;
        if (!_defKeys.ContainsKey(reference) && _inline && _inlining.Add(reference))
        {
            try { result = Convert(_document.Target(reference, where), reference); }
            finally { _inlining.Remove(reference); }
        }
        else
        {
            result = new JsonObject { ["$ref"] = "#/$defs/" + Define(reference, where) };
        }
        // 3.1 lets a reference carry keywords beside it (a description, most often); they refine the target.
        if (obj.Count > 1)
        {
            if (result is not JsonObject target) return result;
            foreach (var (key, value) in obj)
                if (key != "$ref") target[key] = value?.DeepClone();
        }
        return result;
    }

    private string Define(string reference, string where)
    {
        if (_defKeys.TryGetValue(reference, out var key)) return key;
        var name = reference[(reference.LastIndexOf('/') + 1)..];
        name = string.Concat(name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' ? c : '_'));
        if (name.Length == 0) name = "schema";
        key = name;
        for (var n = 2; _defs.ContainsKey(key); n++) key = $"{name}_{n}";
        _defKeys[reference] = key;
        _defs[key] = new JsonObject(); // holds the key while the definition, which may reference itself, is built
        _inlining.Add(reference);
        try { _defs[key] = Convert(_document.Target(reference, where), reference); }
        finally { _inlining.Remove(reference); }
        return key;
    }

    private JsonObject Copy(JsonObject obj, string where)
    {
        var copy = new JsonObject();
        foreach (var (key, value) in obj)
        {
            if (SchemaMaps.Contains(key) && value is JsonObject map)
            {
                var converted = new JsonObject();
                foreach (var (name, schema) in map) converted[name] = Convert(schema, $"{where}/{key}/{name}");
                copy[key] = converted;
            }
            else if (SchemaLists.Contains(key) && value is JsonArray list)
            {
                copy[key] = new JsonArray([.. list.Select((s, i) => Convert(s, $"{where}/{key}/{i}"))]);
            }
            else if (SchemaValues.Contains(key) && value is JsonObject or JsonValue)
            {
                copy[key] = Convert(value, $"{where}/{key}");
            }
            else if (key == "items" && value is JsonArray tuple)
            {
                copy[key] = new JsonArray([.. tuple.Select((s, i) => Convert(s, $"{where}/{key}/{i}"))]);
            }
            else
            {
                copy[key] = value?.DeepClone();
            }
        }
        if (_document.IsOpenApi30) From30(copy);
        return copy;
    }

    /// <summary>OpenAPI 3.0's departures from JSON Schema, rewritten: nullable, and exclusive bounds as booleans.</summary>
    private static void From30(JsonObject schema)
    {
        if (schema["nullable"] is JsonValue nullable && nullable.TryGetValue<bool>(out var isNullable))
        {
            schema.Remove("nullable");
            if (isNullable && schema["type"] is JsonValue type && type.TryGetValue<string>(out var name))
            {
                schema["type"] = new JsonArray(name, "null");
                if (schema["enum"] is JsonArray values && !values.Any(v => v is null)) values.Add(null);
            }
        }
        foreach (var (flag, bound) in new[] { ("exclusiveMaximum", "maximum"), ("exclusiveMinimum", "minimum") })
        {
            if (schema[flag] is not JsonValue value || !value.TryGetValue<bool>(out var exclusive)) continue;
            schema.Remove(flag);
            if (exclusive && schema[bound] is { } limit)
            {
                schema.Remove(bound);
                schema[flag] = limit;
            }
        }
    }

    private sealed class InlineBudgetExceeded : Exception;
}
