using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.OpenAi;
using AgenticGateway.Responses;

namespace AgenticGateway.Services.Responses;

/// <summary>A tool the gateway runs itself inside a Responses (or chat) call, for any provider.</summary>
internal abstract record HostedTool;

/// <summary>OpenAI's <c>code_interpreter</c>: Python in the caller's sandbox (a container id, or one made for the call).</summary>
internal sealed record CodeInterpreterTool(string? ContainerId) : HostedTool;

/// <summary>
/// OpenAI's <c>mcp</c> tool on a server of the gateway's MCP gateway, called with the caller's permissions.
/// </summary>
/// <param name="Label">The client's <c>server_label</c> (items carry it back).</param>
/// <param name="ServerUrl">The client's <c>server_url</c>, if any: it must name a server of this gateway.</param>
/// <param name="AllowedTools">Tool names the model may see (null: all the caller may call).</param>
/// <param name="ReadOnlyOnly">Only tools annotated read-only (<c>allowed_tools.read_only</c>).</param>
/// <param name="Approval">When a call needs the client's approval first.</param>
internal sealed record McpTool(string Label, string? ServerUrl, IReadOnlyList<string>? AllowedTools, bool ReadOnlyOnly, ApprovalRule Approval,
    IReadOnlyList<KeyValuePair<string, string>> Headers) : HostedTool;

/// <summary><c>require_approval</c>: "always" (OpenAI's default), "never", or per tool name and read-only hint.</summary>
internal sealed record ApprovalRule(bool Default, IReadOnlyList<string> Always, IReadOnlyList<string> Never, bool? AlwaysReadOnly, bool? NeverReadOnly)
{
    public static readonly ApprovalRule AlwaysRule = new(true, [], [], null, null);
    public static readonly ApprovalRule NeverRule = new(false, [], [], null, null);

    public bool Requires(string tool, bool readOnly)
    {
        if (Never.Contains(tool, StringComparer.Ordinal) || NeverReadOnly == true && readOnly) return false;
        if (Always.Contains(tool, StringComparer.Ordinal) || AlwaysReadOnly == true && readOnly) return true;
        // A tool no filter names keeps the default: approval (OpenAI's documented default is "always").
        return Default;
    }
}

internal static class HostedTools
{
    /// <summary>The hosted tools of a request, or the 400 for one the gateway cannot run as asked.</summary>
    public static (IReadOnlyList<HostedTool> Tools, ApiError? Error) Read(ResponsesCreate create) => Read(create.Tools, "tools");

    public static (IReadOnlyList<HostedTool> Tools, ApiError? Error) Read(JsonArray tools, string path)
    {
        var result = new List<HostedTool>();
        var labels = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < tools.Count; i++)
        {
            if (tools[i] is not JsonObject tool) continue;
            var at = $"{path}[{i}]";
            switch ((string?)tool["type"])
            {
                case "code_interpreter":
                    if (result.OfType<CodeInterpreterTool>().Any()) return ([], ApiError.BadRequest("Only one code_interpreter tool may be given.", at, "invalid_value"));
                    var (container, containerError) = Container(tool["container"], at + ".container");
                    if (containerError is not null) return ([], containerError);
                    result.Add(new CodeInterpreterTool(container));
                    break;
                case "mcp":
                    var (mcp, mcpError) = Mcp(tool, at);
                    if (mcpError is not null) return ([], mcpError);
                    if (!labels.Add(mcp!.Label)) return ([], ApiError.BadRequest($"Duplicate server_label '{mcp.Label}': each mcp tool needs its own label.", at + ".server_label", "invalid_value"));
                    result.Add(mcp);
                    break;
            }
        }
        return (result, null);
    }

    private static (string? Id, ApiError? Error) Container(JsonNode? container, string at)
    {
        switch (container)
        {
            case null:
                return (null, null);
            case JsonValue v when v.TryGetValue<string>(out var id):
                return id.Length == 0 ? (null, ApiError.BadRequest("Invalid container: an empty id.", at, "invalid_value")) : (id, null);
            case JsonObject auto when (string?)auto["type"] == "auto":
                // What the operator's sandbox policy decides is not the request's to change: refused, never ignored.
                if (auto["network_policy"] is JsonObject policy && (string?)policy["type"] != "disabled")
                    return (null, ApiError.BadRequest("container.network_policy: the gateway's sandboxes take their network policy from the operator's configuration; a request cannot open it.", at + ".network_policy", "unsupported_value"));
                if (auto["memory_limit"] is JsonValue)
                    return (null, ApiError.BadRequest("container.memory_limit: the gateway's sandboxes take their memory limit from the operator's quotas; leave it out.", at + ".memory_limit", "unsupported_value"));
                if (auto["file_ids"] is JsonArray { Count: > 0 })
                    return (null, ApiError.BadRequest("container.file_ids: this gateway has no Files API; upload files with POST /v1/containers/{id}/files and pass the container's id.", at + ".file_ids", "unsupported_value"));
                return (null, null);
            default:
                return (null, ApiError.BadRequest("Invalid container: expected a container id or {\"type\": \"auto\"}.", at, "invalid_value"));
        }
    }

    private static (McpTool? Tool, ApiError? Error) Mcp(JsonObject tool, string at)
    {
        if (tool["server_label"] is not JsonValue l || !l.TryGetValue<string>(out var label) || label.Length == 0)
            return (null, ApiError.BadRequest("Missing required parameter: 'server_label'.", at + ".server_label", "missing_required_parameter"));
        if (tool["connector_id"] is not null)
            return (null, ApiError.BadRequest("connector_id: OpenAI's connectors are not served by this gateway; name one of its MCP servers in server_label.", at + ".connector_id", "unsupported_value"));
        string? url = null;
        if (tool["server_url"] is { } u && (u.GetValueKind() != JsonValueKind.String || !Uri.TryCreate(url = (string?)u, UriKind.Absolute, out _)))
            return (null, ApiError.BadRequest("Invalid server_url: expected an absolute URL.", at + ".server_url", "invalid_value"));
        IReadOnlyList<string>? allowed = null;
        var readOnly = false;
        switch (tool["allowed_tools"])
        {
            case null: break;
            case JsonArray names:
                allowed = Names(names);
                if (allowed is null) return (null, ApiError.BadRequest("Invalid allowed_tools: expected tool names.", at + ".allowed_tools", "invalid_value"));
                break;
            case JsonObject filter:
                if (filter["tool_names"] is JsonArray tn && (allowed = Names(tn)) is null)
                    return (null, ApiError.BadRequest("Invalid allowed_tools.tool_names: expected tool names.", at + ".allowed_tools.tool_names", "invalid_value"));
                readOnly = filter["read_only"]?.GetValueKind() == JsonValueKind.True;
                break;
            default:
                return (null, ApiError.BadRequest("Invalid allowed_tools: expected a list of names or {tool_names, read_only}.", at + ".allowed_tools", "invalid_value"));
        }
        ApprovalRule approval;
        switch (tool["require_approval"])
        {
            case null: approval = ApprovalRule.AlwaysRule; break;
            case JsonValue v when v.TryGetValue<string>(out var s) && s is "always" or "never":
                approval = s == "always" ? ApprovalRule.AlwaysRule : ApprovalRule.NeverRule;
                break;
            case JsonObject filter:
                var always = filter["always"] as JsonObject;
                var never = filter["never"] as JsonObject;
                approval = new ApprovalRule(true, Names(always?["tool_names"] as JsonArray ?? []) ?? [], Names(never?["tool_names"] as JsonArray ?? []) ?? [],
                    always?["read_only"] is { } ar ? ar.GetValueKind() == JsonValueKind.True : null, never?["read_only"] is { } nr ? nr.GetValueKind() == JsonValueKind.True : null);
                break;
            default:
                return (null, ApiError.BadRequest("Invalid require_approval: expected \"always\", \"never\" or {always, never}.", at + ".require_approval", "invalid_value"));
        }
        var headers = new List<KeyValuePair<string, string>>();
        if (tool["headers"] is JsonObject h)
            foreach (var (name, value) in h)
                if (value is JsonValue hv && hv.TryGetValue<string>(out var text)) headers.Add(new(name, text));
        if (tool["authorization"] is JsonValue auth && auth.TryGetValue<string>(out var token)) headers.Add(new("Authorization", "Bearer " + token));
        return (new McpTool(label, url, allowed, readOnly, approval, headers), null);
    }

    private static List<string>? Names(JsonArray names)
    {
        var list = new List<string>(names.Count);
        foreach (var n in names)
        {
            if (n is not JsonValue v || !v.TryGetValue<string>(out var s)) return null;
            list.Add(s);
        }
        return list;
    }
}
