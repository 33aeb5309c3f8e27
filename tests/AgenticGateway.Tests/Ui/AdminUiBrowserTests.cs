using System.Net;
using System.Text.Json;
using AgenticGateway.Tests.Support;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace AgenticGateway.Tests.Ui;

/// <summary>
/// The admin UI in a real browser: Playwright driving Debian's headless Chromium against a real gateway (mock
/// provider, bubblewrap sandboxes). Screenshots of every page, at 1280 and 1440 px, go to TestResults/ui-screenshots
/// under the test output (the paths are printed).
/// </summary>
[Trait("Category", "browser")]
public class AdminUiBrowserTests(AdminUiFixture fixture, ITestOutputHelper output) : IClassFixture<AdminUiFixture>
{
    private GatewayServer Gateway => fixture.Gateway;

    [Fact]
    public async Task A_wrong_key_is_refused_and_a_virtual_key_is_not_enough()
    {
        var page = await fixture.NewPageAsync();
        await page.GotoAsync(Gateway.Url + "/ui");
        await page.FillAsync("#master-key", "sk-not-the-master-key-000000");
        await page.ClickAsync("#sign-in");
        await Assertions.Expect(page.Locator("#login-error")).ToContainTextAsync("Incorrect API key");
        await Assertions.Expect(page.Locator("#app")).ToBeHiddenAsync();
        Assert.Null(await page.EvaluateAsync<string?>("sessionStorage.getItem('agw.adminKey')"));

        var virtualKey = await Gateway.GenerateKeyAsync("""{"key_alias":"not-an-admin"}""", AdminUiFixture.Master);
        await page.FillAsync("#master-key", virtualKey);
        await page.ClickAsync("#sign-in");
        await Assertions.Expect(page.Locator("#login-error")).ToContainTextAsync("not the master key");
        await Assertions.Expect(page.Locator("#app")).ToBeHiddenAsync();
        await fixture.ScreenshotAsync(page, "login-refused", output);
        fixture.AssertNoPageErrors(page);
    }

    [Fact]
    public async Task A_new_key_is_shown_once_and_its_request_shows_in_the_live_log_and_the_overview()
    {
        var page = await fixture.SignInAsync();
        await page.GotoAsync(Gateway.Url + "/ui#/keys");
        await page.FillAsync("#create-key-key_alias", "browser-key");
        await page.FillAsync("#create-key-models", "gpt-4o");
        await page.FillAsync("#create-key-max_budget", "5");
        await page.FillAsync("#create-key-rpm_limit", "60");
        await page.ClickAsync("#create-key button[type=submit]");
        var secret = (await page.Locator("#new-key").TextContentAsync())!;
        Assert.StartsWith("sk-", secret, StringComparison.Ordinal);
        var row = page.Locator("#keys-table tr[data-alias='browser-key']");
        await Assertions.Expect(row).ToContainTextAsync($"sk-...{secret[^4..]}");
        await Assertions.Expect(row).ToContainTextAsync("60 rpm");
        await Assertions.Expect(row).ToContainTextAsync("$5.00");
        await fixture.ScreenshotAsync(page, "keys-new-key", output);
        // Shown once: leaving the page and coming back shows the key's masked name only.
        await page.GotoAsync(Gateway.Url + "/ui#/overview");
        await page.GotoAsync(Gateway.Url + "/ui#/keys");
        await Assertions.Expect(row).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("#new-key")).ToHaveCountAsync(0);
        Assert.DoesNotContain(secret, await page.ContentAsync(), StringComparison.Ordinal);

        string requestId;
        using (var chat = await Gateway.ChatAsync(secret))
        {
            Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
            requestId = chat.Headers.GetValues("x-request-id").Single();
        }

        await page.GotoAsync(Gateway.Url + "/ui#/logs");
        var logged = page.Locator($"#log-table tr[data-request-id='{requestId}']");
        await Assertions.Expect(logged).ToContainTextAsync("browser-key");
        await Assertions.Expect(logged).ToContainTextAsync("gpt-4o");
        await Assertions.Expect(logged).ToContainTextAsync("200");

        var (_, overview) = await Gateway.AdminAsync("/ui/api/overview?minutes=60&buckets=30", null, AdminUiFixture.Master);
        var totals = overview.GetProperty("totals");
        Assert.True(totals.GetProperty("requests").GetInt32() >= 1);
        await page.GotoAsync(Gateway.Url + "/ui#/overview");
        await Assertions.Expect(page.Locator("#stat-requests")).ToHaveTextAsync(totals.GetProperty("requests").GetInt32().ToString("N0", System.Globalization.CultureInfo.InvariantCulture));
        var tokens = totals.GetProperty("prompt_tokens").GetInt64() + totals.GetProperty("completion_tokens").GetInt64();
        await Assertions.Expect(page.Locator("#stat-tokens")).ToHaveTextAsync(tokens.ToString("N0", System.Globalization.CultureInfo.InvariantCulture));
        // The chart's bars carry the numbers they draw; the newest bucket holds the request.
        var bars = await page.Locator("#chart-requests rect.bar.s1").EvaluateAllAsync<double[]>("rects => rects.map(r => Number(r.dataset.value))");
        Assert.Equal(30, bars.Length);
        Assert.Equal(totals.GetProperty("requests").GetInt32(), (int)bars.Sum());
        Assert.True(await page.Locator("#chart-latency circle.dot").CountAsync() >= 1);
        fixture.AssertNoPageErrors(page);
    }

    [Fact]
    public async Task A_sandbox_is_listed_inspected_and_killed_from_its_page()
    {
        var (status, created) = await Gateway.AdminAsync("/v1/sandboxes", """{"runtime":"bash","metadata":{"purpose":"ui-test"}}""", AdminUiFixture.Master);
        Assert.True(status == HttpStatusCode.Created, created.ToString());
        var id = created.GetProperty("id").GetString()!;

        var page = await fixture.SignInAsync();
        await page.GotoAsync(Gateway.Url + "/ui#/sandboxes");
        var row = page.Locator($"#sandboxes-table tr[data-id='{id}']");
        await Assertions.Expect(row).ToContainTextAsync("purpose=ui-test");
        await row.GetByRole(AriaRole.Button, new() { Name = "Inspect" }).ClickAsync();
        await Assertions.Expect(page.Locator("#sandbox-detail")).ToContainTextAsync("\"runtime\": \"bash\"");
        await fixture.ScreenshotAsync(page, "sandboxes", output);

        await row.GetByRole(AriaRole.Button, new() { Name = "Kill" }).ClickAsync();
        await row.GetByRole(AriaRole.Button, new() { Name = "Confirm kill" }).ClickAsync();
        await Assertions.Expect(row).ToHaveCountAsync(0);
        await Assertions.Expect(page.Locator("#banner")).ToContainTextAsync($"Sandbox {id} killed");
        (status, _) = await Gateway.AdminAsync($"/v1/sandboxes/{id}", null, AdminUiFixture.Master);
        Assert.Equal(HttpStatusCode.NotFound, status);
        fixture.AssertNoPageErrors(page);
    }

    [Fact]
    public async Task Every_page_renders_without_errors()
    {
        // Something on every page: a team, a user, spend, a request in the log.
        await Gateway.AdminAsync("/team/new", """{"team_id":"platform","team_alias":"Platform","max_budget":100}""", AdminUiFixture.Master);
        await Gateway.AdminAsync("/user/new", """{"user_id":"ada","user_email":"ada@example.com","teams":["platform"],"auto_create_key":false}""", AdminUiFixture.Master);
        var key = await Gateway.GenerateKeyAsync("""{"key_alias":"pages-key","team_id":"platform"}""", AdminUiFixture.Master);
        for (var i = 0; i < 3; i++) using (var chat = await Gateway.ChatAsync(key)) Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        for (var i = 0; i < 4; i++) using (var chat = await Gateway.ChatAsync(key, model: "gpt-4o-mini", stream: i % 2 == 0)) await chat.Content.ReadAsStringAsync();
        using (var missing = await Gateway.ChatAsync(key, model: "no-such-model")) Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        await Gateway.FlushSpendAsync();

        var page = await fixture.SignInAsync();
        var expectations = new (string Page, string Selector, string Text)[]
        {
            ("overview", "#stat-requests", ""),
            ("keys", "#keys-table", "pages-key"),
            ("teams", "#teams-table", "Platform"),
            ("spend", "#spend-totals", "pages-key"),
            ("models", "#deployments-table", "healthy"),
            ("sandboxes", "#sandboxes-table", ""),
            ("mcp", "#mcp-servers-table", ""),
            ("logs", "#log-table", "pages-key"),
            ("orgs", "#page", ""),
            ("playground", "#playground-form", ""),
            ("config", "#config-yaml", "master_key: \"***\""),
        };
        foreach (var (name, selector, text) in expectations)
        {
            await page.GotoAsync($"{Gateway.Url}/ui#/{name}");
            await Assertions.Expect(page.Locator(selector)).ToBeVisibleAsync();
            if (text.Length > 0) await Assertions.Expect(page.Locator(selector)).ToContainTextAsync(text);
            await Assertions.Expect(page.Locator("#banner")).ToBeHiddenAsync();
            if (name == "teams") await Assertions.Expect(page.Locator("#users-table")).ToContainTextAsync("ada@example.com");
            await fixture.ScreenshotAsync(page, name, output);
        }
        Assert.DoesNotContain(AdminUiFixture.Master, await page.ContentAsync(), StringComparison.Ordinal);
        fixture.AssertNoPageErrors(page);
        await fixture.SaveDocsScreenshotAsync(page, output);
    }
}
