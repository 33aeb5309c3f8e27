using System.Text.Json.Nodes;

namespace AgenticGateway.Mcp.OpenApi;

/// <summary>
/// A parsed OpenAPI 3.0 or 3.1 document: its JSON tree and local <c>$ref</c> resolution. Only references inside the
/// document (<c>#/...</c>) are followed: a spec that points at other files or URLs is refused with the reference named,
/// so loading never fetches anything the operator did not configure.
/// </summary>
internal sealed class SpecDocument
{
    private const int MaxRefHops = 32;

    private SpecDocument(JsonObject root, bool isOpenApi30)
    {
        Root = root;
        IsOpenApi30 = isOpenApi30;
    }

    public JsonObject Root { get; }
    /// <summary>3.0 schemas are an extended subset of JSON Schema (nullable, boolean exclusive bounds) and are converted; 3.1's are JSON Schema 2020-12.</summary>
    public bool IsOpenApi30 { get; }

    public static SpecDocument From(JsonNode? root)
    {
        if (root is not JsonObject obj) throw new FormatException("the document is not an object");
        if (obj["swagger"] is JsonValue swagger)
            throw new FormatException($"it is a Swagger {swagger} document; only OpenAPI 3.0 and 3.1 are supported (convert it, e.g. with swagger2openapi)");
        var version = obj["openapi"] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
        if (version is null) throw new FormatException("it has no 'openapi' version field: not an OpenAPI 3 document");
        if (!version.StartsWith("3.0", StringComparison.Ordinal) && !version.StartsWith("3.1", StringComparison.Ordinal))
            throw new FormatException($"OpenAPI version {version} is not supported (3.0 and 3.1 are)");
        return new SpecDocument(obj, version.StartsWith("3.0", StringComparison.Ordinal));
    }

    /// <summary>An object (a parameter, a request body) with its <c>$ref</c>s followed.</summary>
    public JsonObject Resolve(JsonNode? node, string where)
    {
        for (var hops = 0; hops < MaxRefHops; hops++)
        {
            if (node is not JsonObject obj) throw new FormatException($"{where} is not an object");
            if (Reference(obj) is not { } reference) return obj;
            node = Target(reference, where);
            where = reference;
        }
        throw new FormatException($"{where}: more than {MaxRefHops} $ref hops (a reference loop)");
    }

    public static string? Reference(JsonObject obj) =>
        obj["$ref"] is JsonValue value && value.TryGetValue<string>(out var reference) ? reference : null;

    /// <summary>What a local reference points at; a broken or external one is an error naming it and where it was used.</summary>
    public JsonNode Target(string reference, string where)
    {
        if (!reference.StartsWith('#'))
            throw new FormatException($"{where}: $ref '{reference}' points outside the document; only local references (#/...) are supported");
        JsonNode? node = Root;
        if (reference.Length > 1)
        {
            if (reference[1] != '/') throw new FormatException($"{where}: $ref '{reference}' is not a JSON pointer (#/...)");
            foreach (var raw in reference[2..].Split('/'))
            {
                var segment = Uri.UnescapeDataString(raw).Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
                node = node switch
                {
                    JsonObject o => o.TryGetPropertyValue(segment, out var child) ? child : null,
                    JsonArray a => int.TryParse(segment, out var i) && i >= 0 && i < a.Count ? a[i] : null,
                    _ => null,
                };
                if (node is null) break;
            }
        }
        return node ?? throw new FormatException($"{where}: $ref '{reference}' points at nothing in the document");
    }
}
