using System.Text.Json;
using AgenticGateway.Tests.Sandboxes;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.E2b;

/// <summary>
/// A sandbox gateway (real bubblewrap) driven by the official E2B SDKs in E2b/node: each script runs with node,
/// <c>E2B_API_URL</c> and <c>E2B_SANDBOX_URL</c> at the gateway's <c>/e2b</c> and <c>E2B_API_KEY</c> a gateway key.
/// </summary>
public sealed class E2bFixture : IAsyncLifetime
{
    internal SandboxGateway Gateway { get; private set; } = null!;

    /// <summary>The host name on which the E2B API answers without the /e2b prefix (<c>sandboxes.e2b.host</c>).</summary>
    public const string Host = "e2b.test";

    public string ApiUrl => E2bSdk.ApiUrl(Gateway);

    public async Task InitializeAsync()
    {
        Gateway = await SandboxGateway.StartAsync($"pools: {{python: {{min_ready: 1, max_total: 30}}}}, e2b: {{host: {Host}}}");
        await NodeProject.E2b.EnsureInstalledAsync();
    }

    public async Task DisposeAsync() => await Gateway.DisposeAsync();

    /// <summary>A new virtual key: another owner.</summary>
    public Task<string> NewKeyAsync() => Gateway.NewKeyAsync();

    /// <summary>
    /// Runs an SDK script of E2b/node to its end with the SDK pointed at this gateway (the master key unless
    /// <paramref name="key"/> is given) and <paramref name="environment"/> added; the run, whatever its exit code.
    /// </summary>
    internal Task<NodeRun> RunSdkScriptAsync(string script, IReadOnlyDictionary<string, string>? environment = null, string? key = null) =>
        E2bSdk.RunScriptAsync(Gateway, script, environment, key);

    /// <summary><see cref="RunSdkScriptAsync"/> that must succeed: its JSON answer.</summary>
    public Task<JsonElement> RunSdkJsonAsync(string script, IReadOnlyDictionary<string, string>? environment = null, string? key = null) =>
        E2bSdk.RunJsonAsync(Gateway, script, environment, key);
}

/// <summary>The E2B SDK scripts of E2b/node run against any sandbox gateway (bubblewrap's above, QEMU's in E2bQemuTests).</summary>
internal static class E2bSdk
{
    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromMinutes(5);

    public static string ApiUrl(SandboxGateway gateway) => gateway.Server.Url.TrimEnd('/') + "/e2b";

    public static Task<NodeRun> RunScriptAsync(SandboxGateway gateway, string script, IReadOnlyDictionary<string, string>? environment = null, string? key = null)
    {
        var env = new Dictionary<string, string>
        {
            ["E2B_API_URL"] = ApiUrl(gateway),
            ["E2B_SANDBOX_URL"] = ApiUrl(gateway),
            ["E2B_API_KEY"] = key ?? SandboxGateway.Master,
            // Neither the machine's E2B settings nor its proxy may send the SDK elsewhere.
            ["E2B_DOMAIN"] = "e2b.invalid",
            ["E2B_DEBUG"] = "false",
            ["NO_PROXY"] = "127.0.0.1,localhost",
        };
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) env[k] = v;
        return NodeProject.E2b.RunAsync(script, [], ScriptTimeout, env);
    }

    public static async Task<JsonElement> RunJsonAsync(SandboxGateway gateway, string script, IReadOnlyDictionary<string, string>? environment = null, string? key = null)
    {
        var run = await RunScriptAsync(gateway, script, environment, key);
        if (run.ExitCode != 0) Assert.Fail($"{script} failed:\n{run}");
        return run.Json;
    }
}
