using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using AgenticGateway.Tests.Support;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace AgenticGateway.Tests.Ui;

/// <summary>
/// What a LiteLLM UI user expects of the admin pages, in a real browser: tables that fit 1280-1440 px with their
/// actions in view, newest first and paginated; names instead of ids; costs written for people; forms that refuse
/// what cannot work; the configuration as YAML with the real listen address; a sign-in page that tells a newcomer
/// how to set the master key; a playground that streams. Screenshots at both widths (paths in the test output).
/// </summary>
[Trait("Category", "browser")]
public class AdminUiPagesTests(AdminUiFixture fixture, ITestOutputHelper output) : IClassFixture<AdminUiFixture>
{
    private GatewayServer Gateway => fixture.Gateway;
    private const string Master = AdminUiFixture.Master;

    [Fact]
    public async Task Key_tables_fit_1280_pixels_newest_first_a_page_at_a_time_with_their_actions_in_view()
    {
        await Gateway.AdminAsync("/team/new", """{"team_id":"layout-team","team_alias":"Layout and Wrapping Research Group"}""", Master);
        for (var i = 0; i < 27; i++)
            await Gateway.GenerateKeyAsync($$"""{"key_alias":"bulk-key-{{i:00}}-with-a-rather-long-descriptive-alias","team_id":"layout-team","models":["gpt-4o","gpt-4o-mini","local-llama"],"max_budget":12.5,"rpm_limit":600,"tpm_limit":100000,"duration":"30d"}""", Master);
        var (_, list) = await Gateway.AdminAsync("/key/list?size=1", null, Master);
        var total = list.GetProperty("total_count").GetInt32();

        foreach (var width in AdminUiFixture.Widths)
        {
            var page = await fixture.SignInAsync(width);
            await page.GotoAsync(Gateway.Url + "/ui#/keys");
            var rows = page.Locator("#keys-table tbody tr");
            await Assertions.Expect(rows).ToHaveCountAsync(25);
            // Newest first: the last key made heads the first page.
            await Assertions.Expect(rows.First).ToContainTextAsync("bulk-key-26");
            await Assertions.Expect(page.Locator(".pager").Last).ToContainTextAsync($"1–25 of {total}");
            // Every row's buttons are inside the window, and the page itself does not scroll sideways.
            foreach (var button in await page.Locator("#keys-table tbody tr button:has-text('Delete')").AllAsync())
            {
                var box = (await button.BoundingBoxAsync())!;
                Assert.True(box.X >= 0 && box.X + box.Width <= width, $"at {width} px a Delete button ends at {box.X + box.Width}");
            }
            Assert.True(await page.EvaluateAsync<bool>("document.documentElement.scrollWidth <= window.innerWidth"), $"the page scrolls sideways at {width} px");
            // The table fits: no column hides under the pinned actions column (the status is the last before it).
            var status = (await rows.First.Locator(".badge").Last.BoundingBoxAsync())!;
            var actions = (await rows.First.Locator("td.actions").BoundingBoxAsync())!;
            Assert.True(status.X + status.Width <= actions.X, $"at {width} px the status column ends at {status.X + status.Width}, under the actions column at {actions.X}");
            await fixture.ScreenshotAsync(page, $"keys-page-1-at-{width}", output);

            await page.Locator(".pager").Last.GetByRole(AriaRole.Button, new() { Name = "Next page" }).ClickAsync();
            await Assertions.Expect(rows).ToHaveCountAsync(total - 25);
            await Assertions.Expect(page.Locator("#keys-table")).ToContainTextAsync("bulk-key-00");
            fixture.AssertNoPageErrors(page);
        }
    }

    [Fact]
    public async Task Keys_teams_deployments_and_sandbox_owners_are_shown_by_name()
    {
        await Gateway.AdminAsync("/team/new", """{"team_id":"team-7f3a","team_alias":"Payments Team"}""", Master);
        var key = await Gateway.GenerateKeyAsync("""{"key_alias":"payments-bot","team_id":"team-7f3a"}""", Master);
        string requestId;
        using (var chat = await Gateway.ChatAsync(key))
        {
            Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
            requestId = chat.Headers.GetValues("x-request-id").Single();
        }
        var (_, deployments) = await Gateway.AdminAsync("/ui/api/deployments", null, Master);
        var gpt4o = deployments.GetProperty("data").EnumerateArray().Single(d => d.GetProperty("model").GetString() == "gpt-4o");
        var deploymentId = gpt4o.GetProperty("id").GetString()!;
        Assert.Equal("mock/gpt-4o", gpt4o.GetProperty("name").GetString());
        using var sandbox = await Gateway.PostJsonAsync("/v1/sandboxes", """{"runtime":"bash"}""", configure: r => r.Headers.Authorization = new("Bearer", key));
        Assert.Equal(HttpStatusCode.Created, sandbox.StatusCode);
        var sandboxId = JsonDocument.Parse(await sandbox.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;

        var page = await fixture.SignInAsync();
        await page.GotoAsync(Gateway.Url + "/ui#/logs");
        var logged = page.Locator($"#log-table tr[data-request-id='{requestId}']");
        await Assertions.Expect(logged).ToContainTextAsync("payments-bot");
        await Assertions.Expect(logged).ToContainTextAsync("Payments Team");
        await Assertions.Expect(logged).ToContainTextAsync("mock/gpt-4o");
        Assert.DoesNotContain(deploymentId, await logged.InnerTextAsync(), StringComparison.Ordinal);
        await fixture.ScreenshotAsync(page, "names-live-log", output);

        await page.GotoAsync(Gateway.Url + "/ui#/keys");
        await Assertions.Expect(page.Locator("#keys-table tr[data-alias='payments-bot']")).ToContainTextAsync("Payments Team");

        await page.GotoAsync(Gateway.Url + "/ui#/sandboxes");
        var row = page.Locator($"#sandboxes-table tr[data-id='{sandboxId}']");
        await Assertions.Expect(row).ToContainTextAsync("key payments-bot");
        Assert.DoesNotContain("key:", await row.InnerTextAsync(), StringComparison.Ordinal);
        await fixture.ScreenshotAsync(page, "names-sandboxes", output);
        await Gateway.AdminAsync($"/ui/api/sandboxes/{sandboxId}", null, Master, HttpMethod.Delete);

        await page.GotoAsync(Gateway.Url + "/ui#/models");
        await Assertions.Expect(page.Locator($"#deployments-table tr[data-deployment='{deploymentId}']")).ToContainTextAsync("mock/gpt-4o");
        fixture.AssertNoPageErrors(page);
    }

    [Fact]
    public async Task Costs_are_written_for_people_and_unpriced_models_are_flagged()
    {
        var key = await Gateway.GenerateKeyAsync("""{"key_alias":"cost-key"}""", Master);
        string tinyId, llamaId;
        using (var tiny = await Gateway.ChatAsync(key, model: "tiny-model")) tinyId = tiny.Headers.GetValues("x-request-id").Single();
        using (var unpricedChat = await Gateway.ChatAsync(key, model: "local-llama")) llamaId = unpricedChat.Headers.GetValues("x-request-id").Single();

        var page = await fixture.SignInAsync();
        Assert.Equal("$0.0000001", await page.EvaluateAsync<string>("AGW.fmt.usd(1e-7)"));
        Assert.Equal("$0.000123", await page.EvaluateAsync<string>("AGW.fmt.usd(0.00012345)"));
        Assert.Equal("$1,234.50", await page.EvaluateAsync<string>("AGW.fmt.usd(1234.5)"));
        Assert.Equal("$0.25", await page.EvaluateAsync<string>("AGW.fmt.usd(0.25)"));

        await page.GotoAsync(Gateway.Url + "/ui#/logs");
        // tiny-model: well under a millionth of a dollar, in positional notation.
        var tinyCost = page.Locator($"#log-table tr[data-request-id='{tinyId}'] td").Last;
        await Assertions.Expect(tinyCost).ToHaveTextAsync(new Regex(@"^\$0\.000000\d+$"));
        var llama = page.Locator($"#log-table tr[data-request-id='{llamaId}']");
        await Assertions.Expect(llama.Locator(".unpriced")).ToHaveTextAsync("unpriced");
        await Assertions.Expect(page.Locator($"#log-table tr[data-request-id='{tinyId}'] .unpriced")).ToHaveCountAsync(0);
        Assert.DoesNotMatch(@"\de-\d", await page.Locator("#log-table").InnerTextAsync());
        await fixture.ScreenshotAsync(page, "costs-live-log", output);

        await page.GotoAsync(Gateway.Url + "/ui#/models");
        var deployments = page.Locator("#deployments-table");
        await Assertions.Expect(deployments.Locator("tr", new() { HasText = "llama-3-local-q4" }).Locator(".unpriced")).ToBeVisibleAsync();
        await Assertions.Expect(deployments.Locator("tr", new() { HasText = "mock/gpt-4o-mini" }).Locator(".unpriced")).ToHaveCountAsync(0);
        // $0.01 and $0.02 per million tokens, not 1e-8.
        await Assertions.Expect(deployments.Locator("tr", new() { HasText = "mock/tiny-model" })).ToContainTextAsync("$0.01 / $0.02");

        await page.GotoAsync(Gateway.Url + "/ui#/overview");
        await Assertions.Expect(page.Locator("#by-model-table tr[data-model='local-llama'] .unpriced")).ToBeVisibleAsync();
        await fixture.ScreenshotAsync(page, "costs-overview", output);
        fixture.AssertNoPageErrors(page);
    }

    [Fact]
    public async Task The_key_form_refuses_a_team_that_does_not_exist_and_shows_the_servers_refusal()
    {
        var page = await fixture.SignInAsync();
        var generateCalls = 0;
        page.Request += (_, r) => { if (r.Url.EndsWith("/key/generate", StringComparison.Ordinal)) generateCalls++; };
        await page.GotoAsync(Gateway.Url + "/ui#/keys");
        await page.FillAsync("#create-key-key_alias", "orphan-key");
        await page.FillAsync("#create-key-team_id", "no-such-team");
        await page.ClickAsync("#create-key button[type=submit]");
        await Assertions.Expect(page.Locator("#create-key-error")).ToContainTextAsync("Team 'no-such-team' does not exist");
        await Assertions.Expect(page.Locator("#create-key-team_id")).ToHaveAttributeAsync("aria-invalid", "true");
        Assert.Equal(0, generateCalls);
        await fixture.ScreenshotAsync(page, "form-unknown-team", output);

        // What only the server can judge comes back as its 4xx message, in the form.
        await page.FillAsync("#create-key-team_id", "");
        await page.FillAsync("#create-key-budget_duration", "fortnightly");
        await page.ClickAsync("#create-key button[type=submit]");
        await Assertions.Expect(page.Locator("#create-key-error")).ToContainTextAsync("budget_duration");
        Assert.Equal(1, generateCalls);
        var (_, keys) = await Gateway.AdminAsync("/key/list?key_alias=orphan-key", null, Master);
        Assert.Equal(0, keys.GetProperty("total_count").GetInt32());

        // A team named by its alias is accepted and stored by id.
        await Gateway.AdminAsync("/team/new", """{"team_id":"team-forms","team_alias":"Forms Team"}""", Master);
        await page.GotoAsync(Gateway.Url + "/ui#/overview");
        await page.GotoAsync(Gateway.Url + "/ui#/keys");
        await page.FillAsync("#create-key-key_alias", "forms-key");
        await page.FillAsync("#create-key-team_id", "Forms Team");
        await page.ClickAsync("#create-key button[type=submit]");
        await Assertions.Expect(page.Locator("#new-key")).ToBeVisibleAsync();
        (_, keys) = await Gateway.AdminAsync("/key/list?key_alias=forms-key&return_full_object=true", null, Master);
        Assert.Equal("team-forms", keys.GetProperty("keys")[0].GetProperty("team_id").GetString());
        fixture.AssertNoPageErrors(page);
    }

    [Fact]
    public async Task The_configuration_page_shows_yaml_and_the_address_the_gateway_listens_on()
    {
        var page = await fixture.SignInAsync();
        await page.GotoAsync(Gateway.Url + "/ui#/config");
        await Assertions.Expect(page.Locator("#listen-addresses")).ToContainTextAsync(Gateway.Url);
        var yaml = page.Locator("#config-yaml");
        await Assertions.Expect(yaml).ToBeVisibleAsync();
        await Assertions.Expect(yaml).ToContainTextAsync("master_key: \"***\"");
        Assert.DoesNotContain(Master, await page.ContentAsync(), StringComparison.Ordinal);
        Assert.DoesNotContain("sk-provider-secret-never-shown", await page.ContentAsync(), StringComparison.Ordinal);
        await fixture.ScreenshotAsync(page, "config-yaml", output);
        await page.GetByRole(AriaRole.Button, new() { Name = "JSON" }).ClickAsync();
        await Assertions.Expect(page.Locator("#config-json")).ToContainTextAsync("\"master_key\": \"***\"");
        await Assertions.Expect(yaml).ToBeHiddenAsync();
        fixture.AssertNoPageErrors(page);
    }

    [Fact]
    public async Task The_sign_in_page_tells_a_newcomer_how_to_set_the_master_key()
    {
        var page = await fixture.NewPageAsync();
        await page.GotoAsync(Gateway.Url + "/ui");
        var help = page.Locator("#master-key-help");
        await help.Locator("summary").ClickAsync();
        foreach (var text in new[] { "AGW_MASTER_KEY", "LITELLM_MASTER_KEY", "master_key: sk-", "general_settings" })
            await Assertions.Expect(help).ToContainTextAsync(text);
        await Assertions.Expect(page.Locator("#no-master-key")).ToBeHiddenAsync();
        await fixture.ScreenshotAsync(page, "sign-in-help", output);

        // A gateway with no master key at all says so at once, and opens the instructions.
        await using var open = await GatewayServer.StartAsync("""
            models:
              - name: gpt-4o
                provider: mock
            """);
        var fresh = await fixture.NewPageAsync();
        await fresh.GotoAsync(open.Url + "/ui");
        await Assertions.Expect(fresh.Locator("#no-master-key")).ToBeVisibleAsync();
        await Assertions.Expect(fresh.Locator("#master-key-help")).ToHaveAttributeAsync("open", "");
        await fresh.FillAsync("#master-key", "sk-anything-at-all-000");
        await fresh.ClickAsync("#sign-in");
        await Assertions.Expect(fresh.Locator("#login-error")).ToContainTextAsync("needs a master key");
        await fixture.ScreenshotAsync(fresh, "sign-in-no-master-key", output);
    }

    [Fact]
    public async Task The_playground_streams_an_answer_into_the_page_as_it_arrives()
    {
        var key = await Gateway.GenerateKeyAsync("""{"key_alias":"playground-key","models":["local-llama"]}""", Master);
        var page = await fixture.SignInAsync();
        await page.GotoAsync(Gateway.Url + "/ui#/playground");
        await page.FillAsync("#pg-key", key);
        await page.SelectOptionAsync("#pg-model", "local-llama");
        await page.FillAsync("#pg-message", "Tell me a short story.");
        await page.ClickAsync("#pg-send");
        // Deltas show while the stream is still open (20 tokens/s): the page is written as chunks arrive, not at the end.
        await page.WaitForFunctionAsync(
            "() => { const a = document.querySelector('#pg-answer'); return a && Number(a.dataset.chunks) >= 3 && a.closest('.turn').dataset.streaming === 'true'; }");
        var partial = await page.Locator("#pg-answer").TextContentAsync();
        await fixture.ScreenshotAsync(page, "playground-streaming", output);
        await Assertions.Expect(page.Locator(".turn.assistant[data-streaming='false']")).ToHaveCountAsync(1, new() { Timeout = 30_000 });
        var whole = await page.Locator("#pg-answer").TextContentAsync();
        Assert.StartsWith(partial!, whole!, StringComparison.Ordinal);
        Assert.True(whole!.Length > partial!.Length);
        await Assertions.Expect(page.Locator("#pg-stats")).ToContainTextAsync("out tokens");
        await fixture.ScreenshotAsync(page, "playground-done", output);

        // The key's own rules apply: a model it may not use is refused with the gateway's message.
        await page.SelectOptionAsync("#pg-model", "gpt-4o");
        await page.FillAsync("#pg-message", "And another?");
        await page.ClickAsync("#pg-send");
        await Assertions.Expect(page.Locator("#pg-error")).ToContainTextAsync("gpt-4o");
        await Assertions.Expect(page.Locator(".turn.assistant.error")).ToHaveCountAsync(1);
        fixture.AssertNoPageErrors(page);
    }
}
