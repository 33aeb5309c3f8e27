using System.CommandLine;
using AgenticGateway.Cli;
using AgenticGateway.Configuration;
using AgenticGateway.Commands;
using AgenticGateway.Emulator;

namespace AgenticGateway.Hosting;

/// <summary>
/// The command line (System.CommandLine): <c>agw [--config FILE] [--urls URLS | --port N] [--insecure]
/// [--allow-unsupported]</c> runs the gateway, <c>agw mock [--port N] ...</c> runs the provider emulator,
/// <c>agw check-config --config FILE</c> validates, <c>agw images build</c> builds the microVM guest image.
/// Exit codes: 0 done (or --help), 1 refused or failed (invalid config, address in use, ...), 2 usage error (an
/// unknown command or option, a missing or invalid value: a mistyped option is never silently ignored).
/// </summary>
internal static class CommandLine
{
    public static Task<int> RunAsync(string[] args) => CommandLineRunner.RunAsync(Commands(), args, "the gateway");

    private static RootCommand Commands()
    {
        var config = CommonOptions.Config("the config file (own schema or LiteLLM's config.yaml); default: AGW_CONFIG, else the built-in mock provider");
        var urls = CommonOptions.Urls("where to listen, e.g. http://127.0.0.1:8080 (default: AGW_URLS, else server.urls)");
        var port = CommonOptions.Port("listen on http://0.0.0.0:PORT");
        var insecure = new Option<bool>("--insecure")
        {
            Description = "accept listening on the network without authentication (also AGW_INSECURE=1)",
        };
        var allowUnsupported = CommonOptions.AllowUnsupported();
        var strict = CommonOptions.Strict();
        var root = new RootCommand("""
            Agentic Gateway: runs the gateway.
            With no config the gateway serves the built-in mock provider on :8080.
            Without a master key (or JWT auth) it listens on loopback only; listening on the network then needs --insecure
            (or AGW_INSECURE=1). --allow-unsupported starts with security settings it cannot enforce (custom_auth,
            guardrails, ...) reported as warnings instead of errors. --strict refuses a config with a deployment it would
            skip (a provider it does not serve) instead of starting without it.
            """)
        {
            config, urls, port, insecure, allowUnsupported, strict,
            ToolCommands.CheckConfig(), ToolCommands.Images(), MockCommandLine.Command(),
        };
        root.SetAction((result, _) =>
        {
            var configPath = result.GetValue(config) ?? Environment.GetEnvironmentVariable("AGW_CONFIG");
            var insecureOn = result.GetValue(insecure) || Environment.GetEnvironmentVariable("AGW_INSECURE") is "1" or "true";
            var requested = CommonOptions.ListenUrls(result, urls, port) ?? (Environment.GetEnvironmentVariable("AGW_URLS") is { Length: > 0 } env ? env : null);
            return ServeAsync(configPath, requested, insecureOn, result.GetValue(allowUnsupported), result.GetValue(strict));
        });
        return root;
    }

    private static async Task<int> ServeAsync(string? configPath, string? requestedUrls, bool insecure, bool allowUnsupported, bool strict)
    {
        if (ConfigFiles.LoadOrReport(configPath, allowUnsupported, strict) is not { Options: { } options } result) return 1;
        var (urls, refusal) = ListenPolicy.Resolve(requestedUrls ?? options.Server.Urls, options, insecure);
        if (refusal is not null)
        {
            Console.Error.WriteLine(refusal);
            return 1;
        }
        WebApplication app;
        try { app = GatewayApp.Build(new GatewayStartOptions(options, configPath, urls!, result.Warnings) { Insecure = insecure, AllowUnsupported = allowUnsupported, Strict = strict }); }
        catch (Storage.DataDirectoryInUseException ex)
        {
            Console.Error.WriteLine($"Cannot start: {ex.Message}");
            return 1;
        }
        await using (app)
        {
            try { await app.StartAsync(); }
            catch (IOException ex) when (ex.InnerException is System.Net.Sockets.SocketException or Microsoft.AspNetCore.Connections.AddressInUseException)
            {
                // Another process (often an earlier gateway still running) holds the port.
                Console.Error.WriteLine($"Cannot start: {ex.Message} Stop what is listening there, or choose another address with --urls.");
                return 1;
            }
            await app.WaitForShutdownAsync();
        }
        return 0;
    }
}
