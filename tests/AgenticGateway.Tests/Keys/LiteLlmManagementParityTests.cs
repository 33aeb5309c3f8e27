using System.Net;
using System.Text.Json;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Keys;

/// <summary>
/// LiteLLM's own management-API tests (BerriAI/litellm tests/test_keys.py, test_users.py, test_team.py,
/// test_spend_logs.py, test_organizations.py), replayed with their request bodies verbatim against a real gateway,
/// asserting the fields those scripts read. Each body says which LiteLLM test it comes from.
/// </summary>
[Trait("Category", "functional")]
public class LiteLlmManagementParityTests
{
    // LiteLLM's tests use the master key "sk-1234" and models named as in its CI config (proxy_server_config.yaml),
    // with litellm_settings.max_budget set there too; the models here are the built-in mock, priced.
    private const string Master = "sk-1234";

    internal const string Config = """
        model_list:
          - model_name: gpt-4
            litellm_params: {model: mock/gpt-4, input_cost_per_token: 0.00003, output_cost_per_token: 0.00006}
            model_info: {access_groups: ["beta-models"]}
          - model_name: gpt-3.5-turbo
            litellm_params: {model: mock/gpt-3.5-turbo, input_cost_per_token: 0.0000005, output_cost_per_token: 0.0000015}
          - model_name: fake-openai-endpoint
            litellm_params: {model: mock/gpt-3.5-turbo, input_cost_per_token: 0.0000005, output_cost_per_token: 0.0000015}
        litellm_settings:
          max_budget: 100
          budget_duration: 30d
        general_settings:
          master_key: sk-1234
        """;

    // The chat body of LiteLLM's chat_completion helper (test_keys.py, test_team.py).
    private static string ChatBody(string model) => $$"""
        {"model": "{{model}}", "messages": [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Hello!"}]}
        """;

    private static async Task<(HttpStatusCode Status, JsonElement Body)> ChatAsync(GatewayServer g, string key, string model)
    {
        using var response = await g.PostJsonAsync("/chat/completions", ChatBody(model), configure: r => r.Headers.Authorization = new("Bearer", key));
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    /// <summary>
    /// A call expected to be refused by a budget. The previous call's reservation is given back just after its answer
    /// is released, so a call racing it may get 429 budget_in_flight: it tries again, as an SDK would.
    /// </summary>
    private static async Task<(HttpStatusCode Status, JsonElement Body)> RefusedAsync(GatewayServer g, string key, string model)
    {
        for (var attempt = 0; ; attempt++)
        {
            var result = await ChatAsync(g, key, model);
            if (attempt < 40 && result.Status == HttpStatusCode.TooManyRequests && result.Body.GetProperty("error").GetProperty("code").GetString() == "budget_in_flight")
            {
                await Task.Delay(25);
                continue;
            }
            return result;
        }
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body)> Ok(Task<(HttpStatusCode Status, JsonElement Body)> call)
    {
        var result = await call;
        Assert.True(result.Status == HttpStatusCode.OK, $"{result.Status}: {result.Body}");
        return result;
    }

    [Fact]
    public async Task Test_keys_generate_update_self_info_and_spend_logs_by_the_response_id()
    {
        await using var g = await GatewayServer.StartAsync(Config);
        // test_keys.py generate_key: models not configured ("azure-models", "dall-e-3") and key aliases are accepted.
        var (_, gen) = await Ok(g.AdminAsync("/key/generate", """
            {"models": ["azure-models", "gpt-4", "dall-e-3"], "aliases": {"mistral-7b": "gpt-3.5-turbo"}, "duration": null, "max_budget": null, "budget_duration": null}
            """, Master));
        var key = gen.GetProperty("key").GetString()!;
        Assert.Equal("gpt-3.5-turbo", gen.GetProperty("aliases").GetProperty("mistral-7b").GetString());
        // test_key_update: update_key, then update_proxy_budget (resets the proxy spend), then a chat.
        await Ok(g.AdminAsync("/key/update", $$"""{"key": "{{key}}", "models": ["gpt-4"]}""", Master));
        await Ok(g.AdminAsync("/user/update", """{"user_id": "litellm-proxy-budget", "spend": 0}""", Master));
        var (_, response) = await Ok(ChatAsync(g, key, "gpt-4"));

        // test_key_info: as admin, as the key itself (with and without ?key=), and as another key (403).
        await Ok(g.AdminAsync($"/key/info?key={key}", null, Master));
        await Ok(g.AdminAsync($"/key/info?key={key}", null, key));
        var (_, own) = await Ok(g.AdminAsync("/key/info", null, key));
        var other = await g.GenerateKeyAsync("""{"models": ["azure-models", "gpt-4", "dall-e-3"], "aliases": {"mistral-7b": "gpt-3.5-turbo"}, "duration": null}""", Master);
        Assert.Equal(HttpStatusCode.Forbidden, (await g.AdminAsync($"/key/info?key={key}", null, other)).Status);

        // test_key_info_spend_values: /spend/logs?request_id=<the response's "id"> finds it; its cost is the key's spend.
        await g.FlushSpendAsync();
        var responseId = response.GetProperty("id").GetString()!;
        Assert.StartsWith("chatcmpl-", responseId, StringComparison.Ordinal);
        var (_, logs) = await Ok(g.AdminAsync($"/spend/logs?request_id={responseId}", null, Master));
        var log = logs[0];
        Assert.True(log.GetProperty("prompt_tokens").GetInt64() > 0);
        Assert.True(log.GetProperty("completion_tokens").GetInt64() > 0);
        Assert.Equal(responseId, log.GetProperty("response_id").GetString());
        var (_, info) = await Ok(g.AdminAsync($"/key/info?key={key}", null, key));
        Assert.Equal(Math.Round(log.GetProperty("spend").GetDecimal(), 8), Math.Round(info.GetProperty("info").GetProperty("spend").GetDecimal(), 8));
        Assert.Equal(info.GetProperty("key").GetString(), own.GetProperty("key").GetString());
        // The x-request-id finds the same entry.
        var (_, byRequestId) = await Ok(g.AdminAsync($"/spend/logs?request_id={log.GetProperty("request_id").GetString()}", null, Master));
        Assert.Equal(responseId, byRequestId[0].GetProperty("response_id").GetString());
        Assert.Equal(log.GetProperty("api_key").GetString(), log.GetProperty("metadata").GetProperty("user_api_key").GetString());
    }

    [Fact]
    public async Task A_streamed_answer_is_found_in_the_spend_logs_by_its_chunks_id()
    {
        await using var g = await GatewayServer.StartAsync(Config);
        var key = await g.GenerateKeyAsync("""{"models": ["gpt-4"]}""", Master);
        using var response = await g.ChatAsync(key, "gpt-4", stream: true);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        var first = text.Split('\n').First(l => l.StartsWith("data: {", StringComparison.Ordinal))["data: ".Length..];
        var id = JsonDocument.Parse(first).RootElement.GetProperty("id").GetString()!;
        await g.FlushSpendAsync();
        var (_, logs) = await Ok(g.AdminAsync($"/spend/logs?request_id={id}", null, Master));
        Assert.True(logs[0].GetProperty("stream").GetBoolean());
    }

    [Fact]
    public async Task Key_aliases_and_access_groups_reach_their_models()
    {
        await using var g = await GatewayServer.StartAsync(Config);
        // A key alias (test_keys.py's "aliases") names another model; a key listing an access group may use its models.
        var aliased = await g.GenerateKeyAsync("""{"models": [], "aliases": {"mistral-7b": "gpt-3.5-turbo"}}""", Master);
        var (_, answer) = await Ok(ChatAsync(g, aliased, "mistral-7b"));
        await g.FlushSpendAsync();
        var (_, logs) = await Ok(g.AdminAsync($"/spend/logs?request_id={answer.GetProperty("id").GetString()}", null, Master));
        Assert.Equal("gpt-3.5-turbo", logs[0].GetProperty("model_group").GetString());

        var grouped = await g.GenerateKeyAsync("""{"models": ["beta-models"]}""", Master);
        await Ok(ChatAsync(g, grouped, "gpt-4"));
        Assert.Equal(HttpStatusCode.Forbidden, (await ChatAsync(g, grouped, "gpt-3.5-turbo")).Status);
    }

    [Fact]
    public async Task Test_key_crossing_budget_is_refused_with_litellms_message()
    {
        await using var g = await GatewayServer.StartAsync(Config);
        // test_keys.py test_key_crossing_budget: budget=0.0000001.
        var key = await g.GenerateKeyAsync("""{"models": ["azure-models", "gpt-4", "dall-e-3"], "aliases": {"mistral-7b": "gpt-3.5-turbo"}, "duration": null, "max_budget": 0.0000001, "budget_duration": null}""", Master);
        await Ok(ChatAsync(g, key, "gpt-4"));
        var (status, refused) = await RefusedAsync(g, key, "gpt-4");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("ExceededTokenBudget: Current spend for token:", refused.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Test_users_info_is_read_by_the_admin_and_the_user_itself_only()
    {
        await using var g = await GatewayServer.StartAsync(Config);
        // test_users.py new_user and test_user_info.
        var (_, created) = await Ok(g.AdminAsync("/user/new", """
            {"models": ["azure-models"], "aliases": {"mistral-7b": "gpt-3.5-turbo"}, "duration": null, "max_budget": null, "budget_duration": null, "user_id": "krrish_1.5@berri.ai"}
            """, Master));
        var key = created.GetProperty("key").GetString()!;
        await Ok(g.AdminAsync("/user/info?user_id=krrish_1.5@berri.ai", null, Master));
        var (_, self) = await Ok(g.AdminAsync("/user/info?user_id=krrish_1.5@berri.ai", null, key));
        Assert.Equal("krrish_1.5@berri.ai", self.GetProperty("user_id").GetString());
        var (_, random) = await Ok(g.AdminAsync("/user/new", """{"models": ["azure-models"], "aliases": {"mistral-7b": "gpt-3.5-turbo"}, "duration": null, "max_budget": null, "budget_duration": null}""", Master));
        Assert.Equal(HttpStatusCode.Forbidden, (await g.AdminAsync("/user/info?user_id=krrish_1.5@berri.ai", null, random.GetProperty("key").GetString()!)).Status);
    }

    [Fact]
    public async Task Test_global_proxy_budget_update_and_its_enforcement()
    {
        await using var g = await GatewayServer.StartAsync(Config);
        // test_users.py test_global_proxy_budget_update: the master key's calls add to litellm-proxy-budget's spend.
        var (_, before) = await Ok(g.AdminAsync("/user/info?user_id=litellm-proxy-budget", null, Master));
        Assert.Equal(100m, before.GetProperty("user_info").GetProperty("max_budget").GetDecimal());
        using (var chat = await g.PostJsonAsync("/chat/completions", ChatBody("gpt-4"), configure: r => r.Headers.Authorization = new("Bearer", Master)))
            Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        await g.FlushSpendAsync();
        var (_, after) = await Ok(g.AdminAsync("/user/info?user_id=litellm-proxy-budget", null, Master));
        Assert.True(after.GetProperty("user_info").GetProperty("spend").GetDecimal() > before.GetProperty("user_info").GetProperty("spend").GetDecimal());

        // The global budget binds every virtual key together.
        await using var tight = await GatewayServer.StartAsync(Config.Replace("max_budget: 100", "max_budget: 0.0000001"));
        var a = await tight.GenerateKeyAsync("{}", Master);
        var b = await tight.GenerateKeyAsync("{}", Master);
        await Ok(ChatAsync(tight, a, "gpt-4"));
        var (status, refused) = await RefusedAsync(tight, b, "gpt-4");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("litellm-proxy-budget", refused.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Test_team_info_update_member_add_by_email_alias_and_delete()
    {
        await using var g = await GatewayServer.StartAsync(Config);
        // test_team.py test_team_info: the admin and a team key read it; a key of no team does not.
        var (_, team) = await Ok(g.AdminAsync("/team/new", """{"team_alias": "my-new-team"}""", Master));
        var teamId = team.GetProperty("team_id").GetString()!;
        var teamKey = await g.GenerateKeyAsync($$"""{"models": ["azure-models", "gpt-4", "dall-e-3"], "duration": null, "max_budget": null, "budget_duration": null, "team_id": "{{teamId}}"}""", Master);
        await Ok(g.AdminAsync($"/team/info?team_id={teamId}", null, teamKey));
        var loner = await g.GenerateKeyAsync("""{"models": ["azure-models", "gpt-4", "dall-e-3"], "duration": null, "max_budget": null, "budget_duration": null}""", Master);
        Assert.Equal(HttpStatusCode.Forbidden, (await g.AdminAsync($"/team/info?team_id={teamId}", null, loner)).Status);

        // test_team_update_sc_2: members added to a team, then /team/update answers under "data".
        await Ok(g.AdminAsync("/user/new", """{"models": ["azure-models"], "aliases": {"mistral-7b": "gpt-3.5-turbo"}, "duration": null, "max_budget": null, "budget_duration": null, "user_email": null, "user_id": "admin-user"}""", Master));
        var (_, team2) = await Ok(g.AdminAsync("/team/new", """{"team_alias": "my-new-team", "members_with_roles": [{"role": "admin", "user_id": "admin-user"}]}""", Master));
        var team2Id = team2.GetProperty("team_id").GetString()!;
        var members = string.Join(", ", Enumerable.Range(0, 10).Select(i => $$"""{"role": "user", "user_id": "krrish_{{i}}@berri.ai"}"""));
        await Ok(g.AdminAsync("/team/member_add", $$"""{"team_id": "{{team2Id}}", "member": [{{members}}]}""", Master));
        var (_, info) = await Ok(g.AdminAsync($"/team/info?team_id={team2Id}", null, Master));
        // LiteLLM counts 12 here: it also adds the calling admin's own user; the gateway's master key has none.
        Assert.Equal(11, info.GetProperty("team_info").GetProperty("members_with_roles").GetArrayLength());
        var (_, updated) = await Ok(g.AdminAsync("/team/update", $$"""{"team_id": "{{team2Id}}", "team_alias": "my-new-team"}""", Master));
        Assert.Equal("my-new-team", updated.GetProperty("data").GetProperty("team_alias").GetString());

        // test_team_member_add_email: a member added by email is linked to that user; /user/info lists the team.
        var (_, emailUser) = await Ok(g.AdminAsync("/user/new", """{"models": ["azure-models"], "aliases": {"mistral-7b": "gpt-3.5-turbo"}, "duration": null, "max_budget": null, "budget_duration": null, "user_email": "krrish1@berri.ai"}""", Master));
        await Ok(g.AdminAsync("/team/member_add", $$"""{"team_id": "{{team2Id}}", "member": [{"role": "user", "user_email": "krrish1@berri.ai"}]}""", Master));
        var (_, userInfo) = await Ok(g.AdminAsync($"/user/info?user_id={emailUser.GetProperty("user_id").GetString()}", null, Master));
        Assert.Contains(userInfo.GetProperty("teams").EnumerateArray(), t => t.GetProperty("team_id").GetString() == team2Id);
        // A member added by an email nobody has yet becomes a new user (LiteLLM creates it).
        var (_, added) = await Ok(g.AdminAsync("/team/member_add", $$$"""{"team_id": "{{{team2Id}}}", "member": {"role": "user", "user_email": "new-person@berri.ai"}}""", Master));
        Assert.Equal("new-person@berri.ai", added.GetProperty("updated_users")[0].GetProperty("user_email").GetString());

        // test_team_alias: the team's model_aliases are honoured at request time.
        var (_, aliasTeam) = await Ok(g.AdminAsync("/team/new", """{"team_alias": "my-new-team", "members_with_roles": [{"role": "admin", "user_id": "admin-user"}], "model_aliases": {"cheap-model": "gpt-3.5-turbo"}}""", Master));
        var aliasKey = await g.GenerateKeyAsync($$"""{"models": ["gpt-3.5-turbo"], "duration": null, "max_budget": null, "budget_duration": null, "team_id": "{{aliasTeam.GetProperty("team_id").GetString()}}"}""", Master);
        await Ok(ChatAsync(g, aliasKey, "cheap-model"));

        // test_team_delete: membership goes with the team; its info is a 404.
        var (_, before) = await Ok(g.AdminAsync("/user/info?user_id=admin-user", null, Master));
        Assert.Equal(2, before.GetProperty("teams").GetArrayLength());
        await Ok(g.AdminAsync("/team/delete", $$"""{"team_ids": ["{{team2Id}}"]}""", Master));
        var (_, afterDelete) = await Ok(g.AdminAsync("/user/info?user_id=admin-user", null, Master));
        Assert.Equal(1, afterDelete.GetProperty("teams").GetArrayLength());
        Assert.Equal(HttpStatusCode.NotFound, (await g.AdminAsync($"/team/info?team_id={team2Id}", null, Master)).Status);
    }

    [Fact]
    public async Task Adding_a_member_already_in_the_team_is_refused_as_LiteLLM_refuses_it()
    {
        await using var g = await GatewayServer.StartAsync(Config);
        var (_, team) = await Ok(g.AdminAsync("/team/new", """{"team_alias": "dupes", "members_with_roles": [{"role": "admin", "user_id": "alice"}, {"role": "user", "user_id": "bob"}]}""", Master));
        var teamId = team.GetProperty("team_id").GetString()!;

        // team_endpoints.py team_member_add_duplication_check: one member (an object) already there is a 400
        // team_member_already_in_team naming it; the team is left as it was (not re-added at the end).
        var (status, body) = await g.AdminAsync("/team/member_add", $$$"""{"team_id": "{{{teamId}}}", "member": {"role": "user", "user_id": "alice"}}""", Master);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var error = body.GetProperty("error");
        Assert.Equal("team_member_already_in_team", error.GetProperty("type").GetString());
        Assert.Equal("member", error.GetProperty("param").GetString());
        Assert.Equal("400", error.GetProperty("code").GetString());
        Assert.StartsWith("User already in team. Member: user_id='alice', user_email=None. Existing members=[", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        var (_, info) = await Ok(g.AdminAsync($"/team/info?team_id={teamId}", null, Master));
        Assert.Equal(["alice", "bob"], info.GetProperty("team_info").GetProperty("members_with_roles").EnumerateArray().Select(m => m.GetProperty("user_id").GetString()));

        // A list of only members already there: "All users are already in team."; a list with a new one adds just that one.
        (status, body) = await g.AdminAsync("/team/member_add", $$"""{"team_id": "{{teamId}}", "member": [{"role": "user", "user_id": "bob"}]}""", Master);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.StartsWith("All users are already in team.", body.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        var (_, added) = await Ok(g.AdminAsync("/team/member_add", $$"""{"team_id": "{{teamId}}", "member": [{"role": "user", "user_id": "bob"}, {"role": "user", "user_id": "carol"}]}""", Master));
        Assert.Equal(["alice", "bob", "carol"], added.GetProperty("members_with_roles").EnumerateArray().Select(m => m.GetProperty("user_id").GetString()));
        Assert.Equal(["carol"], added.GetProperty("updated_users").EnumerateArray().Select(u => u.GetProperty("user_id").GetString()));
    }

    [Fact]
    public async Task A_users_own_teams_list_holds_the_teams_it_joined_and_left()
    {
        await using var g = await GatewayServer.StartAsync(Config);
        var (_, team) = await Ok(g.AdminAsync("/team/new", """{"team_alias": "mine"}""", Master));
        var teamId = team.GetProperty("team_id").GetString()!;
        // LiteLLM's LiteLLM_UserTable.teams holds the ids of the user's teams: member_add's updated_users and /user/info's user_info show them.
        var (_, added) = await Ok(g.AdminAsync("/team/member_add", $$$"""{"team_id": "{{{teamId}}}", "member": {"role": "user", "user_id": "alice"}}""", Master));
        Assert.Equal([teamId], added.GetProperty("updated_users")[0].GetProperty("teams").EnumerateArray().Select(t => t.GetString()));
        var (_, info) = await Ok(g.AdminAsync("/user/info?user_id=alice", null, Master));
        Assert.Equal([teamId], info.GetProperty("user_info").GetProperty("teams").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal([teamId], info.GetProperty("teams").EnumerateArray().Select(t => t.GetProperty("team_id").GetString()));

        // /user/new with team_id joins it too; leaving (member_delete) and a deleted team take it off again.
        var (_, bob) = await Ok(g.AdminAsync("/user/new", $$"""{"user_id": "bob", "team_id": "{{teamId}}", "auto_create_key": false}""", Master));
        Assert.Equal([teamId], bob.GetProperty("teams").EnumerateArray().Select(t => t.GetString()));
        await Ok(g.AdminAsync("/team/member_delete", $$"""{"team_id": "{{teamId}}", "user_id": "alice"}""", Master));
        (_, info) = await Ok(g.AdminAsync("/user/info?user_id=alice", null, Master));
        Assert.Empty(info.GetProperty("user_info").GetProperty("teams").EnumerateArray());
        await Ok(g.AdminAsync("/team/delete", $$"""{"team_ids": ["{{teamId}}"]}""", Master));
        (_, info) = await Ok(g.AdminAsync("/user/info?user_id=bob", null, Master));
        Assert.Empty(info.GetProperty("user_info").GetProperty("teams").EnumerateArray());
    }

    [Fact]
    public async Task Key_delete_answers_with_the_keys_it_was_given()
    {
        await using var g = await GatewayServer.StartAsync(Config);
        var key = await g.GenerateKeyAsync("""{"models": ["gpt-4"]}""", Master);
        // key_management_endpoints.py delete_key_fn returns {"deleted_keys": data.keys} (or data.key_aliases): what
        // the caller sent, never the stored hash.
        var (_, deleted) = await Ok(g.AdminAsync("/key/delete", $$"""{"keys": ["{{key}}"]}""", Master));
        Assert.Equal([key], deleted.GetProperty("deleted_keys").EnumerateArray().Select(k => k.GetString()));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Test_users_in_team_budget_is_enforced_per_member(string backend)
    {
        await using var g = await Backends.StartGatewayAsync(Config, backend);
        // test_team.py test_users_in_team_budget: team first, then a user created with team_id, then member_update.
        var (_, team) = await Ok(g.AdminAsync("/team/new", """{"team_alias": "my-new-team"}""", Master));
        var teamId = team.GetProperty("team_id").GetString()!;
        const string user = "krrish_1765000000.0@berri.ai";
        var (_, created) = await Ok(g.AdminAsync("/user/new", $$"""
            {"models": ["fake-openai-endpoint"], "aliases": {"mistral-7b": "gpt-3.5-turbo"}, "duration": null, "max_budget": 10, "budget_duration": "5s", "user_email": null, "user_id": "{{user}}", "team_id": "{{teamId}}"}
            """, Master));
        var key = created.GetProperty("key").GetString()!;
        var (_, update) = await Ok(g.AdminAsync("/team/member_update", $$"""{"team_id": "{{teamId}}", "user_id": "{{user}}", "max_budget_in_team": 0.0000001}""", Master));
        Assert.Equal(0.0000001m, update.GetProperty("max_budget_in_team").GetDecimal());

        await Ok(ChatAsync(g, key, "fake-openai-endpoint"));
        await g.FlushSpendAsync();
        var (_, userInfo) = await Ok(g.AdminAsync($"/user/info?user_id={user}", null, Master));
        var membership = userInfo.GetProperty("teams")[0].GetProperty("team_memberships")[0];
        Assert.True(membership.GetProperty("spend").GetDecimal() >= 0.0000001m);
        Assert.Equal(0.0000001m, membership.GetProperty("litellm_budget_table").GetProperty("max_budget").GetDecimal());

        var (status, refused) = await RefusedAsync(g, key, "fake-openai-endpoint");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("Budget has been exceeded", refused.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Organizations_are_a_budget_level_above_teams_and_spend_logs_carry_their_ids(string backend)
    {
        await using var g = await Backends.StartGatewayAsync(Config, backend);
        // test_organizations.py new_organization (the same alias twice is allowed) and list_organization (POST).
        for (var i = 0; i < 2; i++)
            await Ok(g.AdminAsync("/organization/new", """{"organization_alias": "Organization: 5b1f", "models": ["azure-models"], "max_budget": null}""", Master));
        var (_, listed) = await Ok(g.AdminAsync("/organization/list", "", Master));
        Assert.Equal(2, listed.GetArrayLength());

        // test_spend_logs.py test_spend_logs_with_org_id: org, a team in it, a key of the team, a call.
        var (_, org) = await Ok(g.AdminAsync("/organization/new", """{"organization_alias": "test-org-1", "max_budget": 0.0000001}""", Master));
        var orgId = org.GetProperty("organization_id").GetString()!;
        Assert.Equal(0.0000001m, org.GetProperty("litellm_budget_table").GetProperty("max_budget").GetDecimal());
        var (_, team) = await Ok(g.AdminAsync("/team/new", $$"""{"organization_id": "{{orgId}}"}""", Master));
        var teamId = team.GetProperty("team_id").GetString()!;
        var key = await g.GenerateKeyAsync($$"""{"models": [], "duration": null, "team_id": "{{teamId}}"}""", Master);
        var (_, response) = await Ok(ChatAsync(g, key, "gpt-3.5-turbo"));
        await g.FlushSpendAsync();
        var (_, logs) = await Ok(g.AdminAsync($"/spend/logs?request_id={response.GetProperty("id").GetString()}", null, Master));
        Assert.Equal(orgId, logs[0].GetProperty("metadata").GetProperty("user_api_key_org_id").GetString());
        Assert.Equal(teamId, logs[0].GetProperty("metadata").GetProperty("user_api_key_team_id").GetString());
        Assert.Equal(teamId, logs[0].GetProperty("team_id").GetString());

        // The organization's budget binds its team's keys, as a team budget does.
        var (status, refused) = await RefusedAsync(g, key, "gpt-3.5-turbo");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains($"organization {orgId}", refused.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);

        // info (GET), update (PATCH), member_add, delete (DELETE), as LiteLLM's routes take them.
        var (_, info) = await Ok(g.AdminAsync($"/organization/info?organization_id={orgId}", null, Master));
        Assert.Equal(teamId, info.GetProperty("teams")[0].GetProperty("team_id").GetString());
        Assert.True(info.GetProperty("spend").GetDecimal() > 0);
        var (_, patched) = await Ok(g.AdminAsync("/organization/update", $$"""{"organization_id": "{{orgId}}", "organization_alias": "renamed", "max_budget": 50}""", Master, HttpMethod.Patch));
        Assert.Equal("renamed", patched.GetProperty("organization_alias").GetString());
        await Ok(ChatAsync(g, key, "gpt-3.5-turbo"));
        var (_, member) = await Ok(g.AdminAsync("/organization/member_add", $$$"""{"organization_id": "{{{orgId}}}", "member": {"role": "internal_user", "user_id": "krrish247652@berri.ai"}, "max_budget_in_organization": 100.0}""", Master));
        Assert.Equal("krrish247652@berri.ai", member.GetProperty("updated_users")[0].GetProperty("user_id").GetString());
        Assert.Equal(100m, member.GetProperty("updated_organization_memberships")[0].GetProperty("litellm_budget_table").GetProperty("max_budget").GetDecimal());
        Assert.Equal(HttpStatusCode.BadRequest, (await g.AdminAsync("/organization/member_add", $$$"""{"organization_id": "{{{orgId}}}", "member": {"role": "owner", "user_id": "x"}}""", Master)).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await g.AdminAsync("/team/new", """{"organization_id": "no-such-org"}""", Master)).Status);
        var (_, deleted) = await Ok(g.AdminAsync("/organization/delete", $$"""{"organization_ids": ["{{orgId}}"]}""", Master, HttpMethod.Delete));
        Assert.Equal(orgId, deleted[0].GetProperty("organization_id").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await g.AdminAsync($"/organization/info?organization_id={orgId}", null, Master)).Status);
        // The team stays, without its organization.
        var (_, teamInfo) = await Ok(g.AdminAsync($"/team/info?team_id={teamId}", null, Master));
        Assert.Equal(JsonValueKind.Null, teamInfo.GetProperty("team_info").GetProperty("organization_id").ValueKind);
    }

    [Fact]
    public async Task A_members_budget_in_an_organization_binds_their_keys_there()
    {
        await using var g = await GatewayServer.StartAsync(Config);
        var (_, org) = await Ok(g.AdminAsync("/organization/new", """{"organization_alias": "my-secret-org", "models": [], "max_budget": 100}""", Master));
        var orgId = org.GetProperty("organization_id").GetString()!;
        var (_, team) = await Ok(g.AdminAsync("/team/new", $$"""{"organization_id": "{{orgId}}"}""", Master));
        var (_, user) = await Ok(g.AdminAsync("/user/new", $$"""{"user_id": "krrish247652@berri.ai", "team_id": "{{team.GetProperty("team_id").GetString()}}"}""", Master));
        var key = user.GetProperty("key").GetString()!;
        // The body of LiteLLM's /organization/member_add docstring, with a small budget.
        await Ok(g.AdminAsync("/organization/member_add", $$$"""{"organization_id": "{{{orgId}}}", "member": {"role": "internal_user", "user_id": "krrish247652@berri.ai"}, "max_budget_in_organization": 0.0000001}""", Master));
        await Ok(ChatAsync(g, key, "gpt-3.5-turbo"));
        var (status, refused) = await RefusedAsync(g, key, "gpt-3.5-turbo");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains($"organization member krrish247652@berri.ai in organization {orgId}", refused.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        await g.FlushSpendAsync();
        var (_, info) = await Ok(g.AdminAsync($"/organization/info?organization_id={orgId}", null, Master));
        Assert.True(info.GetProperty("members")[0].GetProperty("spend").GetDecimal() > 0);
    }

    [Fact]
    public async Task Health_liveliness_and_readiness_answer_as_litellms_do_without_a_key()
    {
        await using var g = await GatewayServer.StartAsync(Config);
        using var live = await g.Client.GetAsync("/health/liveliness");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal("\"I'm alive!\"", await live.Content.ReadAsStringAsync());
        using var ready = await g.Client.GetAsync("/health/readiness");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("healthy", JsonDocument.Parse(await ready.Content.ReadAsStringAsync()).RootElement.GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.Unauthorized, (await g.Client.GetAsync("/health/readiness/details")).StatusCode);
        var (_, details) = await Ok(g.AdminAsync("/health/readiness/details", null, Master));
        Assert.Equal("connected", details.GetProperty("db").GetString());
        Assert.True(details.TryGetProperty("litellm_version", out _));
    }
}
