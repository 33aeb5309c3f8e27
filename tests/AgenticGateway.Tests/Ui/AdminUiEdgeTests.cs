using AgenticGateway.Tests.Edge.Ops;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace AgenticGateway.Tests.Ui;

/// <summary>
/// The edge page in a real browser: the routers, services and middlewares Traefik's API lists, each with its status
/// and errors, each server's health (a server that refuses connections shows DOWN), and a clear note on a gateway
/// without the edge.
/// </summary>
[Trait("Category", "browser")]
public sealed class AdminUiEdgeTests(AdminUiFixture fixture, ITestOutputHelper output) : IClassFixture<AdminUiFixture>
{
    // Rules, names and errors come from configuration: a name with markup must show as text.
    private const string Dynamic = """
        http:
          routers:
            whoami:
              rule: "Host(`emu.test`)"
              service: emu
            broken:
              rule: "Path(`/<b id=injected>x</b>`)"
              service: nothing
          services:
            emu:
              loadBalancer:
                servers:
                  - url: "{upstream}"
            down:
              loadBalancer:
                servers:
                  - url: "http://127.0.0.1:1"
                healthCheck:
                  path: /health
                  interval: 1s
                  timeout: 500ms
        """;

    [Fact]
    public async Task Routers_services_and_middlewares_show_with_status_errors_and_server_health()
    {
        await using var server = await EdgeOpsServer.StartAsync(Dynamic);
        var page = await fixture.NewPageAsync();
        await page.GotoAsync(server.Url + "/ui");
        await page.FillAsync("#master-key", EdgeOpsServer.MasterKey);
        await page.ClickAsync("#sign-in");
        await Assertions.Expect(page.Locator("#app")).ToBeVisibleAsync();
        await page.GotoAsync(server.Url + "/ui#/edge");

        var whoami = page.Locator("#edge-routers tr[data-name='whoami@file']");
        await Assertions.Expect(whoami).ToContainTextAsync("enabled");
        await Assertions.Expect(whoami).ToContainTextAsync("Host(`emu.test`)");
        await Assertions.Expect(whoami).ToContainTextAsync("gateway");
        var broken = page.Locator("#edge-routers tr[data-name='broken@file']");
        await Assertions.Expect(broken).ToContainTextAsync("disabled");
        await Assertions.Expect(broken).ToContainTextAsync("the service \"nothing@file\" does not exist");
        await Assertions.Expect(broken).ToContainTextAsync("<b id=injected>x</b>");
        Assert.Equal(0, await page.Locator("#injected").CountAsync());
        await Assertions.Expect(page.Locator("#edge-routers tr[data-name='gateway@internal']")).ToContainTextAsync("enabled");

        var emu = page.Locator("#edge-services tr[data-name='emu@file']");
        await Assertions.Expect(emu.Locator($"li[data-url='{server.Upstream.Url}']")).ToContainTextAsync("UP");
        await Assertions.Expect(emu).ToContainTextAsync("whoami@file");
        // The health check takes the refusing server out of rotation; the page follows within its refresh.
        await Assertions.Expect(page.Locator("#edge-services tr[data-name='down@file'] li[data-url='http://127.0.0.1:1']")).ToContainTextAsync("DOWN", new() { Timeout = 20_000 });
        await Assertions.Expect(page.Locator("#edge-overview dd[data-kind='routers']")).ToContainTextAsync("1 errors");
        await Assertions.Expect(page.Locator("#banner")).ToBeHiddenAsync();
        await fixture.ScreenshotAsync(page, "edge", output);
        fixture.AssertNoPageErrors(page);
    }

    [Fact]
    public async Task A_gateway_without_the_edge_says_so()
    {
        var page = await fixture.SignInAsync();
        await page.GotoAsync(fixture.Gateway.Url + "/ui#/edge");
        await Assertions.Expect(page.Locator("#page .unavailable")).ToContainTextAsync("The edge is not configured on this gateway.");
        await Assertions.Expect(page.Locator("#banner")).ToBeHiddenAsync();
        fixture.AssertNoPageErrors(page);
    }
}
