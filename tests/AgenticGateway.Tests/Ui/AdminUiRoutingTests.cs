using System.Diagnostics;
using AgenticGateway.Policies;
using AgenticGateway.Routing;
using Microsoft.Playwright;
using Xunit.Abstractions;
using static AgenticGateway.Tests.Policies.Decisions.DecisionSamples;

namespace AgenticGateway.Tests.Ui;

/// <summary>
/// The routing page in a real browser: the latest decisions with each candidate's verdict and reasons (text from
/// policy files shown as text, never markup), filtered by decision, and the loaded policies or a note that none are.
/// </summary>
[Trait("Category", "browser")]
public sealed class AdminUiRoutingTests(AdminUiFixture fixture, ITestOutputHelper output) : IClassFixture<AdminUiFixture>
{
    [Fact]
    public async Task The_latest_decisions_show_with_their_candidates_and_reasons()
    {
        var sink = fixture.Gateway.Services.GetRequiredService<IRoutingDecisionSink>();
        var writer = fixture.Gateway.Services.GetRequiredService<RoutingDecisionWriter>();
        var before = writer.Written;
        var now = DateTimeOffset.UtcNow;
        Assert.True(sink.TryWrite(Allow("ui-allow", now.AddSeconds(-2))));
        // A reason quotes a policy file: markup in it must show as text.
        Assert.True(sink.TryWrite(Deny("ui-deny", now.AddSeconds(-1)) with
        {
            Candidates = [new CandidateVerdict(0, "mini-openai", "openai", false, false, ["forbid: <b id=injected>breaker</b>"])],
        }));
        var deadline = Stopwatch.StartNew();
        while (writer.Written < before + 2 && deadline.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(20);

        var page = await fixture.SignInAsync();
        await page.GotoAsync(fixture.Gateway.Url + "/ui#/routing");
        var allow = page.Locator("#routing-decisions tr[data-id='ui-allow']");
        await Assertions.Expect(allow).ToContainTextAsync("allow");
        await Assertions.Expect(allow).ToContainTextAsync("llama-vllm");
        await Assertions.Expect(allow.Locator("li[data-deployment='gpt-4o-openai']")).ToContainTextAsync("forbidden");
        await Assertions.Expect(allow.Locator("li[data-deployment='gpt-4o-openai']")).ToContainTextAsync("forbid: slow_for_sla");
        await Assertions.Expect(allow.Locator("li[data-deployment='llama-vllm']")).ToContainTextAsync("preferred");
        await Assertions.Expect(allow.Locator("li[data-deployment='llama-vllm']")).ToContainTextAsync("permit(@priority 100): prefer_vllm");
        await Assertions.Expect(allow).ToContainTextAsync("team-key");
        var deny = page.Locator("#routing-decisions tr[data-id='ui-deny']");
        await Assertions.Expect(deny).ToHaveAttributeAsync("data-decision", "deny");
        await Assertions.Expect(deny).ToContainTextAsync("forbid: <b id=injected>breaker</b>");
        Assert.Equal(0, await page.Locator("#injected").CountAsync());
        // Newest first.
        Assert.Equal("ui-deny", await page.Locator("#routing-decisions tbody tr").First.GetAttributeAsync("data-id"));

        // The filter asks the API again: only denials remain.
        await page.SelectOptionAsync("#routing-decision", "deny");
        await Assertions.Expect(page.Locator("#routing-decisions tr[data-id='ui-allow']")).ToHaveCountAsync(0);
        await Assertions.Expect(deny).ToBeVisibleAsync();

        // This gateway has no routing policies: the page says how to add them.
        await Assertions.Expect(page.Locator("#routing-no-policies")).ToContainTextAsync("routing_policies.file");
        await Assertions.Expect(page.Locator("#banner")).ToBeHiddenAsync();
        await fixture.ScreenshotAsync(page, "routing", output);
        fixture.AssertNoPageErrors(page);
    }

    [Fact]
    public async Task The_loaded_policies_show_with_their_source_and_the_mode()
    {
        using var dir = new AgenticGateway.Tests.Support.TempDirectory("agw-ui-policies-");
        var rules = Path.Combine(dir.Path, "rules.cedar");
        await File.WriteAllTextAsync(rules, """
            // Prefer self-hosted when budget is low
            @priority(100)
            permit (principal, action == "routing:select_model", resource)
            when { context.cost_budget_remaining < 10.0 && resource.provider == "vllm" };

            @id("breaker")
            forbid (principal, action == "routing:select_model", resource)
            when { resource.current_error_rate > 0.05 };
            """);
        await using var gateway = await AgenticGateway.Tests.Support.GatewayServer.StartAsync($"""
            master_key: {AdminUiFixture.Master}
            models:
              - name: smart
                provider: mock
            routing_policies:
              file: {rules}
              mode: shadow
            """);
        var page = await fixture.SignInAsync(gateway);
        await page.GotoAsync(gateway.Url + "/ui#/routing");
        var permit = page.Locator("#routing-policies tr[data-id='policy0']");
        await Assertions.Expect(permit).ToContainTextAsync("permit");
        await Assertions.Expect(permit).ToContainTextAsync("100");
        await Assertions.Expect(permit).ToContainTextAsync(rules + ":2");
        await Assertions.Expect(permit).ToContainTextAsync("resource.provider == \"vllm\"");
        await Assertions.Expect(page.Locator("#routing-policies tr[data-id='breaker']")).ToHaveAttributeAsync("data-effect", "forbid");
        await Assertions.Expect(page.Locator("#routing-policy-status")).ToContainTextAsync("dry run");
        await Assertions.Expect(page.Locator("#routing-policy-status")).ToContainTextAsync(rules);
        await Assertions.Expect(page.Locator("#routing-decisions")).ToContainTextAsync("No routing decisions recorded yet.");
        await Assertions.Expect(page.Locator("#banner")).ToBeHiddenAsync();
        await fixture.ScreenshotAsync(page, "routing-policies", output);
        fixture.AssertNoPageErrors(page);
    }
}
