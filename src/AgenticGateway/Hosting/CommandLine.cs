using System.CommandLine;
using AgenticGateway.Cli;
using AgenticGateway.Configuration;
using AgenticGateway.Commands;
using AgenticGateway.Emulator;

namespace AgenticGateway.Hosting;

/// <summary>
/// The command line (System.CommandLine): <c>agw [--config FILE | --model M ...] [--urls URLS | [--host H] --port N]
/// [--insecure] [--allow-unsupported]</c> runs the gateway, <c>agw mock [--port N] ...</c> runs the provider emulator,
/// <c>agw check-config --config FILE</c> validates, <c>agw images build</c> builds the microVM guest image,
/// <c>agw policies test CASES.yaml</c> runs routing policy unit tests (exit 1 on a failed case, 2 on a load error).
/// Exit codes: 0 done (or --help), 1 refused or failed (invalid config, address in use, ...), 2 usage error (an
/// unknown command or option, a missing or invalid value: a mistyped option is never silently ignored).
/// </summary>
internal static class CommandLine
{
    public static Task<int> RunAsync(string[] args)
    {
        var root = Commands();
        // A LiteLLM option we do not take gets what to use instead, not only "unknown option".
        if (LiteLlmOptions.Hint(root.Parse(args)) is { } hint)
        {
            Console.Error.WriteLine(hint);
            return Task.FromResult(CommandLineRunner.UsageErrorCode);
        }
        return CommandLineRunner.RunAsync(root, args, "the gateway");
    }

    private static RootCommand Commands()
    {
        var config = CommonOptions.Config("the config file (own schema or LiteLLM's config.yaml); default: AGW_CONFIG, else the built-in mock provider");
        config.Aliases.Add("-c"); // LiteLLM's short form
        var urls = CommonOptions.Urls("where to listen, e.g. http://127.0.0.1:8080 (default: AGW_URLS, else server.urls)");
        var port = CommonOptions.Port("listen on http://0.0.0.0:PORT (or on --host)");
        var host = new Option<string>("--host") { Description = "with --port: the address to listen on (LiteLLM's --host), e.g. 127.0.0.1", HelpName = "HOST" };
        var insecure = new Option<bool>("--insecure")
        {
            Description = "accept listening on the network without authentication (also AGW_INSECURE=1)",
        };
        var allowUnsupported = CommonOptions.AllowUnsupported();
        var strict = CommonOptions.Strict();
        var model = new Option<string[]>("--model", "-m")
        {
            Description = "serve this model without a config file, e.g. openai/gpt-4o (repeatable); its key comes from the provider's variable (OPENAI_API_KEY, ...)",
            HelpName = "PROVIDER/MODEL",
            AllowMultipleArgumentsPerToken = false,
        };
        // LiteLLM's start commands often carry these (its Docker examples do): taken, as the debug log level.
        var debug = new Option<bool>("--detailed_debug", "--debug") { Description = "log at debug level (LiteLLM's flags; logging.level: debug in a config file)" };
        var alias = new Option<string>("--alias") { Description = "with one --model: the name clients use for it", HelpName = "NAME" };
        var apiBase = new Option<string>("--api_base", "--api-base") { Description = "with --model: the provider's base URL (default: its variable, such as OPENAI_BASE_URL, else its public API)", HelpName = "URL" };
        var root = new RootCommand("""
            Agentic Gateway: runs the gateway.
            With no config the gateway serves the built-in mock provider on :8080; --model openai/gpt-4o serves that model
            instead, with the key in OPENAI_API_KEY. The master key comes from the config, else AGW_MASTER_KEY or
            LITELLM_MASTER_KEY. Without a master key (or JWT auth) it listens on loopback only; listening on the network then
            needs --insecure (or AGW_INSECURE=1). --allow-unsupported starts with security settings it cannot enforce
            (custom_auth, guardrails, ...) reported as warnings instead of errors. --strict refuses a config with a deployment it
            would skip (a provider it does not serve) instead of starting without it.
            """)
        {
            config, urls, port, host, insecure, allowUnsupported, strict, model, alias, apiBase, debug,
            ToolCommands.CheckConfig(), ToolCommands.Images(), PricesCommand.Command(), MockCommandLine.Command(), PoliciesCommand.Command(),
        };
        root.Validators.Add(r =>
        {
            if (r.GetResult(host) is not null && r.GetResult(urls) is not null) r.AddError("--host goes with --port; --urls already names the host.");
            var models = r.GetResult(model) is not null;
            if (models && r.GetResult(config) is not null) r.AddError("--model serves models without a config file; with --config, add them to its model list instead.");
            if (!models && r.GetResult(alias) is not null) r.AddError("--alias names the model given with --model.");
            if (!models && r.GetResult(apiBase) is not null) r.AddError("--api_base is the base URL of the models given with --model.");
        });
        root.SetAction((result, _) =>
        {
            var insecureOn = result.GetValue(insecure) || Environment.GetEnvironmentVariable("AGW_INSECURE") is "1" or "true";
            var requested = result.GetValue(host) is { } h
                ? $"http://{(h.Contains(':') && !h.StartsWith('[') ? $"[{h}]" : h)}:{result.GetValue(port) ?? 8080}"
                : CommonOptions.ListenUrls(result, urls, port) ?? (Environment.GetEnvironmentVariable("AGW_URLS") is { Length: > 0 } env ? env : null);
            var allow = result.GetValue(allowUnsupported);
            ConfigSource source = result.GetValue(model) is { Length: > 0 } models
                ? new ConfigSource(null, () => QuickStart.Load(models, result.GetValue(alias), result.GetValue(apiBase)))
                : new ConfigSource(result.GetValue(config) ?? Environment.GetEnvironmentVariable("AGW_CONFIG"), null);
            var fromPortOption = result.GetResult(port) is not null || result.GetResult(host) is not null;
            return ServeAsync(source, requested, insecureOn, allow, result.GetValue(strict), result.GetValue(debug), fromPortOption);
        });
        return root;
    }

    /// <summary>A config file to load and watch, or options built from the command line (--model).</summary>
    private sealed record ConfigSource(string? Path, Func<ConfigLoadResult>? Build);

    private static async Task<int> ServeAsync(ConfigSource source, string? requestedUrls, bool insecure, bool allowUnsupported, bool strict, bool debug, bool fromPortOption)
    {
        var loaded = source.Build is { } build ? ConfigFiles.Report(build()) : ConfigFiles.LoadOrReport(source.Path, allowUnsupported, strict);
        if (loaded is not { Options: { } options } result) return 1;
        if (debug) options = options with { Logging = options.Logging with { Level = LogLevel.Debug } };
        var configPath = source.Path;
        var (urls, refusal) = ListenPolicy.Resolve(requestedUrls ?? options.Server.Urls, options, insecure, fromPortOption && requestedUrls is not null);
        // Everything that can be known before starting is checked before anything starts (the data directory's lock,
        // the sandbox pool): one line and exit 1, never a stack trace.
        refusal = (ListenAddresses.Invalid(urls!) is { } invalid ? $"Cannot start: {invalid}." : null) ?? refusal ?? ListenAddresses.InUse(urls!);
        // The edge's entry points reach the gateway's services through its routers: the same rule, and free ports.
        if (refusal is null && !options.Edge.EntryPoints.IsEmpty)
            refusal = ListenPolicy.Check(EdgeListeners.Urls(options.Edge), ListenPolicy.AuthRequired(options), insecure) ?? ListenAddresses.InUse(EdgeListeners.Urls(options.Edge));
        if (refusal is not null)
        {
            Console.Error.WriteLine(refusal);
            return 1;
        }
        WebApplication app;
        try { app = GatewayApp.Build(new GatewayStartOptions(options, configPath, urls!, result.Warnings) { Insecure = insecure, AllowUnsupported = allowUnsupported, Strict = strict }); }
        catch (Exception ex) when (ex is Storage.DataDirectoryInUseException or Storage.DataDirectoryUnusableException or Edge.Runtime.EdgeConfigException)
        {
            Console.Error.WriteLine($"Cannot start: {ex.Message}");
            return 1;
        }
        await using (app)
        {
            try { await app.StartAsync(); }
            catch (IOException ex) when (ex.InnerException is System.Net.Sockets.SocketException or Microsoft.AspNetCore.Connections.AddressInUseException)
            {
                // Taken between the check above and the bind.
                Console.Error.WriteLine($"Cannot start: {ex.Message} Stop what is listening there, or choose another address with --urls.");
                return 1;
            }
            await app.WaitForShutdownAsync();
        }
        return 0;
    }
}
