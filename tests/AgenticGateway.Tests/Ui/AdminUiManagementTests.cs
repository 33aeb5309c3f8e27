using System.Net;
using System.Text.Json;
using AgenticGateway.Tests.Support;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace AgenticGateway.Tests.Ui;

/// <summary>
/// The management pages in a real browser, over LiteLLM's endpoints on a real gateway: models stored in the database
/// (/model/new, /model/update, /model/delete, /v2/model/info), team members and their budgets in the team
/// (/team/member_add, /team/member_update, /team/member_delete, /team/info's team_memberships), organizations
/// (/organization/new, info, list, update, delete, member_add), and the plain "not available" a page shows when a
/// gateway does not serve its endpoint. Screenshots at 1280 and 1440 px (paths in the test output).
/// </summary>
[Trait("Category", "browser")]
public class AdminUiManagementTests(AdminUiFixture fixture, ITestOutputHelper output) : IClassFixture<AdminUiFixture>
{
    private GatewayServer Gateway => fixture.Gateway;
    private const string Master = AdminUiFixture.Master;

    [Fact]
    public async Task A_model_is_added_edited_and_deleted_in_the_database_from_the_models_page()
    {
        var page = await fixture.SignInAsync();
        await page.GotoAsync(Gateway.Url + "/ui#/models");
        // The config file's models are listed, and are edited there, not here.
        await Assertions.Expect(page.Locator("#models-table tr[data-model='gpt-4o']")).ToContainTextAsync("in config");

        // What the loader refuses comes back in the form with its message.
        await page.FillAsync("#model-form-model_name", "ui-model");
        await page.FillAsync("#model-form-model", "no-such-provider/some-model");
        await page.ClickAsync("#model-form button[type=submit]");
        await Assertions.Expect(page.Locator("#model-form-error")).ToContainTextAsync("no-such-provider");

        await page.FillAsync("#model-form-model", "mock/ui-upstream");
        await page.FillAsync("#model-form-rpm", "30");
        await page.FillAsync("#model-form-input_per_million", "1.5");
        await page.FillAsync("#model-form-output_per_million", "3");
        await page.ClickAsync("#model-form button[type=submit]");
        var row = page.Locator("#models-table tr[data-model='ui-model']");
        await Assertions.Expect(row).ToContainTextAsync("database");
        await Assertions.Expect(row).ToContainTextAsync("$1.50 / $3.00");
        await Assertions.Expect(row).ToContainTextAsync("mock/ui-upstream");
        await fixture.ScreenshotAsync(page, "models-added", output);
        var key = await Gateway.GenerateKeyAsync("""{"key_alias":"model-page-key"}""", Master);
        using (var chat = await Gateway.ChatAsync(key, model: "ui-model")) Assert.Equal(HttpStatusCode.OK, chat.StatusCode);

        await row.GetByRole(AriaRole.Button, new() { Name = "Edit" }).ClickAsync();
        await Assertions.Expect(page.Locator("#model-form-input_per_million")).ToHaveValueAsync("1.5");
        await page.FillAsync("#model-form-input_per_million", "2");
        await fixture.ScreenshotAsync(page, "models-editing", output);
        await page.ClickAsync("#model-form button[type=submit]");
        await Assertions.Expect(row).ToContainTextAsync("$2.00 / $3.00");
        var (_, info) = await Gateway.AdminAsync("/v2/model/info?search=ui-model", null, Master);
        var stored = info.GetProperty("data").EnumerateArray().Single(m => m.GetProperty("model_name").GetString() == "ui-model");
        Assert.True(stored.GetProperty("model_info").GetProperty("db_model").GetBoolean());
        Assert.Equal(0.000002m, stored.GetProperty("model_info").GetProperty("input_cost_per_token").GetDecimal());

        await row.GetByRole(AriaRole.Button, new() { Name = "Delete" }).ClickAsync();
        await row.GetByRole(AriaRole.Button, new() { Name = "Confirm delete" }).ClickAsync();
        await Assertions.Expect(row).ToHaveCountAsync(0);
        using (var chat = await Gateway.ChatAsync(key, model: "ui-model")) Assert.Equal(HttpStatusCode.NotFound, chat.StatusCode);
        fixture.AssertNoPageErrors(page);
    }

    [Fact]
    public async Task Team_members_are_added_given_a_budget_in_the_team_changed_and_removed()
    {
        await Gateway.AdminAsync("/team/new", """{"team_id":"team-members","team_alias":"Members Team"}""", Master);
        await Gateway.AdminAsync("/user/new", """{"user_id":"grace","user_email":"grace@example.com","auto_create_key":false}""", Master);
        var page = await fixture.SignInAsync();
        await page.GotoAsync(Gateway.Url + "/ui#/teams");
        await page.Locator("#teams-table tr[data-team='team-members']").GetByRole(AriaRole.Button, new() { Name = "Members" }).ClickAsync();
        await Assertions.Expect(page.Locator("#team-detail")).ToContainTextAsync("Members of Members Team");

        await page.FillAsync("#add-member-user", "grace");
        await page.FillAsync("#add-member-max_budget_in_team", "5");
        await page.ClickAsync("#add-member button[type=submit]");
        var grace = page.Locator("#members-table tr[data-member='grace']");
        await Assertions.Expect(grace).ToContainTextAsync("grace@example.com");
        await Assertions.Expect(grace).ToContainTextAsync("$0 / $5.00");
        // A member added by email alone becomes a user, as LiteLLM does.
        await page.FillAsync("#add-member-user", "newcomer@example.com");
        await page.ClickAsync("#add-member button[type=submit]");
        var newcomer = page.Locator("#members-table tr", new() { HasText = "newcomer@example.com" });
        await Assertions.Expect(newcomer).ToHaveCountAsync(1);

        await grace.GetByRole(AriaRole.Button, new() { Name = "Edit" }).ClickAsync();
        await page.SelectOptionAsync("#update-member-role", "admin");
        await page.FillAsync("#update-member-max_budget_in_team", "7");
        await fixture.ScreenshotAsync(page, "team-members-editing", output);
        await page.ClickAsync("#update-member button[type=submit]");
        await Assertions.Expect(grace).ToContainTextAsync("admin");
        await Assertions.Expect(grace).ToContainTextAsync("$0 / $7.00");
        var (_, info) = await Gateway.AdminAsync("/team/info?team_id=team-members", null, Master);
        var membership = info.GetProperty("team_memberships").EnumerateArray().Single(m => m.GetProperty("user_id").GetString() == "grace");
        Assert.Equal(7m, membership.GetProperty("litellm_budget_table").GetProperty("max_budget").GetDecimal());
        Assert.Contains(info.GetProperty("team_info").GetProperty("members_with_roles").EnumerateArray(),
            m => m.GetProperty("user_id").GetString() == "grace" && m.GetProperty("role").GetString() == "admin");

        await newcomer.GetByRole(AriaRole.Button, new() { Name = "Remove" }).ClickAsync();
        await newcomer.GetByRole(AriaRole.Button, new() { Name = "Confirm remove" }).ClickAsync();
        await Assertions.Expect(newcomer).ToHaveCountAsync(0);
        await Assertions.Expect(grace).ToHaveCountAsync(1);
        await fixture.ScreenshotAsync(page, "team-members", output);
        fixture.AssertNoPageErrors(page);
    }

    [Fact]
    public async Task Organizations_are_created_edited_given_members_and_teams_and_deleted()
    {
        await Gateway.AdminAsync("/user/new", """{"user_id":"ada-org","user_email":"ada.org@example.com","auto_create_key":false}""", Master);
        var page = await fixture.SignInAsync();
        await page.GotoAsync(Gateway.Url + "/ui#/orgs");
        await page.FillAsync("#create-org-organization_alias", "Acme Research");
        await page.FillAsync("#create-org-models", "gpt-4o, gpt-4o-mini");
        await page.FillAsync("#create-org-max_budget", "100");
        await page.ClickAsync("#create-org button[type=submit]");
        var acme = page.Locator("#orgs-table tr[data-org='Acme Research']");
        await Assertions.Expect(acme).ToContainTextAsync("$0 / $100.00");
        await Assertions.Expect(acme).ToContainTextAsync("gpt-4o-mini");

        await acme.GetByRole(AriaRole.Button, new() { Name = "Open" }).ClickAsync();
        await Assertions.Expect(page.Locator("#edit-org-organization_alias")).ToHaveValueAsync("Acme Research");
        await page.FillAsync("#edit-org-max_budget", "150");
        await page.ClickAsync("#edit-org button[type=submit]");
        await Assertions.Expect(acme).ToContainTextAsync("$0 / $150.00");

        await page.FillAsync("#add-org-member-user", "ada-org");
        await page.SelectOptionAsync("#add-org-member-role", "org_admin");
        await page.FillAsync("#add-org-member-max_budget_in_organization", "20");
        await page.ClickAsync("#add-org-member button[type=submit]");
        var member = page.Locator("#org-members-table tr[data-member='ada-org']");
        await Assertions.Expect(member).ToContainTextAsync("org_admin");
        await Assertions.Expect(member).ToContainTextAsync("$20.00");
        await Assertions.Expect(member).ToContainTextAsync("ada.org@example.com");
        await fixture.ScreenshotAsync(page, "organization", output);

        // A team joins the organization by its name; an organization that does not exist is refused in the browser.
        await page.GotoAsync(Gateway.Url + "/ui#/teams");
        await page.FillAsync("#create-team-team_alias", "Acme Evals");
        await page.FillAsync("#create-team-organization_id", "No Such Org");
        await page.ClickAsync("#create-team button[type=submit]");
        await Assertions.Expect(page.Locator("#create-team-error")).ToContainTextAsync("Organization 'No Such Org' does not exist");
        await page.FillAsync("#create-team-organization_id", "Acme Research");
        await page.ClickAsync("#create-team button[type=submit]");
        await Assertions.Expect(page.Locator("#teams-table tr", new() { HasText = "Acme Evals" })).ToContainTextAsync("Acme Research");
        await page.GotoAsync(Gateway.Url + "/ui#/orgs");
        await Assertions.Expect(acme).ToContainTextAsync("Acme Evals");

        await page.FillAsync("#create-org-organization_alias", "Short Lived");
        await page.ClickAsync("#create-org button[type=submit]");
        var temp = page.Locator("#orgs-table tr[data-org='Short Lived']");
        await Assertions.Expect(page.Locator("#orgs-table tbody tr").First).ToContainTextAsync("Short Lived");
        await temp.GetByRole(AriaRole.Button, new() { Name = "Delete" }).ClickAsync();
        await temp.GetByRole(AriaRole.Button, new() { Name = "Confirm delete" }).ClickAsync();
        await Assertions.Expect(temp).ToHaveCountAsync(0);
        var (_, list) = await Gateway.AdminAsync("/organization/list", null, Master);
        Assert.DoesNotContain(list.EnumerateArray(), o => o.GetProperty("organization_alias").GetString() == "Short Lived");
        await fixture.ScreenshotAsync(page, "organizations", output);
        fixture.AssertNoPageErrors(page);
    }

    [Fact]
    public async Task Pages_whose_endpoint_the_gateway_does_not_serve_say_so()
    {
        // An older gateway (or one behind a proxy that strips these routes) answers 404 unknown_url.
        var page = await fixture.SignInAsync();
        const string unknown = """{"error":{"message":"Unknown route","type":"invalid_request_error","code":"unknown_url","param":null}}""";
        foreach (var pattern in new[] { "**/v2/model/info*", "**/organization/list*" })
            await page.RouteAsync(pattern, route => route.FulfillAsync(new() { Status = 404, ContentType = "application/json", Body = unknown }));

        await page.GotoAsync(Gateway.Url + "/ui#/models");
        await Assertions.Expect(page.Locator("#models-unavailable")).ToContainTextAsync("Model management is not available");
        await Assertions.Expect(page.Locator("#model-form")).ToHaveCountAsync(0);
        await Assertions.Expect(page.Locator("#deployments-table")).ToContainTextAsync("mock/gpt-4o");
        await Assertions.Expect(page.Locator("#banner")).ToBeHiddenAsync();
        await fixture.ScreenshotAsync(page, "models-unavailable", output);

        await page.GotoAsync(Gateway.Url + "/ui#/orgs");
        await Assertions.Expect(page.Locator(".unavailable")).ToContainTextAsync("Organizations are not available");
        await Assertions.Expect(page.Locator("#banner")).ToBeHiddenAsync();
        await fixture.ScreenshotAsync(page, "orgs-unavailable", output);

        // The teams page still works without organizations (its organization field is left out).
        await page.GotoAsync(Gateway.Url + "/ui#/teams");
        await Assertions.Expect(page.Locator("#create-team")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("#create-team-organization_id")).ToHaveCountAsync(0);
    }
}
