using System.Text.Json;
using AgenticGateway.Keys;

namespace AgenticGateway.Tests.Keys;

/// <summary>
/// LiteLLM's object_permission on keys and teams: which MCP servers and tools a caller may use (key and team must both
/// allow, the strictest wins), and how the object is read, validated, merged and kept.
/// </summary>
[Trait("Category", "unit")]
public class ObjectPermissionTests
{
    private static readonly string[] NoGroups = [];

    private static ObjectPermission Perm(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var errors = new List<string>();
        var p = ObjectPermission.Parse(doc.RootElement, "object_permission", errors);
        Assert.True(p is not null, string.Join("; ", errors));
        return p!;
    }

    private static Caller Of(string? key, string? team = null, bool inTeam = true)
    {
        var k = new VirtualKey { Token = "t", KeyName = "sk-...abcd", TeamId = inTeam ? "team" : null, ObjectPermission = key is null ? null : Perm(key) };
        var t = inTeam ? new Team { TeamId = "team", ObjectPermission = team is null ? null : Perm(team) } : null;
        return new Caller(false, new KeyIdentity(k, null, t));
    }

    private static string[] Servers(Caller c, params string[] servers) => servers.Where(s => c.MayUseMcpServer(s, NoGroups)).ToArray();

    [Fact]
    public void The_admin_and_callers_without_auth_may_use_every_server_and_tool()
    {
        foreach (var c in new[] { Caller.Admin, Caller.Anonymous })
        {
            Assert.True(c.MayUseMcpServer("github", NoGroups));
            Assert.True(c.MayUseMcpTool("github", "create_issue"));
        }
    }

    [Fact]
    public void Without_an_object_permission_anywhere_nothing_is_restricted()
    {
        var c = Of(null, null);
        Assert.Equal(["github", "jira"], Servers(c, "github", "jira"));
        Assert.True(c.MayUseMcpTool("github", "create_issue"));
        // LiteLLM's row defaults (access groups and blocked tools empty, tool permissions null) restrict nothing either.
        Assert.Equal(["github"], Servers(Of("""{"mcp_servers": null, "mcp_access_groups": [], "mcp_tool_permissions": {}, "blocked_tools": []}"""), "github"));
    }

    [Fact]
    public void A_key_listing_servers_reaches_only_those()
    {
        Assert.Equal(["github"], Servers(Of("""{"mcp_servers": ["github"]}"""), "github", "jira"));
        Assert.Equal(["github"], Servers(Of("""{"mcp_servers": ["github"]}""", inTeam: false), "github", "jira"));
    }

    [Fact]
    public void A_key_without_its_own_inherits_its_teams_servers()
    {
        Assert.Equal(["jira"], Servers(Of(null, """{"mcp_servers": ["jira"]}"""), "github", "jira"));
        Assert.Equal(["jira"], Servers(Of("""{"mcp_servers": null, "vector_stores": ["vs1"]}""", """{"mcp_servers": ["jira"]}"""), "github", "jira"));
    }

    [Fact]
    public void Key_and_team_lists_intersect()
    {
        var c = Of("""{"mcp_servers": ["github", "jira"]}""", """{"mcp_servers": ["jira", "slack"]}""");
        Assert.Equal(["jira"], Servers(c, "github", "jira", "slack"));
    }

    [Fact]
    public void An_empty_list_or_no_mcp_servers_on_the_key_refuses_every_server_whatever_the_team_allows()
    {
        Assert.Empty(Servers(Of("""{"mcp_servers": []}""", """{"mcp_servers": ["github"]}"""), "github", "jira"));
        Assert.Empty(Servers(Of("""{"mcp_servers": ["no-mcp-servers", "github"], "mcp_access_groups": ["dev"], "mcp_tool_permissions": {"github": ["x"]}}"""), "github"));
        Assert.False(Of("""{"mcp_servers": ["no-mcp-servers"]}""").MayUseMcpServer("github", ["dev"]));
        Assert.Empty(Servers(Of(null, """{"mcp_servers": []}"""), "github"));
    }

    [Fact]
    public void All_proxy_mcpservers_allows_every_server_at_its_level()
    {
        Assert.Equal(["github", "jira"], Servers(Of(null, """{"mcp_servers": ["all-proxy-mcpservers"]}"""), "github", "jira"));
        Assert.Equal(["github"], Servers(Of("""{"mcp_servers": ["github"]}""", """{"mcp_servers": ["all-proxy-mcpservers"]}"""), "github", "jira"));
    }

    [Fact]
    public void An_access_group_allows_the_servers_in_it()
    {
        var c = Of("""{"mcp_access_groups": ["dev-tools"]}""");
        Assert.True(c.MayUseMcpServer("github", ["dev-tools"]));
        Assert.True(c.MayUseMcpServer("jira", ["ops", "dev-tools"]));
        Assert.False(c.MayUseMcpServer("slack", ["ops"]));
        Assert.False(c.MayUseMcpServer("plain", NoGroups));
        // A group on the key and a list on the team: both levels must allow.
        var both = Of("""{"mcp_access_groups": ["dev-tools"]}""", """{"mcp_servers": ["jira"]}""");
        Assert.False(both.MayUseMcpServer("github", ["dev-tools"]));
        Assert.True(both.MayUseMcpServer("jira", ["dev-tools"]));
    }

    [Fact]
    public void A_server_named_in_tool_permissions_is_granted_and_limited_to_those_tools()
    {
        var c = Of("""{"mcp_tool_permissions": {"github": ["list_repos", "search_code"]}}""");
        Assert.Equal(["github"], Servers(c, "github", "jira"));
        Assert.True(c.MayUseMcpTool("github", "list_repos"));
        Assert.False(c.MayUseMcpTool("github", "delete_repo"));
        // A server the list does not name keeps all its tools (where another grant allows the server).
        var listed = Of("""{"mcp_servers": ["github", "jira"], "mcp_tool_permissions": {"github": ["list_repos"]}}""");
        Assert.True(listed.MayUseMcpTool("jira", "create_ticket"));
        Assert.False(listed.MayUseMcpTool("github", "search_code"));
    }

    [Fact]
    public void Key_and_team_tool_lists_intersect_and_an_empty_list_allows_no_tool()
    {
        var c = Of("""{"mcp_tool_permissions": {"github": ["list_repos", "search_code"]}}""", """{"mcp_tool_permissions": {"github": ["search_code", "close_issue"]}}""");
        Assert.Equal(["search_code"], new[] { "list_repos", "search_code", "close_issue" }.Where(t => c.MayUseMcpTool("github", t)));
        // Only the team sets a list: the key inherits it.
        Assert.False(Of(null, """{"mcp_tool_permissions": {"github": ["search_code"]}}""").MayUseMcpTool("github", "list_repos"));
        var none = Of("""{"mcp_tool_permissions": {"github": []}}""");
        Assert.True(none.MayUseMcpServer("github", NoGroups));
        Assert.False(none.MayUseMcpTool("github", "list_repos"));
    }

    [Fact]
    public void Blocked_tools_of_the_key_or_the_team_refuse_a_tool_by_the_name_clients_see()
    {
        var byTeam = Of(null, """{"blocked_tools": ["github-delete_repo"]}""");
        Assert.False(byTeam.MayUseMcpTool("github", "delete_repo"));
        Assert.True(byTeam.MayUseMcpTool("github", "list_repos"));
        Assert.True(byTeam.MayUseMcpServer("github", NoGroups)); // a block is per tool, not per server
        var byKey = Of("""{"blocked_tools": ["github__delete_repo"]}""");
        Assert.False(byKey.MayUseMcpTool("github", "delete_repo", "github__delete_repo"));
        Assert.True(byKey.MayUseMcpTool("github", "delete_repo")); // LiteLLM's "-" name is not the one blocked
        // A block wins over an allow list naming the tool.
        Assert.False(Of("""{"mcp_tool_permissions": {"github": ["delete_repo"]}, "blocked_tools": ["github-delete_repo"]}""").MayUseMcpTool("github", "delete_repo"));
    }

    [Fact]
    public void A_jwt_caller_mapped_to_a_team_gets_the_teams_permission()
    {
        // The stand-in key of a JWT caller (KeyRegistry.FindForClaimsAsync) has no object_permission of its own.
        var standIn = new VirtualKey { Token = "jwt:dana", KeyName = KeyRegistry.JwtKeyName, TeamId = "ml" };
        var team = new Team { TeamId = "ml", ObjectPermission = Perm("""{"mcp_servers": ["github"], "blocked_tools": ["github-delete_repo"]}""") };
        var c = new Caller(false, new KeyIdentity(standIn, null, team));
        Assert.Equal(["github"], Servers(c, "github", "jira"));
        Assert.False(c.MayUseMcpTool("github", "delete_repo"));
    }

    [Theory]
    [InlineData("""[]""", "'object_permission' must be an object")]
    [InlineData("""{"mcp_servers": "github"}""", "'object_permission.mcp_servers' must be a list of strings")]
    [InlineData("""{"mcp_servers": [1]}""", "'object_permission.mcp_servers' must be a list of strings")]
    [InlineData("""{"mcp_servers": [""]}""", "'object_permission.mcp_servers' holds a name that is empty")]
    [InlineData("""{"mcp_access_groups": {"a": 1}}""", "'object_permission.mcp_access_groups' must be a list of strings")]
    [InlineData("""{"mcp_tool_permissions": ["github"]}""", "'object_permission.mcp_tool_permissions' must be an object")]
    [InlineData("""{"mcp_tool_permissions": {"github": "list_repos"}}""", "'object_permission.mcp_tool_permissions.github' must be a list of strings")]
    [InlineData("""{"blocked_tools": [null]}""", "'object_permission.blocked_tools' must be a list of strings")]
    [InlineData("""{"mcp_toolsets": ["ts-1"]}""", "'object_permission.mcp_toolsets' is not supported")]
    public void A_bad_shape_is_refused_naming_the_field(string json, string expected)
    {
        using var doc = JsonDocument.Parse(json);
        var errors = new List<string>();
        Assert.Null(ObjectPermission.Parse(doc.RootElement, "object_permission", errors));
        Assert.Contains(errors, e => e.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Lists_are_bounded()
    {
        var many = "[" + string.Join(",", Enumerable.Range(0, ObjectPermission.MaxEntries + 1).Select(i => $"\"s{i}\"")) + "]";
        using var doc = JsonDocument.Parse($$"""{"mcp_servers": {{many}}}""");
        var errors = new List<string>();
        Assert.Null(ObjectPermission.Parse(doc.RootElement, "object_permission", errors));
        Assert.Contains($"at most {ObjectPermission.MaxEntries}", errors.Single(), StringComparison.Ordinal);
    }

    [Fact]
    public void LiteLLMs_other_fields_are_kept_as_sent_and_its_row_id_is_dropped()
    {
        var p = Perm("""
            {"object_permission_id": "op-1", "mcp_servers": ["github"], "vector_stores": ["vs-1"], "agents": [],
             "mcp_tool_search_enabled": true, "models": ["gpt-4o"], "mcp_toolsets": []}
            """);
        using var doc = JsonDocument.Parse(p.ToJson());
        var root = doc.RootElement;
        Assert.Equal("github", root.GetProperty("mcp_servers")[0].GetString());
        Assert.Equal(JsonValueKind.Array, root.GetProperty("mcp_access_groups").ValueKind);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("mcp_tool_permissions").ValueKind);
        Assert.Equal("vs-1", root.GetProperty("vector_stores")[0].GetString());
        Assert.True(root.GetProperty("mcp_tool_search_enabled").GetBoolean());
        Assert.Equal("gpt-4o", root.GetProperty("models")[0].GetString());
        Assert.False(root.TryGetProperty("object_permission_id", out _));

        // The stored form reads back to the same permission.
        var again = ObjectPermission.FromJson(p.ToJson())!;
        Assert.Equal(p.ToJson(), again.ToJson());
        Assert.Equal(["github"], again.McpServers!);
        Assert.Null(ObjectPermission.FromJson(null));
    }

    [Fact]
    public void An_update_replaces_the_fields_it_sends_and_keeps_the_others()
    {
        var current = Perm("""{"mcp_servers": ["github"], "mcp_tool_permissions": {"github": ["list_repos"]}, "blocked_tools": ["jira-delete"], "vector_stores": ["vs-1"]}""");
        using var update = JsonDocument.Parse("""{"mcp_servers": null, "mcp_access_groups": ["dev"]}""");
        var errors = new List<string>();
        var merged = ObjectPermission.Merge(current, update.RootElement, "object_permission", errors)!;
        Assert.Empty(errors);
        Assert.Null(merged.McpServers);
        Assert.Equal(["dev"], merged.McpAccessGroups);
        Assert.Equal(["list_repos"], merged.McpToolPermissions["github"]);
        Assert.Equal(["jira-delete"], merged.BlockedTools);
        Assert.Contains("vs-1", merged.ToJson(), StringComparison.Ordinal);

        using var bad = JsonDocument.Parse("""{"blocked_tools": "x"}""");
        Assert.Null(ObjectPermission.Merge(current, bad.RootElement, "object_permission", errors));
        Assert.Contains("'object_permission.blocked_tools'", errors.Single(), StringComparison.Ordinal);
    }
}
