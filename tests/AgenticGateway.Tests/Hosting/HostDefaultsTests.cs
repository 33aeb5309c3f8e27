using AgenticGateway.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace AgenticGateway.Tests.Hosting;

/// <summary>What the host itself does per request and in the background, beyond the gateway's own work (issue 16).</summary>
[Trait("Category", "functional")]
public class HostDefaultsTests
{
    private const string Config = "models:\n  - {name: m, provider: mock}\n";

    [Fact]
    public async Task No_configuration_file_is_watched_so_writes_under_the_working_directory_wake_nothing()
    {
        // appsettings.json's reload watched the working directory recursively, where the data directory usually is:
        // every spend-log write woke a FileSystemWatcher.
        await using var gw = await GatewayServer.StartAsync(Config);
        var root = (IConfigurationRoot)gw.Services.GetRequiredService<IConfiguration>();
        var watched = root.Providers.OfType<FileConfigurationProvider>().Where(p => p.Source.ReloadOnChange).Select(p => p.Source.Path).ToList();
        Assert.Empty(watched);
    }

    [Fact]
    public async Task AspNet_cores_hosting_diagnostics_logger_is_off_so_it_makes_no_activity_or_scope_per_request()
    {
        // ASP.NET Core makes an Activity and a logging scope per request while this logger is enabled at any level
        // (HostingApplicationDiagnostics checks Critical), and HttpClient then a child Activity per upstream call.
        // With tracing configured, OpenTelemetry's listener still makes the spans (TracingTests).
        await using var gw = await GatewayServer.StartAsync(Config);
        var logger = gw.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Microsoft.AspNetCore.Hosting.Diagnostics");
        Assert.False(logger.IsEnabled(LogLevel.Critical));
    }
}
