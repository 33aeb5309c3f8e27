using System.Net;
using System.Text.Json;
using AgenticGateway.Keys;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Keys;

/// <summary>
/// LiteLLM's object_permission through the management API (/key/generate|update|info|list, /team/new|update|info),
/// kept by the store across a restart, and carried by the identities the gateway authenticates (keys and JWT callers).
/// The bodies follow LiteLLM's docs (docs/my-website/docs/mcp_grant_access.md).
/// </summary>
[Trait("Category", "functional")]
public class ObjectPermissionApiTests
{
    private const string Master = "sk-master-key-for-permission-tests";
    private const string Config = $"""
        master_key: {Master}
        models:
          - {"{"}name: gpt-4o, provider: mock{"}"}
        """;
    private static readonly string[] NoGroups = [];

    private static async Task<JsonElement> Ok(Task<(HttpStatusCode Status, JsonElement Body)> call)
    {
        var (status, body) = await call;
        Assert.True(status == HttpStatusCode.OK, $"{(int)status}: {body}");
        return body;
    }

    private static string[] Strings(JsonElement e) => e.EnumerateArray().Select(x => x.GetString()!).ToArray();

    private static async Task<Caller> CallerOfAsync(GatewayServer g, string secret)
    {
        var identity = await g.Services.GetRequiredService<KeyRegistry>().FindByTokenAsync(VirtualKey.HashOf(secret), default);
        return new Caller(false, identity!);
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Keys_and_teams_take_return_and_keep_their_object_permission(string backend)
    {
        using var data = new TempDirectory("agw-perm-");
        var storage = await Backends.StorageAsync(backend);
        var g = await GatewayServer.StartAsync(Config, dataDirectory: data.Path, storage: storage);
        string secret;
        try
        {
            var team = await Ok(g.AdminAsync("/team/new", """
                {"team_id": "research", "team_alias": "research-team",
                 "object_permission": {"mcp_servers": ["deepwiki", "github"], "mcp_tool_permissions": {"deepwiki": ["read_wiki_structure", "read_wiki_contents"]}, "vector_stores": ["vs-1"]}}
                """, Master));
            Assert.Equal(["deepwiki", "github"], Strings(team.GetProperty("object_permission").GetProperty("mcp_servers")));
            Assert.Equal("vs-1", team.GetProperty("object_permission").GetProperty("vector_stores")[0].GetString());

            var generated = await Ok(g.AdminAsync("/key/generate", """
                {"key_alias": "wiki-reader", "team_id": "research",
                 "object_permission": {"mcp_servers": ["deepwiki", "jira"], "mcp_tool_permissions": {"deepwiki": ["read_wiki_structure", "ask_question"]}}}
                """, Master));
            secret = generated.GetProperty("key").GetString()!;
            Assert.Equal(["deepwiki", "jira"], Strings(generated.GetProperty("object_permission").GetProperty("mcp_servers")));

            var info = await Ok(g.AdminAsync("/key/info?key=" + secret, null, Master));
            var permission = info.GetProperty("info").GetProperty("object_permission");
            Assert.Equal(["read_wiki_structure", "ask_question"], Strings(permission.GetProperty("mcp_tool_permissions").GetProperty("deepwiki")));
            Assert.Empty(permission.GetProperty("blocked_tools").EnumerateArray());

            // Fields sent replace the stored ones; fields left out are kept (LiteLLM's merge).
            var updated = await Ok(g.AdminAsync("/key/update", $$$"""{"key": "{{{secret}}}", "object_permission": {"blocked_tools": ["deepwiki-read_wiki_contents"]}}""", Master));
            Assert.Equal(["deepwiki", "jira"], Strings(updated.GetProperty("object_permission").GetProperty("mcp_servers")));
            Assert.Equal(["deepwiki-read_wiki_contents"], Strings(updated.GetProperty("object_permission").GetProperty("blocked_tools")));
            // A null object_permission changes nothing.
            await Ok(g.AdminAsync("/key/update", $$"""{"key": "{{secret}}", "object_permission": null, "tags": ["x"]}""", Master));

            // The identity the gateway authenticates carries both: key AND team decide.
            await AssertDecisionsAsync(g, secret);
        }
        finally
        {
            await g.DisposeAsync();
        }

        // A restart reads them back from the store.
        await using var again = await GatewayServer.StartAsync(Config, dataDirectory: data.Path, storage: storage);
        var kept = (await Ok(again.AdminAsync("/key/info?key=" + secret, null, Master))).GetProperty("info").GetProperty("object_permission");
        Assert.Equal(["deepwiki", "jira"], Strings(kept.GetProperty("mcp_servers")));
        Assert.Equal(["deepwiki-read_wiki_contents"], Strings(kept.GetProperty("blocked_tools")));
        var teamInfo = await Ok(again.AdminAsync("/team/info?team_id=research", null, Master));
        var teamPermission = teamInfo.GetProperty("team_info").GetProperty("object_permission");
        Assert.Equal(["read_wiki_structure", "read_wiki_contents"], Strings(teamPermission.GetProperty("mcp_tool_permissions").GetProperty("deepwiki")));
        Assert.Equal("vs-1", teamPermission.GetProperty("vector_stores")[0].GetString());
        // /team/info lists the team's keys with theirs.
        Assert.Equal(["deepwiki", "jira"], Strings(teamInfo.GetProperty("keys")[0].GetProperty("object_permission").GetProperty("mcp_servers")));
        await AssertDecisionsAsync(again, secret);

        // The team's update reaches its keys at once (the identity cache is invalidated).
        await Ok(again.AdminAsync("/team/update", """{"team_id": "research", "object_permission": {"mcp_servers": ["no-mcp-servers"]}}""", Master));
        Assert.False((await CallerOfAsync(again, secret)).MayUseMcpServer("deepwiki", NoGroups));
    }

    private static async Task AssertDecisionsAsync(GatewayServer g, string secret)
    {
        var caller = await CallerOfAsync(g, secret);
        Assert.True(caller.MayUseMcpServer("deepwiki", NoGroups));
        Assert.False(caller.MayUseMcpServer("github", NoGroups)); // the team's, not the key's
        Assert.False(caller.MayUseMcpServer("jira", NoGroups));   // the key's, not the team's
        Assert.True(caller.MayUseMcpTool("deepwiki", "read_wiki_structure"));
        Assert.False(caller.MayUseMcpTool("deepwiki", "ask_question"));       // not in the team's list
        Assert.False(caller.MayUseMcpTool("deepwiki", "read_wiki_contents")); // not in the key's list, and blocked
    }

    [Fact]
    public async Task A_jwt_caller_mapped_to_a_team_gets_the_teams_object_permission()
    {
        await using var g = await GatewayServer.StartAsync(Config);
        await Ok(g.AdminAsync("/team/new", """{"team_id": "ml", "object_permission": {"mcp_access_groups": ["dev-tools"], "blocked_tools": ["github-delete_repo"]}}""", Master));
        // What the JWT path builds for a token whose team claim names "ml" (KeyRegistry.FindForClaimsAsync).
        var identity = await g.Services.GetRequiredService<KeyRegistry>().FindForClaimsAsync("dana", "ml", "dana", default);
        var caller = new Caller(false, identity!);
        Assert.True(caller.MayUseMcpServer("github", ["dev-tools"]));
        Assert.False(caller.MayUseMcpServer("jira", ["ops"]));
        Assert.False(caller.MayUseMcpTool("github", "delete_repo"));
        Assert.True(caller.MayUseMcpTool("github", "list_repos"));
    }

    [Fact]
    public async Task Key_list_with_full_objects_carries_object_permission_and_keys_without_one_show_null()
    {
        await using var g = await GatewayServer.StartAsync(Config);
        await g.GenerateKeyAsync("""{"key_alias": "plain"}""", Master);
        await g.GenerateKeyAsync("""{"key_alias": "scoped", "object_permission": {"mcp_servers": []}}""", Master);
        var listed = await Ok(g.AdminAsync("/key/list?return_full_object=true", null, Master));
        var byAlias = listed.GetProperty("keys").EnumerateArray().ToDictionary(k => k.GetProperty("key_alias").GetString()!);
        Assert.Equal(JsonValueKind.Null, byAlias["plain"].GetProperty("object_permission").ValueKind);
        Assert.Empty(byAlias["scoped"].GetProperty("object_permission").GetProperty("mcp_servers").EnumerateArray());
    }

    [Theory]
    [InlineData("/key/generate", """{"object_permission": {"mcp_servers": "deepwiki"}}""", "object_permission.mcp_servers")]
    [InlineData("/key/generate", """{"object_permission": "mcp_servers"}""", "object_permission")]
    [InlineData("/key/generate", """{"object_permission": {"mcp_tool_permissions": {"deepwiki": [1]}}}""", "object_permission.mcp_tool_permissions.deepwiki")]
    [InlineData("/key/generate", """{"object_permission": {"mcp_toolsets": ["ts-1"]}}""", "object_permission.mcp_toolsets")]
    [InlineData("/team/new", """{"object_permission": {"blocked_tools": [true]}}""", "object_permission.blocked_tools")]
    [InlineData("/team/new", """{"object_permission": [1]}""", "object_permission")]
    public async Task A_bad_object_permission_is_a_400_in_openais_shape_naming_the_field(string path, string body, string field)
    {
        await using var g = await GatewayServer.StartAsync(Config);
        var (status, error) = await g.AdminAsync(path, body, Master);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var message = error.GetProperty("error").GetProperty("message").GetString()!;
        Assert.Contains($"'{field}'", message, StringComparison.Ordinal);
        Assert.Equal("invalid_request_error", error.GetProperty("error").GetProperty("type").GetString());
    }

    [Fact]
    public async Task A_bad_update_changes_nothing()
    {
        await using var g = await GatewayServer.StartAsync(Config);
        await Ok(g.AdminAsync("/team/new", """{"team_id": "t", "object_permission": {"mcp_servers": ["github"]}}""", Master));
        var (status, _) = await g.AdminAsync("/team/update", """{"team_id": "t", "object_permission": {"mcp_servers": null, "mcp_tool_permissions": "x"}}""", Master);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var info = await Ok(g.AdminAsync("/team/info?team_id=t", null, Master));
        Assert.Equal(["github"], Strings(info.GetProperty("team_info").GetProperty("object_permission").GetProperty("mcp_servers")));
    }
}
