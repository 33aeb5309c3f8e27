using System.Net;
using AgenticGateway.Configuration;
using AgenticGateway.Runtime;
using AgenticGateway.Tests.Support;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using AgenticGateway.Hosting;

namespace AgenticGateway.Tests.Configuration;

[Trait("Category", "functional")]
public class HotReloadTests
{
    /// <summary>The gateway's clock: the reload debounce passes when the test moves it.</summary>
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);

    /// <summary>
    /// Waits for the file watcher's event (the kernel's, asynchronous) by moving the clock past the debounce until the
    /// reload it schedules has happened.
    /// </summary>
    private async Task<bool> Eventually(Func<Task<bool>> condition, int timeoutMs = 5000)
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        while (DateTime.UtcNow < deadline)
        {
            _clock.Advance(TimeSpan.FromMilliseconds(250));
            if (await condition()) return true;
            await Task.Delay(50);
        }
        return false;
    }

    [Fact]
    public async Task A_kubernetes_configmap_update_by_symlink_swap_is_picked_up()
    {
        // The kubelet's layout: config.yaml -> ..data/config.yaml, ..data -> ..<timestamp>/; an update writes a new
        // timestamped directory and renames a new ..data link over the old one.
        await using var upstream = await EmulatorServer.StartAsync();
        var dir = Directory.CreateTempSubdirectory("agw-configmap-").FullName;
        string Config(string name) => $"models:\n  - {{name: {name}, provider: openai_compatible, api_base: \"{upstream.ApiBase}\"}}\n";
        Directory.CreateDirectory(Path.Combine(dir, "..v1"));
        await File.WriteAllTextAsync(Path.Combine(dir, "..v1", "config.yaml"), Config("before"));
        File.CreateSymbolicLink(Path.Combine(dir, "..data"), "..v1");
        File.CreateSymbolicLink(Path.Combine(dir, "config.yaml"), "..data/config.yaml");
        var path = Path.Combine(dir, "config.yaml");
        await using var gw = await GatewayServer.StartAsync(Config("before"), path, time: _clock);

        Directory.CreateDirectory(Path.Combine(dir, "..v2"));
        await File.WriteAllTextAsync(Path.Combine(dir, "..v2", "config.yaml"), Config("after"));
        File.CreateSymbolicLink(Path.Combine(dir, "..data_tmp"), "..v2");
        // rename(2) over the old link, as the kubelet does (File.Move will not move a link to a directory).
        using (var mv = System.Diagnostics.Process.Start("mv", ["-T", Path.Combine(dir, "..data_tmp"), Path.Combine(dir, "..data")])) await mv.WaitForExitAsync();

        Assert.True(await Eventually(async () => (await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("after"))).StatusCode == HttpStatusCode.OK));
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public async Task A_valid_change_is_swapped_in_an_invalid_one_is_ignored_and_requests_in_flight_finish()
    {
        await using var slow = await EmulatorServer.StartAsync(new AgenticGateway.Emulator.MockSettings(TimeSpan.Zero, TimeSpan.Zero, 20, null));
        var dir = Directory.CreateTempSubdirectory("agw-reload-");
        var path = Path.Combine(dir.FullName, "gateway.yaml");
        string Config(string name) => $"""
            models:
              - name: {name}
                provider: openai_compatible
                api_base: {slow.ApiBase}
            """;
        await File.WriteAllTextAsync(path, Config("before"));
        await using var gw = await GatewayServer.StartAsync(Config("before"), path, time: _clock);

        // A stream in flight on the old configuration (20 tokens/s: it lasts about a second).
        var inFlight = gw.PostJsonAsync("/v1/chat/completions", Chat.Request("before", stream: true));
        await slow.Engine.WhenArrivedAsync(1).WaitAsync(TimeSpan.FromSeconds(30));

        await File.WriteAllTextAsync(path, Config("after"));
        Assert.True(await Eventually(async () => (await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("after"))).StatusCode == HttpStatusCode.OK));
        Assert.Equal(HttpStatusCode.NotFound, (await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("before"))).StatusCode);

        using (var response = await inFlight)
        {
            var events = await Sse.ReadEventsAsync(response);
            Assert.Equal("[DONE]", events[^1]);
        }

        // An invalid file is rejected; the running configuration stays.
        await File.WriteAllTextAsync(path, "models:\n  - name: broken\n    provider: opneai\n");
        var watcher = gw.Services.GetRequiredService<ConfigWatcher>();
        Assert.False(watcher.Reload());
        _clock.Advance(TimeSpan.FromMilliseconds(400));
        Assert.Equal(HttpStatusCode.OK, (await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("after"))).StatusCode);
        Assert.Equal("after", gw.Services.GetRequiredService<RuntimeHolder>().Current.Options.Deployments[0].ModelName);
        dir.Delete(recursive: true);
    }

    [Fact]
    public async Task A_change_to_a_start_up_only_setting_is_reported_and_the_rest_of_it_applied()
    {
        var dir = Directory.CreateTempSubdirectory("agw-reload-");
        var path = Path.Combine(dir.FullName, "gateway.yaml");
        string Config(string level, string name) => $$"""
            logging: {level: {{level}}}
            tracing: {service_name: agw-before}
            models:
              - {name: {{name}}, provider: mock}
            """;
        await File.WriteAllTextAsync(path, Config("warning", "before"));
        var logs = new CapturingLoggerProvider();
        await using var gw = await GatewayServer.StartAsync(Config("warning", "before"), path, time: _clock, services: s => s.AddSingleton<ILoggerProvider>(logs));
        var watcher = gw.Services.GetRequiredService<ConfigWatcher>();
        var runtimes = gw.Services.GetRequiredService<RuntimeHolder>();

        // Only reloadable settings changed: applied, nothing to report.
        await File.WriteAllTextAsync(path, Config("warning", "middle"));
        Assert.True(watcher.Reload());
        Assert.DoesNotContain(logs.Messages, m => m.Contains("needs a restart", StringComparison.Ordinal));

        // The log level and the tracing service name are read at start: reported by name, kept, and the new model still applied.
        await File.WriteAllTextAsync(path, Config("debug", "after").Replace("agw-before", "agw-after"));
        Assert.True(watcher.Reload());
        var report = Assert.Single(logs.Messages, m => m.Contains("needs a restart", StringComparison.Ordinal));
        Assert.Contains("to logging, tracing needs a restart", report);
        Assert.Equal(LogLevel.Warning, runtimes.Current.Options.Logging.Level);
        Assert.Equal("agw-before", runtimes.Current.Options.Tracing.ServiceName);
        Assert.Equal(HttpStatusCode.OK, (await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("after"))).StatusCode);
        dir.Delete(recursive: true);
    }

    /// <summary>Keeps every message logged, from any category.</summary>
    private sealed class CapturingLoggerProvider : ILoggerProvider
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _messages = new();
        public IReadOnlyCollection<string> Messages => _messages;
        public ILogger CreateLogger(string categoryName) => new Logger(_messages);
        public void Dispose() { }

        private sealed class Logger(System.Collections.Concurrent.ConcurrentQueue<string> messages) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
            public bool IsEnabled(LogLevel logLevel) => true;
            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) => messages.Enqueue(formatter(state, exception));
        }
    }

    [Fact]
    public async Task Deployment_health_survives_a_reload_when_the_deployment_is_unchanged()
    {
        await using var upstream = await EmulatorServer.StartAsync();
        var dir = Directory.CreateTempSubdirectory("agw-reload-");
        var path = Path.Combine(dir.FullName, "gateway.yaml");
        var config = $"""
            models:
              - name: m
                provider: openai_compatible
                api_base: {upstream.ApiBase}
            router:
              num_retries: 0
              allowed_fails: 1
              cooldown_time: 60s
            """;
        await File.WriteAllTextAsync(path, config);
        await using var gw = await GatewayServer.StartAsync(config, path, time: _clock);
        upstream.Fail("status=500", count: 2);
        for (var i = 0; i < 2; i++) (await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("m"))).Dispose();

        await File.WriteAllTextAsync(path, config.Replace("num_retries: 0", "num_retries: 1", StringComparison.Ordinal));
        var holder = gw.Services.GetRequiredService<RuntimeHolder>();
        Assert.True(await Eventually(() => Task.FromResult(holder.Current.Router.NumRetries == 1)));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await gw.PostJsonAsync("/v1/chat/completions", Chat.Request("m"))).StatusCode);
        dir.Delete(recursive: true);
    }
}
