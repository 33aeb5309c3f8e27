using System.Text.Json;
using System.Text.Json.Nodes;

namespace AgenticGateway.Providers.Google;

/// <summary>
/// Converts a JSON Schema (as OpenAI tools and json_schema response formats carry it) into Gemini's Schema, which is
/// a documented subset of the OpenAPI 3.0 schema object. Gemini answers 400 INVALID_ARGUMENT to keywords outside that
/// subset (<c>$schema</c>, <c>additionalProperties</c>, <c>$ref</c>, <c>const</c>...), so those are dropped, and the
/// JSON Schema idioms that have an equivalent are rewritten: <c>type: [T, "null"]</c> becomes <c>nullable</c>,
/// <c>const</c> a one-value <c>enum</c>, <c>oneOf</c> an <c>anyOf</c>, and local <c>$ref</c>s are inlined.
/// </summary>
internal static class GeminiSchema
{
    /// <summary>The Schema fields Gemini documents (ai.google.dev/api/caching#Schema, Vertex Schema).</summary>
    private static readonly HashSet<string> Kept = new(StringComparer.Ordinal)
    {
        "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems", "properties", "required",
        "minProperties", "maxProperties", "minLength", "maxLength", "pattern", "example", "anyOf", "propertyOrdering",
        "default", "items", "minimum", "maximum",
    };

    /// <summary>Formats Gemini accepts per type; others are dropped rather than refused by the API.</summary>
    private static readonly HashSet<string> StringFormats = new(StringComparer.Ordinal) { "enum", "date-time" };

    public static void Write(Utf8JsonWriter w, JsonNode? schema) => WriteNode(w, schema, schema as JsonObject, 0);

    /// <summary>True when a tool's parameters declare no properties: Gemini refuses an OBJECT with empty properties.</summary>
    public static bool IsEmptyObject(JsonNode? schema) =>
        schema is not JsonObject o || o["properties"] is not JsonObject { Count: > 0 };

    private static void WriteNode(Utf8JsonWriter w, JsonNode? node, JsonObject? root, int depth)
    {
        if (node is not JsonObject s || depth > 32)
        {
            w.WriteStartObject();
            w.WriteEndObject();
            return;
        }
        if (s["$ref"] is JsonValue refValue && refValue.TryGetValue<string>(out var reference) && Resolve(root, reference) is { } target && depth < 32)
        {
            WriteNode(w, target, root, depth + 1);
            return;
        }

        w.WriteStartObject();
        var nullable = s["nullable"] is JsonValue nv && nv.TryGetValue<bool>(out var nb) && nb;
        string? type = null;
        switch (s["type"])
        {
            case JsonValue tv when tv.TryGetValue<string>(out var t):
                type = t;
                break;
            case JsonArray types:
                foreach (var t in types)
                {
                    var name = t?.GetValue<string>();
                    if (name == "null") nullable = true;
                    else type ??= name;
                }
                break;
        }
        // anyOf [X, {type:null}] is JSON Schema's nullable X; Gemini spells it nullable.
        var anyOf = (s["anyOf"] ?? s["oneOf"]) as JsonArray;
        if (anyOf is not null)
        {
            var nonNull = anyOf.Where(a => !(a is JsonObject ao && ao["type"] is JsonValue at && at.TryGetValue<string>(out var an) && an == "null")).ToList();
            if (nonNull.Count < anyOf.Count) nullable = true;
            if (nonNull.Count == 1 && type is null)
            {
                // Merge the single alternative into this schema (keeping this level's description).
                var merged = nonNull[0] is JsonObject only ? (JsonObject)only.DeepClone() : [];
                foreach (var (k, v) in s)
                    if (k is not ("anyOf" or "oneOf") && !merged.ContainsKey(k)) merged[k] = v?.DeepClone();
                if (nullable) merged["nullable"] = true;
                WriteMergedBody(w, merged, root, depth);
                return;
            }
            anyOf = [.. nonNull.Select(n => n?.DeepClone())];
        }
        type = type?.ToLowerInvariant();
        if (type is null && s["properties"] is JsonObject) type = "object";
        if (type is null && s["items"] is not null) type = "array";
        if (type is not null) w.WriteString("type", type.ToUpperInvariant());
        if (nullable) w.WriteBoolean("nullable", true);
        WriteKeywords(w, s, type, anyOf, root, depth);
        w.WriteEndObject();
    }

    /// <summary>Writes the body of a schema already opened by the caller.</summary>
    private static void WriteMergedBody(Utf8JsonWriter w, JsonObject merged, JsonObject? root, int depth)
    {
        string? type = merged["type"] is JsonValue tv && tv.TryGetValue<string>(out var t) ? t.ToLowerInvariant() : null;
        if (type is null && merged["properties"] is JsonObject) type = "object";
        if (type is not null) w.WriteString("type", type.ToUpperInvariant());
        if (merged["nullable"] is JsonValue nv && nv.TryGetValue<bool>(out var nb) && nb) w.WriteBoolean("nullable", true);
        WriteKeywords(w, merged, type, merged["anyOf"] as JsonArray, root, depth);
        w.WriteEndObject();
    }

    private static void WriteKeywords(Utf8JsonWriter w, JsonObject s, string? type, JsonArray? anyOf, JsonObject? root, int depth)
    {
        foreach (var (key, value) in s)
        {
            if (!Kept.Contains(key) || key is "type" or "nullable" or "anyOf") continue;
            switch (key)
            {
                case "properties" when value is JsonObject props:
                    w.WriteStartObject("properties");
                    foreach (var (name, prop) in props)
                    {
                        w.WritePropertyName(name);
                        WriteNode(w, prop, root, depth + 1);
                    }
                    w.WriteEndObject();
                    break;
                case "items":
                    w.WritePropertyName("items");
                    WriteNode(w, value, root, depth + 1);
                    break;
                case "enum" when value is JsonArray values:
                    // Gemini's enum is a list of strings.
                    w.WriteStartArray("enum");
                    foreach (var v in values) w.WriteStringValue(v is JsonValue jv && jv.TryGetValue<string>(out var str) ? str : v?.ToJsonString() ?? "null");
                    w.WriteEndArray();
                    break;
                case "format" when value is JsonValue fv && fv.TryGetValue<string>(out var format):
                    if (type is "string" && !StringFormats.Contains(format)) break;
                    w.WriteString("format", format);
                    break;
                default:
                    w.WritePropertyName(key);
                    (value ?? JsonValue.Create((string?)null))!.WriteTo(w);
                    break;
            }
        }
        if (s["const"] is { } constant && !s.ContainsKey("enum"))
        {
            w.WriteStartArray("enum");
            w.WriteStringValue(constant is JsonValue cv && cv.TryGetValue<string>(out var cs) ? cs : constant.ToJsonString());
            w.WriteEndArray();
        }
        if (anyOf is { Count: > 0 })
        {
            w.WriteStartArray("anyOf");
            foreach (var alternative in anyOf) WriteNode(w, alternative, root, depth + 1);
            w.WriteEndArray();
        }
    }

    /// <summary>Resolves a local reference such as <c>#/$defs/Item</c> or <c>#/definitions/Item</c>.</summary>
    private static JsonNode? Resolve(JsonObject? root, string reference)
    {
        if (root is null || !reference.StartsWith("#/", StringComparison.Ordinal)) return null;
        JsonNode? node = root;
        foreach (var segment in reference[2..].Split('/'))
        {
            node = node is JsonObject o ? o[segment.Replace("~1", "/").Replace("~0", "~")] : null;
            if (node is null) return null;
        }
        return node;
    }
}
