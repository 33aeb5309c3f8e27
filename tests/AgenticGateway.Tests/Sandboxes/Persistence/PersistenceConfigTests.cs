using AgenticGateway.Configuration;

namespace AgenticGateway.Tests.Sandboxes.Persistence;

/// <summary>The <c>sandboxes.persistence</c> section: its defaults, its keys, and every error at once.</summary>
[Trait("Category", "unit")]
public class PersistenceConfigTests
{
    private static ConfigLoadResult Load(string persistence) =>
        ConfigLoader.Load($"master_key: {SandboxGateway.Master}\nmodels:\n  - {{name: m, provider: mock}}\nsandboxes: {{persistence: {persistence}}}\n", "test.yaml", new Dictionary<string, string>());

    [Fact]
    public void Caps_and_ttl_are_read_and_defaults_kept_for_the_rest()
    {
        var result = Load("{max_paused: 3, max_disk_mb: 100, ttl: 2h}");
        Assert.True(result.Options is not null, string.Join("; ", result.Errors));
        var p = result.Options!.Sandboxes.Persistence;
        Assert.Equal((3, 10, 100L, TimeSpan.FromHours(2), true), (p.MaxPaused, p.MaxSnapshots, p.MaxDiskMb, p.Ttl, p.Enabled));
        Assert.Null(Load("{}").Options!.Sandboxes.Persistence.Ttl);
    }

    [Fact]
    public void Bad_values_and_unknown_keys_are_all_reported()
    {
        var result = Load("{max_paused: -1, max_disk_mb: 0, ttl: soon, max_pause: 2}");
        Assert.Null(result.Options);
        var errors = string.Join("\n", result.Errors);
        Assert.Contains("max_paused", errors);
        Assert.Contains("max_disk_mb", errors);
        Assert.Contains("ttl", errors);
        Assert.Contains("max_pause", errors);
    }
}
