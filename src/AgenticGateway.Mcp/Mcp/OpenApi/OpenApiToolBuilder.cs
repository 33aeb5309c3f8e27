using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol.Protocol;

namespace AgenticGateway.Mcp.OpenApi;

/// <summary>
/// Each operation of a spec as a tool, named and shaped as LiteLLM's OpenAPI servers (spec_path) name and shape theirs,
/// so a LiteLLM user's agents and allow lists keep working: the methods get, post, put, delete and patch, in the
/// spec's order; the name is the operationId, or <c>{method}_{path with / as _}</c>, lowercased, spaces and other
/// characters outside [a-z0-9_-] as <c>_</c>, a clash suffixed <c>_2</c>, <c>_3</c>; parameters are arguments by their
/// own names and the request body is one <c>body</c> argument. Unlike LiteLLM, each argument keeps its whole
/// schema (LiteLLM keeps only the type, and the body's top-level properties), references resolved.
/// </summary>
internal static class OpenApiToolBuilder
{
    /// <summary>OpenAI's limit on function names (LiteLLM cuts at 128): a longer tool could not be offered to its models.</summary>
    public const int MaxNameLength = 64;

    private static readonly string[] Methods = ["get", "post", "put", "delete", "patch"];
    // The spec says header parameters by these names are ignored: content negotiation and auth belong to the client.
    private static readonly HashSet<string> IgnoredHeaders = new(["Accept", "Content-Type", "Authorization"], StringComparer.OrdinalIgnoreCase);

    /// <summary>The operations; <paramref name="skipped"/> gets those that cannot be called (with why).</summary>
    public static ImmutableArray<OpenApiOperation> Build(SpecDocument document, List<string> skipped)
    {
        var operations = ImmutableArray.CreateBuilder<OpenApiOperation>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        if (document.Root["paths"] is not JsonObject paths) return [];
        foreach (var (path, itemNode) in paths)
        {
            var item = document.Resolve(itemNode, $"#/paths/{path}");
            foreach (var method in Methods)
            {
                if (!item.TryGetPropertyValue(method, out var operationNode)) continue;
                var where = $"{method.ToUpperInvariant()} {path}";
                if (operationNode is not JsonObject operation) throw new FormatException($"{where}: the operation is not an object");
                var built = Operation(document, path, method, item, operation, where, names, out var why);
                if (built is null) skipped.Add($"{where}: {why}");
                else operations.Add(built);
            }
        }
        return operations.ToImmutable();
    }

    private static OpenApiOperation? Operation(SpecDocument document, string path, string method, JsonObject item, JsonObject operation,
        string where, HashSet<string> names, out string? why)
    {
        why = null;
        var body = Body(document, operation, where, out var bodySchema, out var unsupported);
        if (body is null && unsupported is not null)
        {
            if (Flag(document.Resolve(operation["requestBody"], $"{where} requestBody"), "required"))
            {
                why = $"its required request body has no media type a tool can send ({unsupported})";
                return null;
            }
        }

        var parameters = Parameters(document, path, item, operation, where);
        var taken = new HashSet<string>(StringComparer.Ordinal);
        if (body is not null) taken.Add(OpenApiBody.Property);
        var properties = new List<(string Property, JsonObject Parameter, ParameterLocation In)>();
        foreach (var (parameter, location) in parameters)
        {
            var name = Text(parameter, "name")!;
            var property = taken.Add(name) ? name : $"{location.ToString().ToLowerInvariant()}_{name}";
            if (property != name && !taken.Add(property)) throw new FormatException($"{where}: parameter '{name}' in {location} is declared twice");
            properties.Add((property, parameter, location));
        }

        var schema = SchemaConverter.Build(document, converter =>
        {
            var props = new JsonObject();
            var required = new JsonArray();
            foreach (var (property, parameter, location) in properties)
            {
                var name = Text(parameter, "name")!;
                var source = parameter["schema"] ?? FirstContentSchema(parameter);
                var converted = source is null ? new JsonObject { ["type"] = "string" } : converter.Convert(source, $"{where} parameter '{name}'");
                if (converted is JsonObject obj && Text(parameter, "description") is { Length: > 0 } description) obj["description"] = description;
                props[property] = converted;
                if (location == ParameterLocation.Path || Flag(parameter, "required")) required.Add(property);
            }
            if (body is not null)
            {
                var converted = bodySchema is null ? new JsonObject() : converter.Convert(bodySchema, $"{where} request body");
                var description = Text(document.Resolve(operation["requestBody"], where), "description");
                if (converted is JsonObject obj && description is { Length: > 0 }) obj["description"] = description;
                props[OpenApiBody.Property] = converted;
                if (body.Required) required.Add(OpenApiBody.Property);
            }
            var root = new JsonObject { ["type"] = "object", ["properties"] = props };
            if (required.Count > 0) root["required"] = required;
            return root;
        });

        var tool = new Tool
        {
            Name = UniqueName(Text(operation, "operationId") is { Length: > 0 } id ? id : $"{method}_{path.Replace('/', '_')}", names),
            Description = Describe(operation, where),
            InputSchema = JsonSerializer.SerializeToElement(schema, OpenApiJson.Default.JsonObject),
            Annotations = method == "get" ? new ToolAnnotations { ReadOnlyHint = true } : null,
        };
        var bound = properties.Select(p => new OpenApiParameter(Text(p.Parameter, "name")!, p.In, p.Property,
            p.In == ParameterLocation.Path || Flag(p.Parameter, "required"), Explode(p.Parameter, p.In))).ToImmutableArray();
        return new OpenApiOperation(tool, new HttpMethod(method.ToUpperInvariant()), path, bound, body);
    }

    /// <summary>Path-item parameters merged with the operation's (the operation's win on the same name and location).</summary>
    private static List<(JsonObject Parameter, ParameterLocation In)> Parameters(SpecDocument document, string path, JsonObject item, JsonObject operation, string where)
    {
        var result = new List<(JsonObject, ParameterLocation)>();
        var seen = new Dictionary<(string, ParameterLocation), int>();
        foreach (var list in new[] { item["parameters"], operation["parameters"] })
        {
            if (list is null) continue;
            if (list is not JsonArray array) throw new FormatException($"{where}: parameters is not a list");
            foreach (var node in array)
            {
                var parameter = document.Resolve(node, $"{where} parameter");
                var name = Text(parameter, "name");
                if (string.IsNullOrEmpty(name)) throw new FormatException($"{where}: a parameter has no name");
                ParameterLocation? location = Text(parameter, "in") switch
                {
                    "path" => ParameterLocation.Path,
                    "query" => ParameterLocation.Query,
                    "header" => ParameterLocation.Header,
                    "cookie" => ParameterLocation.Cookie,
                    _ => null,
                };
                if (location is not { } at) throw new FormatException($"{where}: parameter '{name}' has no valid 'in' (path, query, header or cookie)");
                if (at == ParameterLocation.Header && IgnoredHeaders.Contains(name)) continue;
                if (seen.TryGetValue((name, at), out var index)) result[index] = (parameter, at);
                else
                {
                    seen[(name, at)] = result.Count;
                    result.Add((parameter, at));
                }
            }
        }
        // A template variable the spec forgot to declare still has to be filled: it becomes a required string.
        foreach (var variable in TemplateVariables(path))
        {
            if (seen.ContainsKey((variable, ParameterLocation.Path))) continue;
            result.Add((new JsonObject { ["name"] = variable, ["in"] = "path", ["required"] = true, ["schema"] = new JsonObject { ["type"] = "string" } }, ParameterLocation.Path));
        }
        return result;
    }

    private static IEnumerable<string> TemplateVariables(string path)
    {
        for (var start = path.IndexOf('{'); start >= 0; start = path.IndexOf('{', start + 1))
        {
            var end = path.IndexOf('}', start);
            if (end < 0) yield break;
            if (end > start + 1) yield return path[(start + 1)..end];
        }
    }

    private static OpenApiBody? Body(SpecDocument document, JsonObject operation, string where, out JsonNode? schema, out string? unsupported)
    {
        schema = null;
        unsupported = null;
        if (operation["requestBody"] is null) return null;
        var requestBody = document.Resolve(operation["requestBody"], $"{where} requestBody");
        if (requestBody["content"] is not JsonObject content || content.Count == 0) return null;
        (string Type, JsonObject Media, BodyEncoding Encoding)? chosen = null;
        foreach (var (type, media) in content)
        {
            var encoding = EncodingOf(type);
            if (encoding is null || media is not JsonObject m) continue;
            if (chosen is null || encoding < chosen.Value.Encoding) chosen = (type, m, encoding.Value);
        }
        if (chosen is not { } c)
        {
            unsupported = string.Join(", ", content.Select(p => p.Key));
            return null;
        }
        schema = c.Media["schema"];
        var isString = schema is JsonObject s && SpecDocument.Reference(s) is null && Text(s, "type") == "string";
        return new OpenApiBody(c.Type, c.Encoding, Flag(requestBody, "required"), isString);
    }

    /// <summary>JSON first (what LiteLLM sends), then forms and text; files and multipart have no place in a tool's arguments.</summary>
    private static BodyEncoding? EncodingOf(string mediaType)
    {
        var type = mediaType.Split(';')[0].Trim().ToLowerInvariant();
        if (type == "application/json" || type.EndsWith("+json", StringComparison.Ordinal)) return BodyEncoding.Json;
        if (type == "application/x-www-form-urlencoded") return BodyEncoding.Form;
        if (type == "text/plain") return BodyEncoding.Text;
        return null;
    }

    private static JsonNode? FirstContentSchema(JsonObject parameter) =>
        parameter["content"] is JsonObject content && content.FirstOrDefault().Value is JsonObject media ? media["schema"] : null;

    private static bool Explode(JsonObject parameter, ParameterLocation location)
    {
        if (parameter["explode"] is JsonValue v && v.TryGetValue<bool>(out var explode)) return explode;
        var style = Text(parameter, "style") ?? (location is ParameterLocation.Query or ParameterLocation.Cookie ? "form" : "simple");
        return style == "form";
    }

    private static string Describe(JsonObject operation, string where)
    {
        var summary = Text(operation, "summary")?.Trim();
        var description = Text(operation, "description")?.Trim();
        var text = new StringBuilder();
        if (!string.IsNullOrEmpty(summary)) text.Append(summary);
        if (!string.IsNullOrEmpty(description) && description != summary)
        {
            if (text.Length > 0) text.Append("\n\n");
            text.Append(description);
        }
        return text.Length > 0 ? text.ToString() : where;
    }

    /// <summary>LiteLLM's sanitizing (sanitize_openapi_tool_name): lowercase, [a-z0-9_-] kept, anything else as _.</summary>
    public static string Sanitize(string raw)
    {
        var name = new StringBuilder(raw.Length);
        foreach (var c in raw.ToLowerInvariant()) name.Append(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' ? c : '_');
        return name.Length > MaxNameLength ? name.ToString(0, MaxNameLength) : name.ToString();
    }

    private static string UniqueName(string raw, HashSet<string> names)
    {
        var name = Sanitize(raw);
        var unique = name;
        for (var n = 2; !names.Add(unique); n++)
        {
            var suffix = $"_{n}";
            unique = name[..Math.Min(name.Length, MaxNameLength - suffix.Length)] + suffix;
        }
        return unique;
    }

    private static string? Text(JsonObject obj, string key) =>
        obj[key] is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    private static bool Flag(JsonObject obj, string key) =>
        obj[key] is JsonValue value && value.TryGetValue<bool>(out var flag) && flag;
}
