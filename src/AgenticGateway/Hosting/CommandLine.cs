using System.Globalization;
using AgenticGateway.Configuration;
using AgenticGateway.Emulator;

namespace AgenticGateway.Hosting;

/// <summary>
/// The command line: <c>agw [--config FILE] [--urls URLS | --port N] [--insecure] [--allow-unsupported]</c> runs the
/// gateway, <c>agw mock [--port N] ...</c> runs the provider emulator, <c>agw check-config --config FILE</c> validates.
/// </summary>
internal static class CommandLine
{
    private const string Usage = """
        Agentic Gateway

        Usage:
          agw [--config FILE] [--urls URLS | --port N] [--insecure] [--allow-unsupported]
                                                           run the gateway (config also from AGW_CONFIG)
          agw check-config --config FILE [--allow-unsupported]
                                                           validate a config file and exit
          agw images build [--out DIR]                     build (or find cached) the microVM guest image
          agw mock [--port N | --urls URLS] [--latency-ms N] [--ttft-ms N] [--tokens-per-second N]
                   [--fault SPEC] [--api-key KEY]          run the provider emulator

        With no config the gateway serves the built-in mock provider on :8080.
        Without a master key (or JWT auth) it listens on loopback only; listening on the network then needs --insecure
        (or AGW_INSECURE=1). --allow-unsupported starts with security settings it cannot enforce (custom_auth,
        guardrails, ...) reported as warnings instead of errors.
        """;

    /// <summary>Flags that take no value.</summary>
    private static readonly HashSet<string> Switches = new(StringComparer.Ordinal) { "insecure", "allow-unsupported" };

    /// <summary>The flags each command knows: a mistyped one (--prot) is an error, never silently ignored.</summary>
    private static readonly Dictionary<string, string[]> Known = new(StringComparer.Ordinal)
    {
        ["serve"] = ["config", "urls", "port", "insecure", "allow-unsupported"],
        ["check-config"] = ["config", "allow-unsupported"],
        ["images build"] = ["out"],
        ["mock"] = ["port", "urls", "latency-ms", "ttft-ms", "tokens-per-second", "fault", "api-key"],
    };

    public static async Task<int> RunAsync(string[] args)
    {
        var command = args.Length > 0 && !args[0].StartsWith('-') ? args[0] : "serve";
        if (command == "images") command = args.Length > 1 && args[1] == "build" ? "images build" : "images ?";
        var flags = ParseFlags(command == "serve" ? args : command.StartsWith("images", StringComparison.Ordinal) ? args[Math.Min(2, args.Length)..] : args[1..], out var usageError);
        if (usageError is null && Known.TryGetValue(command, out var known) && flags.Keys.FirstOrDefault(f => f != "help" && !known.Contains(f)) is { } unknown)
            usageError = $"Unknown option --{unknown} for {(command == "serve" ? "the gateway" : command)}.";
        if (usageError is not null || flags.ContainsKey("help"))
        {
            Console.Error.WriteLine(usageError is null ? Usage : $"{usageError}\n\n{Usage}");
            return usageError is null ? 0 : 2;
        }

        switch (command)
        {
            case "serve":
            case "check-config":
            {
                var configPath = flags.GetValueOrDefault("config") ?? Environment.GetEnvironmentVariable("AGW_CONFIG");
                var allowUnsupported = flags.ContainsKey("allow-unsupported");
                var result = configPath is null ? EmbeddedDefaults.Load() : ConfigLoader.LoadFile(configPath, allowUnsupported: allowUnsupported);
                if (result.Options is null)
                {
                    Console.Error.WriteLine($"Configuration is invalid ({result.Errors.Count} error{(result.Errors.Count == 1 ? "" : "s")}):");
                    foreach (var e in result.Errors) Console.Error.WriteLine($"  - {e}");
                    return 1;
                }
                if (command == "check-config")
                {
                    foreach (var w in result.Warnings) Console.WriteLine($"warning: {w}");
                    Console.WriteLine($"Configuration is valid: {result.Options.Deployments.Length} deployment{(result.Options.Deployments.Length == 1 ? "" : "s")}.");
                    return 0;
                }
                var insecure = flags.ContainsKey("insecure") || Environment.GetEnvironmentVariable("AGW_INSECURE") is "1" or "true";
                var requested = Urls(flags) ?? (Environment.GetEnvironmentVariable("AGW_URLS") is { Length: > 0 } env ? env : null) ?? result.Options.Server.Urls;
                var (urls, refusal) = ListenPolicy.Resolve(requested, result.Options, insecure);
                if (refusal is not null)
                {
                    Console.Error.WriteLine(refusal);
                    return 1;
                }
                WebApplication app;
                try { app = GatewayApp.Build(new GatewayStartOptions(result.Options, configPath, urls!, result.Warnings) { Insecure = insecure, AllowUnsupported = allowUnsupported }); }
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
            case "mock":
            {
                var settings = new MockSettings(
                    TimeSpan.FromMilliseconds(Number(flags, "latency-ms")),
                    TimeSpan.FromMilliseconds(Number(flags, "ttft-ms")),
                    Number(flags, "tokens-per-second"),
                    flags.GetValueOrDefault("fault"));
                if (settings.Fault is not null && !MockFault.TryParse(settings.Fault, out _, out var faultError))
                {
                    Console.Error.WriteLine(faultError);
                    return 2;
                }
                var app = MockServer.Build(Urls(flags) ?? "http://127.0.0.1:8090", settings, flags.GetValueOrDefault("api-key"));
                await app.RunAsync();
                return 0;
            }
            case "images build":
            {
                var output = flags.GetValueOrDefault("out") ?? Sandboxes.ImageLayout.DefaultCacheDirectory;
                try
                {
                    var agent = Sandboxes.Agent.GuestAgentBinary.Locate(Console.WriteLine);
                    var image = Sandboxes.Images.ImageBuilder.Build(Path.GetFullPath(output), Console.WriteLine, agent);
                    Console.WriteLine(image);
                    return 0;
                }
                catch (InvalidOperationException ex)
                {
                    Console.Error.WriteLine($"image build failed: {ex.Message}");
                    return 1;
                }
            }
            default:
                Console.Error.WriteLine($"Unknown command '{command}'.\n\n{Usage}");
                return 2;
        }
    }

    private static string? Urls(Dictionary<string, string> flags) =>
        flags.GetValueOrDefault("urls") ?? (flags.TryGetValue("port", out var port) ? $"http://0.0.0.0:{port}" : null);

    private static double Number(Dictionary<string, string> flags, string name) =>
        flags.TryGetValue(name, out var v) && double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && n >= 0 ? n : 0;

    private static Dictionary<string, string> ParseFlags(string[] args, out string? error)
    {
        var flags = new Dictionary<string, string>(StringComparer.Ordinal);
        error = null;
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (arg is "-h" or "--help") { flags["help"] = ""; continue; }
            if (!arg.StartsWith("--", StringComparison.Ordinal)) { error = $"Unexpected argument '{arg}'."; return flags; }
            if (Switches.Contains(arg[2..])) { flags[arg[2..]] = ""; continue; }
            var eq = arg.IndexOf('=');
            if (eq > 0) { flags[arg[2..eq]] = arg[(eq + 1)..]; continue; }
            if (i + 1 >= args.Length) { error = $"Missing value for {arg}."; return flags; }
            flags[arg[2..]] = args[++i];
        }
        if (flags.TryGetValue("port", out var port) && !(int.TryParse(port, out var p) && p is >= 0 and <= 65535)) error = $"Invalid port '{port}'.";
        return flags;
    }
}
