using AgenticGateway.Configuration;
using AgenticGateway.Hosting;

namespace AgenticGateway.Tests.Hosting;

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
    public async Task Usage_errors_exit_with_2()
    {
        var original = Console.Error;
        Console.SetError(new StringWriter());
        try
        {
            Assert.Equal(2, await CommandLine.RunAsync(["--port"]));
            Assert.Equal(2, await CommandLine.RunAsync(["frobnicate"]));
        }
        finally { Console.SetError(original); }
    }

    [Theory]
    [InlineData("examples/gateway.yaml")]
    [InlineData("examples/litellm-config.yaml")]
    public void The_example_configs_are_valid(string path)
    {
        var result = ConfigLoader.LoadFile(Path.Combine(RepoRoot(), path), new Dictionary<string, string>());
        Assert.Empty(result.Errors);
    }
}
