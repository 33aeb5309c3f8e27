using System.Diagnostics;
using System.Net;
using System.Text;
using AgenticGateway.Configuration;
using AgenticGateway.Hosting;
using AgenticGateway.Runtime;
using AgenticGateway.Tests.Support;
using static AgenticGateway.Tests.Deploy.DeployFiles;

namespace AgenticGateway.Tests.Hosting;

/// <summary>
/// An unauthenticated gateway (no master key, no JWT auth) listens on loopback only: asking for a network address
/// without --insecure stops it with a message saying what to do, and a reload cannot take authentication away from a
/// gateway that listens on the network.
/// </summary>
[Trait("Category", "functional")]
public class ListenPolicyTests
{
    internal const string OpenConfig = """
        models:
          - {name: gpt-4o, provider: mock}
        sandboxes: {enabled: false}
        """;

    [Theory]
    [InlineData("http://localhost:8080", true)]
    [InlineData("http://127.0.0.1:0", true)]
    [InlineData("http://127.0.0.9:80", true)]
    [InlineData("http://[::1]:8080", true)]
    [InlineData("https://LOCALHOST:443;http://[::1]:80", true)]
    [InlineData("http://unix:/run/agw.sock", true)]
    [InlineData("http://0.0.0.0:8080", false)]
    [InlineData("http://[::]:8080", false)]
    [InlineData("http://*:8080", false)]
    [InlineData("http://+:8080", false)]
    [InlineData("http://10.1.2.3:8080", false)]
    [InlineData("http://gateway.internal:8080", false)]
    [InlineData("http://localhost.example.com:8080", false)]
    [InlineData("http://127.0.0.1:8080;http://0.0.0.0:8081", false)]
    public void Loopback_means_every_listed_address_is_loopback(string urls, bool loopback) =>
        Assert.Equal(loopback, ListenPolicy.IsLoopbackOnly(urls));

    [Fact]
    public async Task Building_the_host_refuses_an_open_network_listener_and_a_reload_cannot_drop_the_master_key()
    {
        var open = ConfigLoader.Load(OpenConfig, "test.yaml").Options!;
        var refused = Assert.Throws<InvalidOperationException>(() => GatewayApp.Build(new GatewayStartOptions(open, null, "http://0.0.0.0:0", [])));
        Assert.Contains("--insecure", refused.Message, StringComparison.Ordinal);

        var dir = Directory.CreateTempSubdirectory("agw-listen-");
        var path = Path.Combine(dir.FullName, "gateway.yaml");
        var keyed = "master_key: sk-listen-test\n" + OpenConfig;
        await File.WriteAllTextAsync(path, keyed);
        var options = ConfigLoader.LoadFile(path).Options! with { Storage = new StorageOptions { DataDirectory = Path.Combine(dir.FullName, "data"), DatabaseUrl = default, RedisUrl = default } };
        await using var app = GatewayApp.Build(new GatewayStartOptions(options, path, "http://0.0.0.0:0", []));
        await app.StartAsync();
        try
        {
            await File.WriteAllTextAsync(path, OpenConfig.Replace("gpt-4o", "gpt-4o-mini"));
            Assert.False(app.Services.GetRequiredService<ConfigWatcher>().Reload());
            Assert.True(app.Services.GetRequiredService<RuntimeHolder>().Current.Options.MasterKey.IsSet);
            using var client = new HttpClient { BaseAddress = new Uri(GatewayApp.BoundAddresses(app)[0].Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal)) };
            using var anonymous = await client.PostAsync("/v1/chat/completions", new StringContent(Chat.Request("gpt-4o"), Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }
        finally
        {
            await app.StopAsync();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void A_refused_port_option_is_answered_with_the_host_option_that_keeps_it_on_loopback()
    {
        // LiteLLM's --host defaults to 0.0.0.0 as ours does: whoever gave --port is told --host 127.0.0.1, in their own options.
        var fromPort = ListenPolicy.Check("http://0.0.0.0:18080", authRequired: false, insecure: false, fromPortOption: true);
        Assert.Contains("listen on loopback only (--host 127.0.0.1 --port 18080, or --urls http://127.0.0.1:18080)", fromPort, StringComparison.Ordinal);
        var fromUrls = ListenPolicy.Check("http://0.0.0.0:18080", authRequired: false, insecure: false);
        Assert.Contains("listen on loopback only (--urls http://127.0.0.1:18080)", fromUrls, StringComparison.Ordinal);
    }
}

/// <summary>
/// The same policy as an operator meets it: the built gateway run as a process, its exit code and what it logs.
/// </summary>
[Trait("Category", "deploy")]
public class ListenPolicyProcessTests
{
    private const string OpenConfig = ListenPolicyTests.OpenConfig;

    [Fact]
    public async Task Without_a_master_key_a_network_address_is_refused_with_what_to_do()
    {
        var (exited, code, output) = await RunGatewayAsync(OpenConfig, ["--urls", "http://0.0.0.0:0"], until: "listening on");
        Assert.True(exited, "the gateway started on 0.0.0.0 without a master key:\n" + output);
        Assert.Equal(1, code);
        Assert.Contains("Refusing to listen on http://0.0.0.0:0 without authentication", output, StringComparison.Ordinal);
        Assert.Contains("--insecure", output, StringComparison.Ordinal);
        Assert.Contains("master_key", output, StringComparison.Ordinal);

        // --port means every interface too, and so does AGW_URLS.
        (exited, code, output) = await RunGatewayAsync(OpenConfig, ["--port", "0"], until: "listening on");
        Assert.True(exited && code == 1, output);
        Assert.Contains("--host 127.0.0.1 --port ", output, StringComparison.Ordinal);
        (exited, code, output) = await RunGatewayAsync(OpenConfig, [], until: "listening on", env: new() { ["AGW_URLS"] = "http://[::]:0" });
        Assert.True(exited && code == 1, output);
        (exited, code, output) = await RunGatewayAsync(OpenConfig.Replace("models:", "server: {port: 0}\nmodels:"), [], until: "listening on");
        Assert.True(exited && code == 1, output);
    }

    [Fact]
    public async Task Insecure_opts_in_to_an_open_network_listener_and_says_so()
    {
        var (exited, _, output) = await RunGatewayAsync(OpenConfig, ["--urls", "http://0.0.0.0:0", "--insecure"], until: "listening on");
        Assert.False(exited, "the gateway did not start with --insecure:\n" + output);
        Assert.Contains("--insecure: no master key and no JWT auth, listening on http://0.0.0.0:0", output, StringComparison.Ordinal);

        (exited, _, output) = await RunGatewayAsync(OpenConfig, ["--urls", "http://0.0.0.0:0"], until: "listening on", env: new() { ["AGW_INSECURE"] = "1" });
        Assert.False(exited, "AGW_INSECURE=1 did not let the gateway start:\n" + output);
    }

    [Fact]
    public async Task Without_a_master_key_the_default_is_loopback_and_the_log_says_so()
    {
        // The default address is the same port on loopback; here an explicit loopback address stands for it (8080 may be taken).
        var (exited, _, output) = await RunGatewayAsync(OpenConfig, ["--urls", "http://127.0.0.1:0"], until: "listening on");
        Assert.False(exited, output);
        Assert.Contains("the gateway listens on loopback only (http://127.0.0.1:0)", output, StringComparison.Ordinal);

        var embedded = EmbeddedDefaults.Load().Options!;
        Assert.Equal((ListenPolicy.LoopbackDefault, (string?)null), ListenPolicy.Resolve(embedded.Server.Urls, embedded, insecure: false));
        var keyed = embedded with { MasterKey = new Secret("sk-some-master-key") };
        Assert.Equal((ListenPolicy.NetworkDefault, (string?)null), ListenPolicy.Resolve(keyed.Server.Urls, keyed, insecure: false));
    }

    [Fact]
    public async Task A_master_key_or_jwt_auth_allows_a_network_address()
    {
        var (exited, _, output) = await RunGatewayAsync("master_key: sk-listen-test\n" + OpenConfig, ["--urls", "http://0.0.0.0:0"], until: "listening on");
        Assert.False(exited, output);
        Assert.DoesNotContain("loopback only", output, StringComparison.Ordinal);
        var jwt = "jwt: {secret: a-shared-hs256-secret-of-at-least-32-chars}\n" + OpenConfig;
        (exited, _, output) = await RunGatewayAsync(jwt, ["--urls", "http://0.0.0.0:0"], until: "listening on");
        Assert.False(exited, output);
    }

    /// <summary>
    /// Runs the built gateway with a config file until <paramref name="until"/> appears in its output (then stops it) or
    /// it exits: whether it exited, its exit code, and what it wrote.
    /// </summary>
    private static async Task<(bool Exited, int Code, string Output)> RunGatewayAsync(string yaml, string[] args, string until, Dictionary<string, string?>? env = null)
    {
        var run = await GatewayProcess.RunAsync("agw-listen-", args, env, until, prepare: async dir =>
        {
            var config = Path.Combine(dir.FullName, "gateway.yaml");
            await File.WriteAllTextAsync(config, yaml);
            return ["--config", config];
        });
        return (run.Exited, run.Code, run.Output);
    }
}
