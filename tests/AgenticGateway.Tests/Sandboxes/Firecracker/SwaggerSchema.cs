using System.Globalization;
using System.Text.Json;
using YamlDotNet.RepresentationModel;

namespace AgenticGateway.Tests.Sandboxes.Firecracker;

/// <summary>
/// A checker for the part of Swagger 2.0 / JSON Schema that Firecracker's API document uses: operations by path and
/// method, a body parameter's schema, $ref into definitions, type (object, string, integer, boolean, array), required,
/// properties, additionalProperties, enum, items, minimum and maximum, and integer formats.
/// Unknown properties are errors unless the schema has <c>additionalProperties</c>: the document never says
/// <c>false</c>, but Firecracker's request types deny unknown fields, so a property the document does not list would
/// be refused by the real server.
/// </summary>
internal sealed class SwaggerSchema
{
    private readonly YamlMappingNode _root;

    private SwaggerSchema(YamlMappingNode root) => _root = root;

    public static SwaggerSchema Load(string path)
    {
        using var reader = new StreamReader(path);
        var stream = new YamlStream();
        stream.Load(reader);
        return new SwaggerSchema((YamlMappingNode)stream.Documents[0].RootNode);
    }

    public static SwaggerSchema Firecracker { get; } = Load(Path.Combine(AppContext.BaseDirectory, "Fixtures", "firecracker", "firecracker-api.yaml"));

    /// <summary>The path template a request path matches, e.g. /drives/rootfs → /drives/{drive_id}; null if none.</summary>
    public string? MatchPath(string path, string method, out Dictionary<string, string> parameters)
    {
        parameters = [];
        var segments = path.Trim('/').Split('/', StringSplitOptions.RemoveEmptyEntries);
        foreach (var (key, value) in Map(_root, "paths")!.Children)
        {
            var template = ((YamlScalarNode)key).Value!;
            var parts = template.Trim('/').Split('/', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != segments.Length || Map((YamlMappingNode)value, method.ToLowerInvariant()) is null) continue;
            var found = new Dictionary<string, string>();
            var ok = true;
            for (var i = 0; i < parts.Length && ok; i++)
            {
                if (parts[i].StartsWith('{')) found[parts[i].Trim('{', '}')] = Uri.UnescapeDataString(segments[i]);
                else ok = parts[i] == segments[i];
            }
            if (!ok) continue;
            parameters = found;
            return template;
        }
        return null;
    }

    /// <summary>Every problem with a request body for an operation, empty when it is valid.</summary>
    public List<string> ValidateRequest(string method, string path, string? body)
    {
        var errors = new List<string>();
        var template = MatchPath(path, method, out var pathParameters);
        if (template is null) return [$"{method} {path}: no such operation in the document"];
        var operation = Map(Map(Map(_root, "paths")!, template)!, method.ToLowerInvariant())!;
        var bodyParameter = Sequence(operation, "parameters").OfType<YamlMappingNode>().FirstOrDefault(p => Scalar(p, "in") == "body");
        if (bodyParameter is null)
        {
            if (!string.IsNullOrEmpty(body)) errors.Add($"{method} {template}: takes no body");
            return errors;
        }
        if (string.IsNullOrEmpty(body))
        {
            if (Scalar(bodyParameter, "required") == "true") errors.Add($"{method} {template}: a body is required");
            return errors;
        }
        JsonElement json;
        try { json = JsonDocument.Parse(body).RootElement.Clone(); }
        catch (JsonException ex) { return [$"{method} {template}: body is not JSON: {ex.Message}"]; }
        Validate(Map(bodyParameter, "schema")!, json, "$", errors);
        // Firecracker refuses a body whose id differs from the path's (PUT /drives/a with drive_id b).
        foreach (var (name, value) in pathParameters)
        {
            if (json.ValueKind == JsonValueKind.Object && json.TryGetProperty(name, out var inBody) && inBody.ValueKind == JsonValueKind.String && inBody.GetString() != value)
                errors.Add($"$.{name}: '{inBody.GetString()}' differs from the path's '{value}'");
        }
        return errors;
    }

    /// <summary>Validates a value against a named definition (#/definitions/name).</summary>
    public List<string> ValidateDefinition(string definition, JsonElement value)
    {
        var errors = new List<string>();
        Validate(Definition(definition), value, "$", errors);
        return errors;
    }

    private YamlMappingNode Definition(string name) =>
        Map(Map(_root, "definitions")!, name) ?? throw new InvalidOperationException($"no definition {name}");

    private YamlMappingNode Resolve(YamlMappingNode schema)
    {
        // Swagger 2: a $ref replaces the schema (sibling keys such as description are ignored).
        for (var depth = 0; Scalar(schema, "$ref") is { } reference; depth++)
        {
            if (!reference.StartsWith("#/definitions/", StringComparison.Ordinal) || depth > 32)
                throw new InvalidOperationException($"unsupported $ref {reference}");
            schema = Definition(reference["#/definitions/".Length..]);
        }
        return schema;
    }

    private void Validate(YamlMappingNode schema, JsonElement value, string at, List<string> errors)
    {
        schema = Resolve(schema);
        var type = Scalar(schema, "type") ?? (Map(schema, "properties") is not null ? "object" : null);
        switch (type)
        {
            case "object":
                if (value.ValueKind != JsonValueKind.Object) { errors.Add($"{at}: expected an object, got {value.ValueKind}"); return; }
                ValidateObject(schema, value, at, errors);
                break;
            case "string":
                if (value.ValueKind != JsonValueKind.String) { errors.Add($"{at}: expected a string, got {value.ValueKind}"); return; }
                break;
            case "boolean":
                if (value.ValueKind is not (JsonValueKind.True or JsonValueKind.False)) { errors.Add($"{at}: expected a boolean, got {value.ValueKind}"); return; }
                break;
            case "integer":
                if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var integer)) { errors.Add($"{at}: expected an integer, got {value.GetRawText()}"); return; }
                if (Scalar(schema, "format") == "int32" && integer is < int.MinValue or > int.MaxValue) errors.Add($"{at}: {integer} is out of int32 range");
                if (Number(schema, "minimum") is { } min && integer < min) errors.Add($"{at}: {integer} is below the minimum {min}");
                if (Number(schema, "maximum") is { } max && integer > max) errors.Add($"{at}: {integer} is above the maximum {max}");
                break;
            case "number":
                if (value.ValueKind != JsonValueKind.Number) { errors.Add($"{at}: expected a number, got {value.ValueKind}"); return; }
                break;
            case "array":
                if (value.ValueKind != JsonValueKind.Array) { errors.Add($"{at}: expected an array, got {value.ValueKind}"); return; }
                if (Map(schema, "items") is { } items)
                {
                    var i = 0;
                    foreach (var item in value.EnumerateArray()) Validate(items, item, $"{at}[{i++}]", errors);
                }
                break;
            case null:
                break;
            default:
                throw new InvalidOperationException($"unsupported type {type} at {at}");
        }
        var allowed = Sequence(schema, "enum").OfType<YamlScalarNode>().Select(n => n.Value).ToList();
        if (allowed.Count > 0 && !(value.ValueKind == JsonValueKind.String && allowed.Contains(value.GetString())))
            errors.Add($"{at}: {value.GetRawText()} is not one of {string.Join(", ", allowed)}");
    }

    private void ValidateObject(YamlMappingNode schema, JsonElement value, string at, List<string> errors)
    {
        foreach (var name in Sequence(schema, "required").OfType<YamlScalarNode>().Select(n => n.Value!))
        {
            if (!value.TryGetProperty(name, out _)) errors.Add($"{at}: required property '{name}' is missing");
        }
        var properties = Map(schema, "properties");
        var additional = schema.Children.TryGetValue(new YamlScalarNode("additionalProperties"), out var node) ? node : null;
        foreach (var property in value.EnumerateObject())
        {
            var path = $"{at}.{property.Name}";
            if (properties is not null && Map(properties, property.Name) is { } propertySchema)
                Validate(propertySchema, property.Value, path, errors);
            else if (additional is YamlMappingNode additionalSchema)
                Validate(additionalSchema, property.Value, path, errors);
            else if (additional is not YamlScalarNode { Value: "true" })
                errors.Add($"{path}: unknown property");
        }
    }

    private static YamlMappingNode? Map(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var child) ? child as YamlMappingNode : null;

    private static string? Scalar(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var child) && child is YamlScalarNode scalar ? scalar.Value : null;

    private static long? Number(YamlMappingNode node, string key) =>
        Scalar(node, key) is { } text && long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : null;

    private static IEnumerable<YamlNode> Sequence(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var child) && child is YamlSequenceNode sequence ? sequence.Children : [];
}
