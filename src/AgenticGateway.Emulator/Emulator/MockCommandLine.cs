using System.CommandLine;
using AgenticGateway.Cli;
using AgenticGateway.Configuration;

namespace AgenticGateway.Emulator;

/// <summary>
/// The emulator's own entry, <c>agw-mock [--port N] [--latency-ms N] [--fault SPEC] ...</c>, and the same command as
/// <c>agw mock</c>: the provider emulator without the gateway.
/// </summary>
internal static class MockCommandLine
{
    private const string Description = "Run the provider emulator (OpenAI, Anthropic, Bedrock, Gemini and more dialects).";

    public static Task<int> Main(string[] args)
    {
        var root = new RootCommand(Description);
        Configure(root);
        return CommandLineRunner.RunAsync(root, args, "the emulator");
    }

    /// <summary>The <c>mock</c> subcommand of <c>agw</c>.</summary>
    public static Command Command()
    {
        var command = new Command("mock", Description);
        Configure(command);
        return command;
    }

    private static void Configure(Command command)
    {
        var port = CommonOptions.Port("listen on http://0.0.0.0:PORT (default: http://127.0.0.1:8090)");
        var urls = CommonOptions.Urls("where to listen");
        var latency = CommonOptions.Number("--latency-ms", "added latency before each answer");
        var ttft = CommonOptions.Number("--ttft-ms", "time to the first streamed token");
        var rate = CommonOptions.Number("--tokens-per-second", "streaming speed (0: as fast as possible)");
        var fault = new Option<string>("--fault") { Description = "a fault to inject, e.g. status=500 or cut=3", HelpName = "SPEC" };
        fault.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string>() is { } spec && !MockFault.TryParse(spec, out _, out var error)) r.AddError(error!);
        });
        var apiKey = new Option<string>("--api-key") { Description = "require this key from clients", HelpName = "KEY" };
        foreach (var option in new Option[] { port, urls, latency, ttft, rate, fault, apiKey }) command.Add(option);
        command.SetAction(async (result, _) =>
        {
            var settings = new MockSettings(
                TimeSpan.FromMilliseconds(result.GetValue(latency)),
                TimeSpan.FromMilliseconds(result.GetValue(ttft)),
                result.GetValue(rate),
                result.GetValue(fault));
            var app = MockServer.Build(CommonOptions.ListenUrls(result, urls, port) ?? "http://127.0.0.1:8090", settings, result.GetValue(apiKey));
            await app.StartAsync();
            // Its logging is off (an emulator under load should not spend time logging), so say once where it listens.
            foreach (var line in MockServer.ListeningLines(app)) Console.Out.WriteLine(line);
            await app.WaitForShutdownAsync();
            return 0;
        });
    }
}
