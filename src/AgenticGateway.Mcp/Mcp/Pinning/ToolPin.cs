using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol.Protocol;

namespace AgenticGateway.Mcp.Pinning;

/// <summary>
/// A tool's pinned definition: the hash an admin approved (or the gateway approved on first sight), and, while the
/// upstream serves something else, the definition it serves now, held back (quarantined) until approved.
/// </summary>
/// <param name="Server">The server's name in the gateway.</param>
/// <param name="Tool">The tool's name on its server.</param>
/// <param name="ApprovedHash">The definition callers get; null until one is approved.</param>
/// <param name="PendingHash">The definition the server serves now when it is not the approved one.</param>
/// <param name="PendingDefinition">That definition (name, description, input schema) as JSON, for the admin to read.</param>
/// <param name="Reason">Why it is held: changed, new (with approval required), or flagged by the injection scanner.</param>
internal sealed record ToolPin(string Server, string Tool, string? ApprovedHash, string? PendingHash, string? PendingDefinition, string? Reason,
    DateTimeOffset UpdatedAt, string? ApprovedBy)
{
    public bool Quarantined => PendingHash is not null;
}

/// <summary>Where pins are kept (the gateway's database), so a restart or another replica keeps them.</summary>
internal interface IToolPinStore
{
    Task<IReadOnlyList<ToolPin>> LoadAsync(CancellationToken ct);
    Task SaveAsync(ToolPin pin, CancellationToken ct);
}

/// <summary>
/// A tool definition's fingerprint: SHA-256 of the canonical JSON (keys sorted at every level) of what a model reads
/// and relies on: name, title, description, input and output schemas, annotations. A rug pull changes one of these.
/// </summary>
internal static class ToolDefinition
{
    public static (string Hash, string Json) Of(Tool tool)
    {
        var node = new JsonObject
        {
            ["name"] = tool.Name,
            ["title"] = tool.Title,
            ["description"] = tool.Description,
            ["inputSchema"] = Canonical(JsonSerializer.SerializeToNode(tool.InputSchema, Json.McpWire.Default.JsonElement)),
            ["outputSchema"] = tool.OutputSchema is { } output ? Canonical(JsonSerializer.SerializeToNode(output, Json.McpWire.Default.JsonElement)) : null,
            ["annotations"] = tool.Annotations is { } a ? Canonical(JsonSerializer.SerializeToNode(a, ModelContextProtocol.McpJsonUtilities.DefaultOptions)) : null,
        };
        var json = node.ToJsonString();
        return (Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(json))), json);
    }

    private static JsonNode? Canonical(JsonNode? node) => node switch
    {
        JsonObject o => new JsonObject(o.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, Canonical(p.Value)))),
        JsonArray a => new JsonArray([.. a.Select(Canonical)]),
        null => null,
        _ => node.DeepClone(),
    };
}
