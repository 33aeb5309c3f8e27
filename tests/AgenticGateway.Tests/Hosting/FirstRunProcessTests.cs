using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using AgenticGateway.Configuration;
using AgenticGateway.Hosting;
using AgenticGateway.Tests.Support;
using static AgenticGateway.Tests.Deploy.DeployFiles;

namespace AgenticGateway.Tests.Hosting;

/// <summary>
/// A newcomer's first run, as a process: no config file, the master key and the models from the environment, and a
/// start that cannot work (a port in use, an unwritable data directory, a bad address or a LiteLLM-only option) ends
/// with one line and an exit code, before the sandbox pool starts, never with a stack trace.
/// </summary>
[Trait("Category", "deploy")]
public partial class FirstRunProcessTests
{
    [Fact]
    public async Task A_port_in_use_is_one_line_and_exit_1_before_the_sandbox_pool_starts()
    {
        using var taken = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        // The embedded defaults: sandboxes on, with a warm pool.
        var run = await RunAsync(["--urls", $"http://127.0.0.1:{port}"]);
        Assert.True(run.Exited, run.Output);
        Assert.Equal(1, run.Code);
        Assert.Equal($"Cannot start: http://127.0.0.1:{port} is already in use (port {port}). Stop what is listening there, or choose another port with --port or --urls.",
            Assert.Single(Lines(run.Output)));

        var withHost = await RunAsync(["--host", "127.0.0.1", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        Assert.Equal(1, withHost.Code);
        Assert.StartsWith("Cannot start:", Assert.Single(Lines(withHost.Output)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unwritable_data_directory_is_one_line_and_exit_1()
    {
        var file = Path.GetTempFileName();
        try
        {
            // Even root cannot make a directory under a regular file.
            var run = await RunAsync(["--urls", "http://127.0.0.1:0"], new() { ["AGW_DATA_DIR"] = Path.Combine(file, "data") });
            Assert.True(run.Exited, run.Output);
            Assert.Equal(1, run.Code);
            var line = Assert.Single(Lines(run.Output));
            Assert.StartsWith($"Cannot start: the data directory {Path.Combine(file, "data")} cannot be created or written", line, StringComparison.Ordinal);
            Assert.Contains("AGW_DATA_DIR", line, StringComparison.Ordinal);
        }
        finally { File.Delete(file); }
    }

    [Theory]
    [InlineData("http://127.0.0.1:x")]     // Kestrel would bind [::]:80: every interface
    [InlineData("foo")]
    [InlineData("http://127.0.0.1:70000")]
    [InlineData("ftp://127.0.0.1:8080")]
    public async Task A_bad_listen_address_is_one_line_and_exit_1(string urls)
    {
        var run = await RunAsync(["--urls", urls, "--insecure"]);
        Assert.True(run.Exited, run.Output);
        Assert.Equal(1, run.Code);
        Assert.StartsWith($"Cannot start: '{urls}'", Assert.Single(Lines(run.Output)), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--num_workers", "4", "no workers to set")]
    [InlineData("--run_gunicorn", null, "no workers to set")]
    [InlineData("--log_config", "log.conf", "logging.format")]
    [InlineData("--validate_config", null, "agw check-config")]
    [InlineData("--max_budget", "10", "litellm_settings.max_budget")]
    [InlineData("--request_timeout", "30", "litellm_settings.request_timeout")]
    public async Task A_litellm_only_option_says_what_to_use_instead(string option, string? value, string hint)
    {
        var run = await RunAsync(value is null ? [option] : [option, value]);
        Assert.Equal(2, run.Code);
        var line = Assert.Single(Lines(run.Output));
        Assert.StartsWith($"{option} is an option of LiteLLM's litellm command that agw does not take:", line, StringComparison.Ordinal);
        Assert.Contains(hint, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Litellms_debug_flags_are_taken_as_the_debug_log_level()
    {
        var run = await RunAsync(["--detailed_debug", "--urls", "http://127.0.0.1:0"]);
        Assert.False(run.Exited, run.Output);
        Assert.Contains(" dbug: ", run.Output, StringComparison.Ordinal);
        var plain = await RunAsync(["--urls", "http://127.0.0.1:0"]);
        Assert.DoesNotContain(" dbug: ", plain.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Model_and_litellm_master_key_serve_a_provider_from_the_environment_without_a_config_file()
    {
        await using var emulator = await EmulatorServer.StartAsync(apiKey: "sk-upstream");
        var run = await RunAsync(["--model", "openai/gpt-4o", "-m", "openai/gpt-4o-mini", "--host", "127.0.0.1", "--port", "0"], new()
        {
            ["OPENAI_BASE_URL"] = emulator.ApiBase,
            ["OPENAI_API_KEY"] = "sk-upstream",
            ["LITELLM_MASTER_KEY"] = "sk-first-run-master",
        }, until: "listening on", whileRunning: async output =>
        {
            var url = ListeningOn().Match(output).Groups[1].Value;
            using var client = new HttpClient { BaseAddress = new Uri(url) };
            using var anonymous = await client.PostAsync("/v1/chat/completions", new StringContent(Chat.Request("gpt-4o"), Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "sk-first-run-master");
            foreach (var model in new[] { "gpt-4o", "openai/gpt-4o", "gpt-4o-mini" })
            {
                using var answer = await client.PostAsync("/v1/chat/completions", new StringContent(Chat.Request(model), Encoding.UTF8, "application/json"));
                Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
                Assert.Equal("openai", answer.Headers.GetValues("x-agw-provider").Single());
            }
            var models = await client.GetStringAsync("/v1/models");
            Assert.Contains("\"gpt-4o-mini\"", models, StringComparison.Ordinal);
            Assert.DoesNotContain("openai/gpt-4o", models, StringComparison.Ordinal);
        });
        Assert.False(run.Exited, run.Output);
        Assert.Contains("with 2 deployments from " + QuickStart.Source, run.Output, StringComparison.Ordinal);
        Assert.Equal(2, emulator.Engine.RequestsFor("gpt-4o"));
        Assert.Equal(1, emulator.Engine.RequestsFor("gpt-4o-mini"));
    }

    [Fact]
    public async Task Prices_update_writes_a_checked_map_that_the_gateway_then_prices_with()
    {
        // LiteLLM's map as shipped, with gpt-4o repriced and a malformed entry: what a newer upstream file could hold.
        var shipped = System.Text.Json.Nodes.JsonNode.Parse(ReadShippedMap())!.AsObject();
        shipped["gpt-4o"]!["input_cost_per_token"] = 0.00004;
        shipped["broken-model"] = System.Text.Json.Nodes.JsonNode.Parse("{\"input_cost_per_token\": \"cheap\"}");
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var server = builder.Build();
        server.MapGet("/map.json", () => Results.Text(shipped.ToJsonString(), "application/json"));
        server.MapGet("/tiny.json", () => Results.Text("{\"gpt-4o\": {\"input_cost_per_token\": 1e-06}}", "application/json"));
        await server.StartAsync();
        var url = GatewayApp.BoundAddresses(server)[0];
        var dir = Directory.CreateTempSubdirectory("agw-prices-");
        try
        {
            var file = Path.Combine(dir.FullName, "prices", "map.json");
            var update = await RunAsync(["prices", "update", "--url", url + "/map.json", "--out", file]);
            Assert.Equal(0, update.Code);
            Assert.Contains($"models to {file}.", update.Output, StringComparison.Ordinal);
            Assert.Contains("model 'broken-model' skipped: input_cost_per_token is not a price in dollars", update.Output, StringComparison.Ordinal);

            // A map that shrank to a fraction of the built-in one is a truncated or wrong file: not written.
            var tiny = await RunAsync(["prices", "update", "--url", url + "/tiny.json", "--out", Path.Combine(dir.FullName, "tiny.json")]);
            Assert.Equal(1, tiny.Code);
            Assert.Contains("fewer than half of the built-in", tiny.Output, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(dir.FullName, "tiny.json")));

            var config = Path.Combine(dir.FullName, "gateway.yaml");
            await File.WriteAllTextAsync(config, "master_key: sk-prices\nmodels:\n  - {name: gpt-4o, provider: openai, model: gpt-4o, api_key: k}\nsandboxes: {enabled: false}\n");
            var run = await RunAsync(["--config", config, "--urls", "http://127.0.0.1:0"], new() { ["AGW_MODEL_COST_MAP"] = file }, whileRunning: async output =>
            {
                using var client = new HttpClient { BaseAddress = new Uri(ListeningOn().Match(output).Groups[1].Value) };
                client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "sk-prices");
                using var info = System.Text.Json.JsonDocument.Parse(await client.GetStringAsync("/model/info"));
                var modelInfo = info.RootElement.GetProperty("data")[0].GetProperty("model_info");
                // The operator's copy wins over the curated table's $2.50 per million.
                Assert.Equal(0.00004m, modelInfo.GetProperty("input_cost_per_token").GetDecimal());
                Assert.Equal(128000, modelInfo.GetProperty("max_input_tokens").GetInt32());
            });
            Assert.False(run.Exited, run.Output);
            Assert.Contains("model 'broken-model' skipped", run.Output, StringComparison.Ordinal);
        }
        finally
        {
            await server.StopAsync();
            dir.Delete(recursive: true);
        }
    }

    private static string ReadShippedMap()
    {
        using var stream = typeof(AgenticGateway.Pricing.ModelCostMap).Assembly.GetManifestResourceStream(AgenticGateway.Pricing.ModelCostMap.FileName)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    [GeneratedRegex(@"listening on (http://[^\s,]+)")]
    private static partial Regex ListeningOn();

    private static string[] Lines(string output) => output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>
    /// Runs the built gateway with no config file, in its own data directory and without the test process's gateway
    /// variables, until it exits or <paramref name="until"/> appears (then runs <paramref name="whileRunning"/> and stops it).
    /// </summary>
    private static Task<GatewayRun> RunAsync(string[] args, Dictionary<string, string?>? env = null, string until = "listening on", Func<string, Task>? whileRunning = null) =>
        GatewayProcess.RunAsync("agw-first-run-", args, env, until, whileRunning);
}
