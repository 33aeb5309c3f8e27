using System.Net;
using System.Text.Json;
using AgenticGateway.Tests.Support;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace AgenticGateway.Tests.Ui;

/// <summary>
/// The management pages in a real browser, over LiteLLM's endpoints on a real gateway: models stored in the database
/// (/model/new, /model/update, /model/delete, /v2/model/info), and the plain "not available" a page shows when a
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
