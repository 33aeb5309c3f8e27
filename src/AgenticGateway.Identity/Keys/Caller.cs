namespace AgenticGateway.Keys;

/// <summary>Who is calling: the admin (master key, or anyone when auth is off) or the holder of a virtual key.</summary>
internal sealed record Caller(bool IsAdmin, KeyIdentity? Identity)
{
    public static readonly Caller Admin = new(true, null);
    public static readonly Caller Anonymous = new(false, null);

    public VirtualKey? Key => Identity?.Key;

    /// <summary>
    /// The models a JWT's scopes grant (LiteLLM's scope_mappings), by the name the client asks for; null when scopes
    /// do not limit models. Applies to admin tokens too, as in LiteLLM.
    /// </summary>
    public IReadOnlyList<string>? ModelScope { get; init; }

    /// <summary>A model must be allowed by the key, its user and its team alike (and the token's scopes): the strictest wins.</summary>
    public bool MayUse(string requested, string group) => MayUse(requested, group, []);

    /// <param name="accessGroups">The access groups of the group's deployments: a list naming one allows the group.</param>
    public bool MayUse(string requested, string group, IReadOnlyList<string> accessGroups) =>
        (ModelScope is null || ModelScope.Contains(requested, StringComparer.Ordinal))
        && (Identity is not { } id
        || (ModelAccess.Allows(id.Key.Models, requested, group, accessGroups)
            && (id.User is null || ModelAccess.Allows(id.User.Models, requested, group, accessGroups))
            && (id.Team is null || ModelAccess.Allows(id.Team.Models, requested, group, accessGroups))
            && (id.Organization is null || ModelAccess.Allows(id.Organization.Models, requested, group, accessGroups))));

    /// <summary>
    /// Whether this caller may reach an MCP server (list its tools, call them): its key's and its team's
    /// object_permission must both allow it, the strictest wins, as for models. A level that restricts nothing
    /// (no object_permission, or mcp_servers null with no access group or tool list) does not restrict, so a key
    /// without its own inherits its team's (LiteLLM's rule); a key's <c>[]</c> or <c>"no-mcp-servers"</c> refuses every
    /// server whatever its team allows. The admin (master key, admin JWT) and, with auth off, anyone may use all.
    /// </summary>
    /// <remarks>
    /// Where no level restricts, every server is allowed. LiteLLM differs there: a non-admin key with no grant anywhere
    /// reaches only servers marked allow_all_keys (litellm/proxy/_experimental/mcp_server/mcp_server_manager.py
    /// <c>get_allowed_mcp_servers</c>); this gateway's servers have no such mark, and its keys already reach every model
    /// when they list none, so MCP follows the same rule. Restrict keys with object_permission.
    /// </remarks>
    /// <param name="serverAccessGroups">The server's access groups: an mcp_access_groups naming one allows the server.</param>
    public bool MayUseMcpServer(string server, IReadOnlyList<string> serverAccessGroups) =>
        IsAdmin || Identity is not { } id
        || ((id.Key.ObjectPermission?.AllowsServer(server, serverAccessGroups) ?? true)
            && (id.Team?.ObjectPermission?.AllowsServer(server, serverAccessGroups) ?? true));

    /// <summary>
    /// Whether this caller may list and call a tool of a server it may use (check <see cref="MayUseMcpServer"/> first:
    /// this looks at the tool rules only). The key's and the team's mcp_tool_permissions for the server, where set,
    /// must both list the tool (<c>[]</c>: no tool of it); blocked_tools of either refuses it.
    /// </summary>
    /// <param name="tool">The upstream's name for the tool.</param>
    /// <param name="exposedName">The name clients see (blocked_tools names tools so); LiteLLM's "{server}-{tool}" if not given.</param>
    public bool MayUseMcpTool(string server, string tool, string? exposedName = null)
    {
        if (IsAdmin || Identity is not { } id) return true;
        var name = exposedName ?? server + "-" + tool;
        return (id.Key.ObjectPermission?.AllowsTool(server, tool, name) ?? true) && (id.Team?.ObjectPermission?.AllowsTool(server, tool, name) ?? true);
    }

    /// <summary>Whether a budget binds this caller (its key's, user's, team's, organization's, or the user's in the team or organization).</summary>
    public bool HasBudget => Identity is { } id && (id.Key.Limits.MaxBudget is not null || id.User?.Limits.MaxBudget is not null || id.Team?.Limits.MaxBudget is not null
        || id.Membership?.MaxBudgetInTeam is not null || id.Organization?.Limits.MaxBudget is not null || id.OrganizationMembership?.MaxBudget is not null);

    /// <summary>The key, then its user, team, team membership and organization: whatever carries limits for this caller.</summary>
    public IEnumerable<ILimitHolder> LimitHolders()
    {
        if (Identity is not { } id) yield break;
        yield return id.Key;
        if (id.User is not null) yield return id.User;
        if (id.Team is not null) yield return id.Team;
        if (id.Membership is { MaxBudgetInTeam: not null }) yield return id.Membership;
        if (id.Organization is not null) yield return id.Organization;
        if (id.OrganizationMembership is { MaxBudget: not null }) yield return id.OrganizationMembership;
    }
}
