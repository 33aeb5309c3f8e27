using AgenticGateway.Configuration;
using AgenticGateway.Hosting;

namespace AgenticGateway.Tests.Hosting;

[Trait("Category", "unit")]
public class CommandLineTests
{
    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "AgenticGateway.slnx"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root not found");
    }

    [Fact]
    public async Task An_invalid_config_stops_start_up_with_every_error_and_a_non_zero_exit()
    {
        var file = Path.GetTempFileName();
        await File.WriteAllTextAsync(file, """
            model_list:
              - model_name: a
                litellm_params: {model: opneai/gpt-4o}
              - model_name: b
                litellm_params: {model: openai/gpt-4o, tpm: -5}
            """);
        var stderr = new StringWriter();
        var original = Console.Error;
        Console.SetError(stderr);
        int code;
        try { code = await CommandLine.RunAsync(["--config", file, "--port", "0"]); }
        finally { Console.SetError(original); File.Delete(file); }
        Assert.Equal(1, code);
        var text = stderr.ToString();
        Assert.Contains("Configuration is invalid (2 errors)", text, StringComparison.Ordinal);
        Assert.Contains("model_list[0].litellm_params.model: unknown provider 'opneai'", text, StringComparison.Ordinal);
        Assert.Contains("model_list[1].litellm_params.tpm", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_config_skips_a_provider_not_served_unless_strict_and_prints_warnings_with_errors()
    {
        var file = Path.GetTempFileName();
        await File.WriteAllTextAsync(file, """
            model_list:
              - model_name: gpt-4o
                litellm_params: {model: openai/gpt-4o, api_key: k}
              - model_name: sm
                litellm_params: {model: sagemaker/my-endpoint}
            litellm_settings:
              telemetry: false
            """);
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        var (originalOut, originalError) = (Console.Out, Console.Error);
        Console.SetOut(stdout);
        Console.SetError(stderr);
        int lenient, strict;
        try
        {
            lenient = await CommandLine.RunAsync(["check-config", "--config", file]);
            strict = await CommandLine.RunAsync(["check-config", "--config", file, "--strict"]);
        }
        finally { Console.SetOut(originalOut); Console.SetError(originalError); File.Delete(file); }
        Assert.Equal(0, lenient);
        Assert.Contains("warning: model_list[1].litellm_params.model: provider 'sagemaker' is not served by this gateway", stdout.ToString(), StringComparison.Ordinal);
        Assert.Contains("Configuration is valid: 1 deployment.", stdout.ToString(), StringComparison.Ordinal);
        Assert.Equal(1, strict);
        var text = stderr.ToString();
        Assert.Contains("warning: litellm_settings.telemetry: not supported", text, StringComparison.Ordinal);
        Assert.Contains("Configuration is invalid (1 error)", text, StringComparison.Ordinal);
        Assert.Contains("provider 'sagemaker' is not served by this gateway", text, StringComparison.Ordinal);
    }

    private static async Task<(int Code, string Out, string Error)> RunCapturedAsync(string[] args)
    {
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        var (originalOut, originalError) = (Console.Out, Console.Error);
        Console.SetOut(stdout);
        Console.SetError(stderr);
        try { return (await CommandLine.RunAsync(args), stdout.ToString(), stderr.ToString()); }
        finally { Console.SetOut(originalOut); Console.SetError(originalError); }
    }

    [Fact]
    public async Task Check_config_reads_the_edges_file_provider_and_reports_its_every_error()
    {
        var dir = Directory.CreateTempSubdirectory("agw-check-edge-").FullName;
        try
        {
            var config = Path.Combine(dir, "agw.yaml");
            await File.WriteAllTextAsync(config, "models:\n  - {name: a, provider: mock}\nproviders:\n  file: {directory: dynamic}\n");
            Directory.CreateDirectory(Path.Combine(dir, "dynamic"));
            await File.WriteAllTextAsync(Path.Combine(dir, "dynamic", "a.yml"),
                "http:\n  routers:\n    r: {rule: \"Path(`/a`)\", service: s}\n  services:\n    s: {loadBalancer: {servers: [{url: \"http://127.0.0.1:1\"}]}}\n");
            var valid = await RunCapturedAsync(["check-config", "--config", config]);
            Assert.Equal(0, valid.Code);
            Assert.Contains("Configuration is valid: 1 deployment; the file provider: 1 router, 1 service, 0 middlewares.", valid.Out, StringComparison.Ordinal);

            await File.WriteAllTextAsync(Path.Combine(dir, "dynamic", "b.toml"), "[http.routers.bad]\nrule = \"Hots(`a`)\"\n[http.middlewares.m]\n");
            var invalid = await RunCapturedAsync(["check-config", "--config", config]);
            Assert.Equal(1, invalid.Code);
            Assert.Contains("The edge's file provider configuration is invalid (3 errors):", invalid.Error, StringComparison.Ordinal);
            Assert.Contains("b.toml: http.routers.bad.rule: column 1: unknown matcher 'Hots'", invalid.Error, StringComparison.Ordinal);
            Assert.Contains("b.toml: http.routers.bad.service: is required", invalid.Error, StringComparison.Ordinal);
            Assert.Contains("b.toml: http.middlewares.m: a middleware needs its type", invalid.Error, StringComparison.Ordinal);
            Assert.DoesNotContain("valid:", invalid.Out, StringComparison.Ordinal);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public async Task Check_config_without_a_file_says_it_checked_the_embedded_defaults()
    {
        Assert.Null(Environment.GetEnvironmentVariable("AGW_CONFIG"));
        var (code, stdout, _) = await RunCapturedAsync(["check-config"]);
        Assert.Equal(0, code);
        Assert.Matches(@"No config file given \(--config or AGW_CONFIG\): the embedded defaults are valid: \d+ deployments?\.", stdout);
        Assert.DoesNotContain("Configuration is valid", stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("general_settings: {master_key: os.environ/AGW_TEST_UNSET_MASTER_KEY}\nmodel_list:\n  - {model_name: m, litellm_params: {model: openai/gpt-4o, api_key: k}}\n", "general_settings.master_key")]
    [InlineData("master_key: ${AGW_TEST_UNSET_MASTER_KEY}\nmodels:\n  - {name: m, provider: openai, api_key: k}\n", "master_key")]
    public async Task A_master_key_naming_an_unset_variable_fails_check_config_and_start(string yaml, string path)
    {
        // Without the key the gateway would have started open (no authentication): a typo in a variable name must not do that.
        Assert.Null(Environment.GetEnvironmentVariable("AGW_TEST_UNSET_MASTER_KEY"));
        var file = Path.GetTempFileName();
        await File.WriteAllTextAsync(file, yaml);
        try
        {
            var check = await RunCapturedAsync(["check-config", "--config", file]);
            Assert.Equal(1, check.Code);
            Assert.Contains($"{path}: '", check.Error, StringComparison.Ordinal);
            Assert.Contains("names an environment variable that is not set or is empty", check.Error, StringComparison.Ordinal);
            Assert.DoesNotContain("valid:", check.Out, StringComparison.Ordinal);
            var start = await RunCapturedAsync(["--config", file, "--urls", "http://127.0.0.1:0"]);
            Assert.Equal(1, start.Code);
            Assert.Contains("names an environment variable that is not set or is empty", start.Error, StringComparison.Ordinal);
        }
        finally { File.Delete(file); }
    }

    [Fact]
    public async Task Usage_errors_exit_with_2()
    {
        var original = Console.Error;
        Console.SetError(new StringWriter());
        try
        {
            Assert.Equal(2, await CommandLine.RunAsync(["--port"]));
            Assert.Equal(2, await CommandLine.RunAsync(["frobnicate"]));
            Assert.Equal(2, await CommandLine.RunAsync(["--port", "http"]));
            Assert.Equal(2, await CommandLine.RunAsync(["--port", "70000"]));
            Assert.Equal(2, await CommandLine.RunAsync(["images"]));
            Assert.Equal(2, await CommandLine.RunAsync(["mock", "--fault", "bogus"]));
            Assert.Equal(2, await CommandLine.RunAsync(["mock", "--latency-ms", "-5"]));
        }
        finally { Console.SetError(original); }
    }

    [Theory]
    [InlineData("--prot", "8081")]
    [InlineData("check-config", "--urls", "http://127.0.0.1:1")]
    [InlineData("mock", "--insecure")]
    public async Task A_mistyped_or_misplaced_option_is_a_usage_error_not_ignored(params string[] args)
    {
        var stderr = new StringWriter();
        var original = Console.Error;
        Console.SetError(stderr);
        try { Assert.Equal(2, await CommandLine.RunAsync(args)); }
        finally { Console.SetError(original); }
        Assert.Contains("Unknown option --", stderr.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    [InlineData("check-config", "--help")]
    [InlineData("mock", "--help")]
    [InlineData("images", "build", "--help")]
    public async Task Help_exits_0_and_describes_the_command(params string[] args)
    {
        var stdout = new StringWriter();
        var original = Console.Out;
        Console.SetOut(stdout);
        int code;
        try { code = await CommandLine.RunAsync(args); }
        finally { Console.SetOut(original); }
        Assert.Equal(0, code);
        var help = stdout.ToString();
        Assert.Contains("Usage:", help, StringComparison.Ordinal);
        if (args.Length == 1)
        {
            foreach (var expected in new[] { "--config", "--urls", "--port", "--insecure", "--allow-unsupported", "check-config", "images", "mock" })
                Assert.Contains(expected, help, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_usage_error_names_the_problem_before_the_help()
    {
        var stderr = new StringWriter();
        var original = Console.Error;
        Console.SetError(stderr);
        try
        {
            Assert.Equal(2, await CommandLine.RunAsync(["--port", "http"]));
            Assert.Equal(2, await CommandLine.RunAsync(["frobnicate"]));
            Assert.Equal(2, await CommandLine.RunAsync(["--config=x.yaml", "--prot=8081"]));
        }
        finally { Console.SetError(original); }
        var text = stderr.ToString();
        Assert.StartsWith("Invalid port 'http'.", text, StringComparison.Ordinal);
        Assert.Contains("Unknown command 'frobnicate'.", text, StringComparison.Ordinal);
        Assert.Contains("Unknown option --prot for the gateway.", text, StringComparison.Ordinal);
        Assert.Contains("Usage:", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_address_in_use_is_a_clear_refusal_not_a_crash()
    {
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        var port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
        var data = Directory.CreateTempSubdirectory("agw-port-in-use-").FullName;
        var file = Path.Combine(data, "gateway.yaml");
        await File.WriteAllTextAsync(file, $"models:\n  - {{name: m, provider: mock}}\nstorage: {{data_dir: {data}}}\nsandboxes: {{enabled: false}}\n");
        var stderr = new StringWriter();
        var original = Console.Error;
        Console.SetError(stderr);
        int code;
        try { code = await CommandLine.RunAsync(["--config", file, "--urls", $"http://127.0.0.1:{port}"]); }
        finally { Console.SetError(original); Directory.Delete(data, recursive: true); }
        Assert.Equal(1, code);
        Assert.Contains("Cannot start:", stderr.ToString(), StringComparison.Ordinal);
        Assert.Contains("--urls", stderr.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("examples/gateway.yaml")]
    [InlineData("examples/litellm-config.yaml")]
    public void The_example_configs_are_valid(string path)
    {
        // With their master key's variable set, as the examples say; an unset one is an error (never an open gateway).
        var file = Path.Combine(RepoRoot(), path);
        var variables = new Dictionary<string, string> { ["LITELLM_MASTER_KEY"] = "sk-example-master", ["AGW_MASTER_KEY"] = "sk-example-master" };
        var result = ConfigLoader.Load(File.ReadAllText(file), file, new Dictionary<string, string>(), variables: variables);
        Assert.Empty(result.Errors);
    }
}
