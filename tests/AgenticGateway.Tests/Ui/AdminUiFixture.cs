using AgenticGateway.Tests.Support;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace AgenticGateway.Tests.Ui;

/// <summary>One gateway and one browser for the class; each test gets a fresh browser context (its own sessionStorage).</summary>
public sealed class AdminUiFixture : IAsyncLifetime
{
    public const string Master = "sk-admin-ui-master-key-for-tests";
    private const string DefaultChromium = "/usr/bin/chromium";
    private IPlaywright? _playwright;
    private IBrowser? _browser;
    private readonly Dictionary<IPage, List<string>> _errors = [];

    internal GatewayServer Gateway { get; private set; } = null!;

    public static string ScreenshotDirectory => Path.Combine(AppContext.BaseDirectory, "TestResults", "ui-screenshots");

    public async Task InitializeAsync()
    {
        // CHROMIUM_PATH may point elsewhere; without a browser these tests fail, they never skip.
        var chromium = Environment.GetEnvironmentVariable("CHROMIUM_PATH") is { Length: > 0 } custom ? custom : DefaultChromium;
        if (!File.Exists(chromium))
            throw new InvalidOperationException($"The admin UI browser tests need Chromium at {chromium} (Debian package 'chromium'; scripts/test.sh installs it, or set CHROMIUM_PATH).");
        // gpt-4o and gpt-4o-mini are priced (built-in prices); local-llama is a model no price table knows, and streams
        // slowly enough (20 tokens/s) for the playground's deltas to be seen arriving; tiny-model costs under a
        // millionth of a dollar a request (where JavaScript's default number format turns to 1e-7).
        Gateway = await GatewayServer.StartAsync($"""
            master_key: {Master}
            models:
              - name: gpt-4o
                provider: mock
              - name: gpt-4o-mini
                provider: mock
                api_key: sk-provider-secret-never-shown
              - name: local-llama
                provider: mock
                model: llama-3-local-q4
                mock:
                  time_to_first_token: 150ms
                  tokens_per_second: 20
              - name: tiny-model
                provider: mock
                input_cost_per_token: 0.00000001
                output_cost_per_token: 0.00000002
            sandboxes:
              pools: {"{}"}
            storage:
              store_model_in_db: true
            """);
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = chromium,
            Headless = true,
            // CI runs as root, where Chromium's own sandbox cannot start; /dev/shm may be small in containers.
            Args = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        });
        Directory.CreateDirectory(ScreenshotDirectory);
    }

    public async Task<IPage> NewPageAsync(int width = 1440)
    {
        var context = await _browser!.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new() { Width = width, Height = 900 }, Locale = "en-US" });
        context.SetDefaultTimeout(15_000);
        var page = await context.NewPageAsync();
        var errors = _errors[page] = [];
        // Script errors and CSP violations show up here; a failed API call the page expects (401 at sign-in) does too, so those are left out.
        page.PageError += (_, e) => errors.Add("page error: " + e);
        page.Console += (_, m) => { if (m.Type == "error" && !m.Text.Contains("status of 40", StringComparison.Ordinal)) errors.Add("console: " + m.Text); };
        return page;
    }

    public Task<IPage> SignInAsync(int width = 1440) => SignInAsync(Gateway, width);

    /// <summary>Signs in to another gateway with the same master key (a test's own config).</summary>
    internal async Task<IPage> SignInAsync(GatewayServer gateway, int width = 1440)
    {
        var page = await NewPageAsync(width);
        await page.GotoAsync(gateway.Url + "/ui");
        await page.FillAsync("#master-key", Master);
        await page.ClickAsync("#sign-in");
        await Assertions.Expect(page.Locator("#app")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("#stat-requests")).ToBeVisibleAsync();
        return page;
    }

    public void AssertNoPageErrors(IPage page) => Assert.True(_errors[page].Count == 0, string.Join("\n", _errors[page]));

    /// <summary>The page at the two widths its tables must fit (1280 and 1440 px), full length; the paths are printed.</summary>
    public async Task ScreenshotAsync(IPage page, string name, ITestOutputHelper output)
    {
        foreach (var width in Widths)
        {
            await page.SetViewportSizeAsync(width, 900);
            // Every page fits the window's width: wide content wraps or scrolls inside its own box, never the page.
            var overflow = await page.EvaluateAsync<int>("document.documentElement.scrollWidth - window.innerWidth");
            Assert.True(overflow <= 0, $"{name} is {overflow} px wider than a {width} px window");
            var path = Path.Combine(ScreenshotDirectory, $"{name}-{width}.png");
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
            output.WriteLine($"screenshot: {path}");
        }
    }

    /// <summary>The widths the admin UI is laid out for: a 1280 px laptop and a 1440 px desktop.</summary>
    public static readonly int[] Widths = [1280, 1440];

    /// <summary>With AGW_UPDATE_DOCS_SCREENSHOTS=1, the overview goes to docs/images/ui-overview.png for the README.</summary>
    public async Task SaveDocsScreenshotAsync(IPage page, ITestOutputHelper output)
    {
        if (Environment.GetEnvironmentVariable("AGW_UPDATE_DOCS_SCREENSHOTS") != "1") return;
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "AgenticGateway.slnx"))) root = root.Parent;
        Assert.NotNull(root);
        await page.GotoAsync(Gateway.Url + "/ui#/overview");
        await Assertions.Expect(page.Locator("#chart-requests")).ToBeVisibleAsync();
        var path = Path.Combine(root.FullName, "docs", "images", "ui-overview.png");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = false });
        output.WriteLine($"docs screenshot: {path}");
    }

    public async Task DisposeAsync()
    {
        if (_browser is not null) await _browser.DisposeAsync();
        _playwright?.Dispose();
        if (Gateway is not null) await Gateway.DisposeAsync();
    }
}
