using System.CommandLine;
using System.CommandLine.Parsing;
using AgenticGateway.Configuration;
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
    private const int UsageErrorCode = 2;

    public static async Task<int> RunAsync(string[] args)
    {
        var root = Commands();
        // No response files: an argument starting with '@' is taken as it is.
        var parsed = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (parsed.Errors.Count > 0)
        {
            // Our own report instead of the library's (which exits 1): the first problem, then the command's help, exit 2.
            Console.Error.WriteLine(UsageError(parsed));
            Console.Error.WriteLine();
            var command = CommandPath(parsed.CommandResult);
            root.Parse([.. command.Length == 0 ? [] : command.Split(' '), "--help"]).Invoke(new InvocationConfiguration { Output = Console.Error });
            return UsageErrorCode;
        }
        return await parsed.InvokeAsync(new InvocationConfiguration
        {
            Output = Console.Out,
            Error = Console.Error,
            // An unexpected exception still surfaces as one; the host itself handles SIGTERM and drains streams for
            // up to 30 s, which the library's own termination handling (2 s, then exit) would cut short.
            EnableDefaultExceptionHandler = false,
            ProcessTerminationTimeout = null,
        });
    }

    private static RootCommand Commands()
    {
        var config = ConfigOption("the config file (own schema or LiteLLM's config.yaml); default: AGW_CONFIG, else the built-in mock provider");
        var urls = UrlsOption("where to listen, e.g. http://127.0.0.1:8080 (default: AGW_URLS, else server.urls)");
        var port = PortOption("listen on http://0.0.0.0:PORT");
        var insecure = new Option<bool>("--insecure")
        {
            Description = "accept listening on the network without authentication (also AGW_INSECURE=1)",
        };
        var allowUnsupported = AllowUnsupportedOption();
        var root = new RootCommand("""
            Agentic Gateway: runs the gateway.
            With no config the gateway serves the built-in mock provider on :8080.
            Without a master key (or JWT auth) it listens on loopback only; listening on the network then needs --insecure
            (or AGW_INSECURE=1). --allow-unsupported starts with security settings it cannot enforce (custom_auth,
            guardrails, ...) reported as warnings instead of errors.
            """)
        {
            config, urls, port, insecure, allowUnsupported,
            CheckConfigCommand(), ImagesCommand(), MockCommand(),
        };
        root.SetAction((result, _) =>
        {
            var configPath = result.GetValue(config) ?? Environment.GetEnvironmentVariable("AGW_CONFIG");
            var insecureOn = result.GetValue(insecure) || Environment.GetEnvironmentVariable("AGW_INSECURE") is "1" or "true";
            var requested = Urls(result, urls, port) ?? (Environment.GetEnvironmentVariable("AGW_URLS") is { Length: > 0 } env ? env : null);
            return ServeAsync(configPath, requested, insecureOn, result.GetValue(allowUnsupported));
        });
        return root;
    }

    private static Command CheckConfigCommand()
    {
        var config = ConfigOption("the config file to validate (default: AGW_CONFIG, else the built-in defaults)");
        var allowUnsupported = AllowUnsupportedOption();
        var command = new Command("check-config", "Validate a config file and exit: every error at once, with its path.") { config, allowUnsupported };
        command.SetAction(result =>
        {
            var configPath = result.GetValue(config) ?? Environment.GetEnvironmentVariable("AGW_CONFIG");
            if (Load(configPath, result.GetValue(allowUnsupported)) is not { } loaded) return 1;
            foreach (var w in loaded.Warnings) Console.WriteLine($"warning: {w}");
            var count = loaded.Options!.Deployments.Length;
            Console.WriteLine($"Configuration is valid: {count} deployment{(count == 1 ? "" : "s")}.");
            return 0;
        });
        return command;
    }

    private static Command ImagesCommand()
    {
        var output = new Option<string>("--out") { Description = "where to write (or find cached) the image", HelpName = "DIR" };
        var build = new Command("build", "Build (or find cached) the microVM guest image; prints its path last.") { output };
        build.SetAction(result =>
        {
            try
            {
                var agent = Sandboxes.Agent.GuestAgentBinary.Locate(Console.WriteLine);
                var image = Images.ImageBuilder.Build(Path.GetFullPath(result.GetValue(output) ?? Sandboxes.ImageLayout.DefaultCacheDirectory), Console.WriteLine, agent);
                Console.WriteLine(image);
                return 0;
            }
            catch (InvalidOperationException ex)
            {
                Console.Error.WriteLine($"image build failed: {ex.Message}");
                return 1;
            }
        });
        return new Command("images", "MicroVM guest images.") { build };
    }

    private static Command MockCommand()
    {
        var port = PortOption("listen on http://0.0.0.0:PORT (default: http://127.0.0.1:8090)");
        var urls = UrlsOption("where to listen");
        var latency = NumberOption("--latency-ms", "added latency before each answer");
        var ttft = NumberOption("--ttft-ms", "time to the first streamed token");
        var rate = NumberOption("--tokens-per-second", "streaming speed (0: as fast as possible)");
        var fault = new Option<string>("--fault") { Description = "a fault to inject, e.g. status=500 or cut=3", HelpName = "SPEC" };
        fault.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string>() is { } spec && !MockFault.TryParse(spec, out _, out var error)) r.AddError(error!);
        });
        var apiKey = new Option<string>("--api-key") { Description = "require this key from clients", HelpName = "KEY" };
        var command = new Command("mock", "Run the provider emulator (OpenAI, Anthropic, Bedrock, Gemini and more dialects).")
        {
            port, urls, latency, ttft, rate, fault, apiKey,
        };
        command.SetAction(async (result, _) =>
        {
            var settings = new MockSettings(
                TimeSpan.FromMilliseconds(result.GetValue(latency)),
                TimeSpan.FromMilliseconds(result.GetValue(ttft)),
                result.GetValue(rate),
                result.GetValue(fault));
            var app = MockServer.Build(Urls(result, urls, port) ?? "http://127.0.0.1:8090", settings, result.GetValue(apiKey));
            await app.RunAsync();
            return 0;
        });
        return command;
    }

    private static async Task<int> ServeAsync(string? configPath, string? requestedUrls, bool insecure, bool allowUnsupported)
    {
        if (Load(configPath, allowUnsupported) is not { Options: { } options } result) return 1;
        var (urls, refusal) = ListenPolicy.Resolve(requestedUrls ?? options.Server.Urls, options, insecure);
        if (refusal is not null)
        {
            Console.Error.WriteLine(refusal);
            return 1;
        }
        WebApplication app;
        try { app = GatewayApp.Build(new GatewayStartOptions(options, configPath, urls!, result.Warnings) { Insecure = insecure, AllowUnsupported = allowUnsupported }); }
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

    /// <summary>The config file's options, or null after printing every error.</summary>
    private static ConfigLoadResult? Load(string? configPath, bool allowUnsupported)
    {
        var result = configPath is null ? EmbeddedDefaults.Load() : ConfigLoader.LoadFile(configPath, allowUnsupported: allowUnsupported);
        if (result.Options is not null) return result;
        Console.Error.WriteLine($"Configuration is invalid ({result.Errors.Count} error{(result.Errors.Count == 1 ? "" : "s")}):");
        foreach (var e in result.Errors) Console.Error.WriteLine($"  - {e}");
        return null;
    }

    /// <summary>
    /// The first problem, in our words where the library's are vague: an unmatched token is an unknown command (at
    /// the top), an unknown option of the command it was given to, or an argument no command takes.
    /// </summary>
    private static string UsageError(ParseResult parsed)
    {
        var command = parsed.CommandResult.Command;
        if (parsed.UnmatchedTokens.Count > 0)
        {
            var token = parsed.UnmatchedTokens[0];
            if (token.StartsWith('-'))
                return $"Unknown option {token.Split('=', ':')[0]} for {(command is RootCommand ? "the gateway" : CommandPath(parsed.CommandResult))}.";
            return command is RootCommand && parsed.Tokens.Count > 0 && parsed.Tokens[0].Value == token ? $"Unknown command '{token}'." : $"Unexpected argument '{token}'.";
        }
        return parsed.Errors[0].Message;
    }

    /// <summary>The command's words after the program name ("images build"); empty for the gateway itself.</summary>
    private static string CommandPath(CommandResult result) =>
        result.Command is RootCommand ? "" : result.Parent is CommandResult parent && parent.Command is not RootCommand ? CommandPath(parent) + " " + result.Command.Name : result.Command.Name;

    private static string? Urls(ParseResult result, Option<string> urls, Option<int?> port) =>
        result.GetValue(urls) ?? (result.GetValue(port) is { } p ? $"http://0.0.0.0:{p}" : null);

    private static Option<string> ConfigOption(string description) => new("--config") { Description = description, HelpName = "FILE" };

    private static Option<string> UrlsOption(string description) => new("--urls") { Description = description, HelpName = "URLS" };

    private static Option<bool> AllowUnsupportedOption() => new("--allow-unsupported")
    {
        Description = "start with security settings the gateway cannot enforce, reported as warnings instead of errors",
    };

    private static Option<int?> PortOption(string description)
    {
        var port = new Option<int?>("--port")
        {
            Description = description,
            HelpName = "N",
            CustomParser = r => r.Tokens.Count == 1 && int.TryParse(r.Tokens[0].Value, out var p) && p is >= 0 and <= 65535 ? p : Invalid(r),
        };
        return port;

        static int? Invalid(ArgumentResult r)
        {
            r.AddError($"Invalid port '{(r.Tokens.Count > 0 ? r.Tokens[0].Value : "")}'.");
            return null;
        }
    }

    private static Option<double> NumberOption(string name, string description)
    {
        var option = new Option<double>(name) { Description = description, HelpName = "N" };
        option.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<double>() is < 0 or double.NaN) r.AddError($"{name} must be a number of at least 0.");
        });
        return option;
    }
}
