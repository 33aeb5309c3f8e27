using System.Buffers;
using System.Text.Json;

namespace AgenticGateway.Keys;

/// <summary>
/// LiteLLM's <c>object_permission</c> on a key or a team (litellm/proxy/_types.py <c>LiteLLM_ObjectPermissionBase</c>,
/// its row <c>LiteLLM_ObjectPermissionTable</c> in litellm/models/object_permission.py): which MCP servers and tools the
/// holder may use. The MCP fields are typed and enforced; LiteLLM's other fields (vector_stores, agents, models,
/// search_tools, ...) are kept as sent and given back, not enforced: the gateway has no such resources.
/// </summary>
/// <remarks>
/// One level (a key, or a team) allows a server when it does not restrict servers at all, or when the server is in
/// <see cref="McpServers"/>, shares an access group with <see cref="McpAccessGroups"/>, or is a key of
/// <see cref="McpToolPermissions"/> (LiteLLM: "a server named here counts as granted",
/// litellm/proxy/_experimental/mcp_server/auth/user_api_key_auth_mcp.py <c>_get_allowed_mcp_servers_for_key</c>).
/// <c>mcp_servers: null</c> leaves servers unrestricted at this level (a key then inherits its team's), <c>[]</c> and
/// LiteLLM's sentinel <c>"no-mcp-servers"</c> allow none, and <c>"all-proxy-mcpservers"</c> allows all.
/// </remarks>
internal sealed record ObjectPermission
{
    /// <summary>LiteLLM's SpecialMCPServerNames.no_mcp_servers: no MCP server at all, whatever else is granted.</summary>
    public const string NoServers = "no-mcp-servers";
    /// <summary>LiteLLM's SpecialMCPServerName.all_proxy_servers: every server the gateway has.</summary>
    public const string AllServers = "all-proxy-mcpservers";
    /// <summary>At most this many entries per list (and servers in mcp_tool_permissions): a permission is a short list.</summary>
    public const int MaxEntries = 1000;
    /// <summary>At most this many characters per name (MCP tool names are at most 128; a prefixed name adds the server's).</summary>
    public const int MaxNameLength = 512;

    private static readonly IReadOnlyDictionary<string, IReadOnlyList<string>> NoToolPermissions = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);

    /// <summary>Server names this level allows; null: servers are not restricted by this list.</summary>
    public IReadOnlyList<string>? McpServers { get; init; }
    /// <summary>Access groups (a server's <c>access_groups</c>) whose servers this level allows. Empty: none named.</summary>
    public IReadOnlyList<string> McpAccessGroups { get; init; } = [];
    /// <summary>Per server, the only tools (by the upstream's name) this level allows there; a server not named: all its tools.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> McpToolPermissions { get; init; } = NoToolPermissions;
    /// <summary>
    /// LiteLLM's blocked_tools: tools refused whatever else allows them, named as clients see them (for MCP tools the
    /// prefixed name, "github-create_issue"), as LiteLLM's tool policy records them (litellm/proxy/db/tool_registry_writer.py
    /// <c>add_tool_to_object_permission_blocked</c>).
    /// </summary>
    public IReadOnlyList<string> BlockedTools { get; init; } = [];
    /// <summary>LiteLLM's other fields, as a JSON object of them as sent (null: none), given back after the fields above.</summary>
    public string? Other { get; init; }

    /// <summary>Whether this level limits servers at all (mcp_servers set, or a group or a tool list naming some).</summary>
    public bool RestrictsServers => McpServers is not null || McpAccessGroups.Count > 0 || McpToolPermissions.Count > 0;

    /// <param name="serverAccessGroups">The server's access groups (LiteLLM's access_groups on an mcp_servers entry).</param>
    public bool AllowsServer(string server, IReadOnlyList<string> serverAccessGroups)
    {
        if (!RestrictsServers) return true;
        if (McpServers is { } servers)
        {
            // The opt-out wins over every grant of the same level (LiteLLM returns no servers before looking at the rest).
            if (Contains(servers, NoServers)) return false;
            if (Contains(servers, AllServers) || Contains(servers, server)) return true;
        }
        for (var i = 0; i < serverAccessGroups.Count; i++)
        {
            if (Contains(McpAccessGroups, serverAccessGroups[i])) return true;
        }
        return McpToolPermissions.ContainsKey(server);
    }

    /// <summary>Whether this level lets a tool of an allowed server be listed and called.</summary>
    /// <param name="tool">The upstream's name for the tool (what mcp_tool_permissions lists).</param>
    /// <param name="exposedName">The name clients see (what blocked_tools lists).</param>
    public bool AllowsTool(string server, string tool, string exposedName) =>
        (!McpToolPermissions.TryGetValue(server, out var tools) || Contains(tools, tool)) && !Contains(BlockedTools, exposedName);

    private static bool Contains(IReadOnlyList<string> list, string value)
    {
        for (var i = 0; i < list.Count; i++)
        {
            if (string.Equals(list[i], value, StringComparison.Ordinal)) return true;
        }
        return false;
    }

    // ----- JSON: the API's shape, also what the stores keep -----

    /// <summary>The fields typed here; object_permission_id is LiteLLM's row id, which the gateway does not have, so it is dropped.</summary>
    private static readonly string[] Typed = ["mcp_servers", "mcp_access_groups", "mcp_tool_permissions", "mcp_toolsets", "blocked_tools", "object_permission_id"];

    /// <summary>Writes the object in LiteLLM's field names: the MCP fields (nulls as LiteLLM's row has them), then the others as sent.</summary>
    public void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        if (McpServers is { } servers) WriteList(w, "mcp_servers", servers); else w.WriteNull("mcp_servers");
        WriteList(w, "mcp_access_groups", McpAccessGroups);
        if (McpToolPermissions.Count == 0) w.WriteNull("mcp_tool_permissions");
        else
        {
            w.WriteStartObject("mcp_tool_permissions");
            foreach (var (server, tools) in McpToolPermissions) WriteList(w, server, tools);
            w.WriteEndObject();
        }
        WriteList(w, "blocked_tools", BlockedTools);
        if (Other is not null)
        {
            using var other = JsonDocument.Parse(Other);
            foreach (var p in other.RootElement.EnumerateObject()) p.WriteTo(w);
        }
        w.WriteEndObject();
    }

    private static void WriteList(Utf8JsonWriter w, string name, IReadOnlyList<string> values)
    {
        w.WriteStartArray(name);
        foreach (var v in values) w.WriteStringValue(v);
        w.WriteEndArray();
    }

    /// <summary>The stored form (a JSON object).</summary>
    public string ToJson()
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer)) Write(w);
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Reads the stored form; null or empty text: no permission set. The stores wrote it, so a bad one is corruption.</summary>
    public static ObjectPermission? FromJson(string? json)
    {
        if (string.IsNullOrEmpty(json)) return null;
        using var doc = JsonDocument.Parse(json);
        var errors = new List<string>();
        return Parse(doc.RootElement, "object_permission", errors)
            ?? throw new InvalidDataException($"A stored object_permission is not valid: {string.Join("; ", errors)}");
    }

    /// <summary>
    /// An update over <paramref name="current"/> as LiteLLM makes it (litellm/proxy/management_helpers/object_permission_utils.py
    /// <c>handle_update_object_permission_common</c>): each field sent replaces the stored one, null included; a field not
    /// sent keeps its value. With no current permission, the update is the whole of it. Null when the update is invalid
    /// (the reasons, naming the field, are added to <paramref name="errors"/>).
    /// </summary>
    public static ObjectPermission? Merge(ObjectPermission? current, JsonElement update, string path, List<string> errors)
    {
        if (update.ValueKind != JsonValueKind.Object)
        {
            errors.Add($"'{path}' must be an object (mcp_servers, mcp_access_groups, mcp_tool_permissions, blocked_tools)");
            return null;
        }
        if (current is null) return Parse(update, path, errors);
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            using var stored = JsonDocument.Parse(current.ToJson());
            foreach (var p in stored.RootElement.EnumerateObject())
            {
                if (!update.TryGetProperty(p.Name, out _)) p.WriteTo(w);
            }
            foreach (var p in update.EnumerateObject()) p.WriteTo(w);
            w.WriteEndObject();
        }
        using var merged = JsonDocument.Parse(buffer.WrittenMemory);
        return Parse(merged.RootElement, path, errors);
    }

    /// <summary>Reads and validates a whole object_permission; null when it is invalid (the reasons added to <paramref name="errors"/>).</summary>
    public static ObjectPermission? Parse(JsonElement e, string path, List<string> errors)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            errors.Add($"'{path}' must be an object (mcp_servers, mcp_access_groups, mcp_tool_permissions, blocked_tools)");
            return null;
        }
        var before = errors.Count;
        var servers = Names(e, "mcp_servers", path, errors);
        var groups = Names(e, "mcp_access_groups", path, errors) ?? [];
        var blocked = Names(e, "blocked_tools", path, errors) ?? [];
        // LiteLLM's toolsets are records of its own database (a toolset id naming tools across servers); this gateway
        // has none, and ignoring a grant would widen what the key may do, so a toolset is refused rather than dropped.
        if (Names(e, "mcp_toolsets", path, errors) is { Count: > 0 })
            errors.Add($"'{path}.mcp_toolsets' is not supported: grant servers with mcp_servers and tools with mcp_tool_permissions");
        var tools = ToolPermissions(e, path, errors);
        var other = Others(e);
        if (errors.Count > before) return null;
        return new ObjectPermission { McpServers = servers, McpAccessGroups = groups, McpToolPermissions = tools ?? NoToolPermissions, BlockedTools = blocked, Other = other };
    }

    private static List<string>? Names(JsonElement parent, string name, string path, List<string> errors)
    {
        if (!parent.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        return NameList(v, $"{path}.{name}", errors, " (or null)");
    }

    private static List<string>? NameList(JsonElement v, string path, List<string> errors, string orNull = "")
    {
        if (v.ValueKind != JsonValueKind.Array || v.EnumerateArray().Any(x => x.ValueKind != JsonValueKind.String))
        {
            errors.Add($"'{path}' must be a list of strings{orNull}");
            return null;
        }
        var list = v.EnumerateArray().Select(x => x.GetString()!).ToList();
        if (list.Count > MaxEntries) { errors.Add($"'{path}' may hold at most {MaxEntries} entries"); return null; }
        if (list.Any(s => s.Length == 0 || s.Length > MaxNameLength))
        {
            errors.Add($"'{path}' holds a name that is empty or longer than {MaxNameLength} characters");
            return null;
        }
        return list;
    }

    private static Dictionary<string, IReadOnlyList<string>>? ToolPermissions(JsonElement parent, string path, List<string> errors)
    {
        if (!parent.TryGetProperty("mcp_tool_permissions", out var v) || v.ValueKind == JsonValueKind.Null) return null;
        var where = path + ".mcp_tool_permissions";
        if (v.ValueKind != JsonValueKind.Object)
        {
            errors.Add($"'{where}' must be an object of server names to lists of tool names ({{\"server\": [\"tool\"]}})");
            return null;
        }
        var map = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var p in v.EnumerateObject())
        {
            if (map.Count == MaxEntries) { errors.Add($"'{where}' may name at most {MaxEntries} servers"); return null; }
            if (p.Name.Length == 0 || p.Name.Length > MaxNameLength)
            {
                errors.Add($"'{where}' names a server that is empty or longer than {MaxNameLength} characters");
                return null;
            }
            if (NameList(p.Value, $"{where}.{p.Name}", errors) is not { } tools) return null;
            map[p.Name] = tools;
        }
        return map;
    }

    /// <summary>The properties not typed here, as a JSON object's text; null when there are none.</summary>
    private static string? Others(JsonElement e)
    {
        if (!e.EnumerateObject().Any(p => !Typed.Contains(p.Name, StringComparer.Ordinal))) return null;
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            foreach (var p in e.EnumerateObject())
            {
                if (!Typed.Contains(p.Name, StringComparer.Ordinal)) p.WriteTo(w);
            }
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
