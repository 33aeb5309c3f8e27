using AgenticGateway.Configuration;

namespace AgenticGateway.Tests.Configuration;

/// <summary>Which changes a reload cannot apply (<see cref="StartupOnlySettings"/>): found by value, named as in the file.</summary>
[Trait("Category", "unit")]
public class StartupOnlySettingsTests
{
    private static GatewayOptions Load(string yaml)
    {
        var result = ConfigLoader.Load(yaml, "test.yaml", new Dictionary<string, string>());
        Assert.True(result.Options is not null, string.Join("; ", result.Errors));
        return result.Options!;
    }

    private const string Base = """
        server: {urls: "http://127.0.0.1:8080"}
        logging: {level: warning}
        storage: {data_dir: /tmp/agw-a}
        sandboxes:
          drivers: [bubblewrap, qemu]
          pools:
            python: {min_ready: 2, max_total: 50}
          egress: {allow_hosts: [pypi.org]}
        models:
          - {name: a, provider: mock}
        """;

    [Fact]
    public void The_same_file_loaded_twice_changes_nothing()
    {
        // Two loads build distinct immutable arrays and dictionaries: a reference comparison would see every one as changed.
        Assert.Empty(StartupOnlySettings.Changed(Load(Base), Load(Base)));
    }

    [Fact]
    public void Reloadable_changes_are_not_reported()
    {
        var next = Base.Replace("{name: a, provider: mock}", "{name: b, provider: mock}");
        Assert.Empty(StartupOnlySettings.Changed(Load(Base), Load(next)));
    }

    [Theory]
    [InlineData("http://127.0.0.1:8080", "http://127.0.0.1:9000", "server.urls")]
    [InlineData("level: warning", "level: debug", "logging")]
    [InlineData("/tmp/agw-a", "/tmp/agw-b", "storage")]
    [InlineData("max_total: 50", "max_total: 51", "sandboxes")]
    [InlineData("[pypi.org]", "[pypi.org, files.pythonhosted.org]", "sandboxes")]
    [InlineData("[bubblewrap, qemu]", "[bubblewrap]", "sandboxes")]
    public void A_start_up_only_change_is_named(string from, string to, string setting)
    {
        Assert.Equal([setting], StartupOnlySettings.Changed(Load(Base), Load(Base.Replace(from, to))));
    }

    [Fact]
    public void What_a_reload_applies_keeps_the_running_start_up_only_settings()
    {
        var running = Load(Base);
        var next = Load(Base.Replace("level: warning", "level: debug").Replace("max_total: 50", "max_total: 7").Replace("{name: a,", "{name: b,"));
        var applied = StartupOnlySettings.Keep(next, running);
        Assert.Equal("b", applied.Deployments[0].ModelName);
        Assert.Same(running.Logging, applied.Logging);
        Assert.Same(running.Sandboxes, applied.Sandboxes);
        Assert.Equal(running.Server.Urls, applied.Server.Urls);
        Assert.Empty(StartupOnlySettings.Changed(running, applied));
    }
}
