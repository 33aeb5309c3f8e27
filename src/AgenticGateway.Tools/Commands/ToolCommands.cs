using System.CommandLine;
using AgenticGateway.Cli;
using AgenticGateway.Edge;
using AgenticGateway.Images;
using AgenticGateway.Sandboxes;
using AgenticGateway.Sandboxes.Agent;

namespace AgenticGateway.Commands;

/// <summary>The offline commands of <c>agw</c>: <c>check-config</c> and <c>images build</c>. Neither starts a server.</summary>
internal static class ToolCommands
{
    public static Command CheckConfig()
    {
        var config = CommonOptions.Config("the config file to validate (default: AGW_CONFIG, else the built-in defaults)");
        var allowUnsupported = CommonOptions.AllowUnsupported();
        var strict = CommonOptions.Strict();
        var command = new Command("check-config", "Validate a config file and exit: every error at once, with its path.") { config, allowUnsupported, strict };
        command.SetAction(result =>
        {
            var configPath = result.GetValue(config) ?? Environment.GetEnvironmentVariable("AGW_CONFIG");
            if (ConfigFiles.LoadOrReport(configPath, result.GetValue(allowUnsupported), result.GetValue(strict)) is not { } loaded) return 1;
            foreach (var w in loaded.Warnings) Console.WriteLine($"warning: {w}");
            var count = loaded.Options!.Deployments.Length;
            var deployments = $"{count} deployment{(count == 1 ? "" : "s")}";
            if (loaded.Options.Edge.FileProvider is { } provider)
            {
                // The edge's file provider is read as a start or a reload would read it, relative to the config file.
                var baseDir = Path.GetDirectoryName(Path.GetFullPath(configPath!)) ?? Directory.GetCurrentDirectory();
                var (edge, errors) = EdgeFileProvider.Load(provider, baseDir);
                if (errors.Count > 0)
                {
                    Console.Error.WriteLine($"The edge's file provider configuration is invalid ({errors.Count} error{(errors.Count == 1 ? "" : "s")}):");
                    foreach (var e in errors) Console.Error.WriteLine($"  - {e}");
                    return 1;
                }
                deployments += $"; the file provider: {Count(edge.Http.Routers.Count + edge.Tcp.Routers.Count + edge.Udp.Routers.Count, "router")}, "
                    + $"{Count(edge.Http.Services.Count + edge.Tcp.Services.Count + edge.Udp.Services.Count, "service")}, {Count(edge.Http.Middlewares.Count + edge.Tcp.Middlewares.Count, "middleware")}";
            }
            // Without a file the built-in defaults were checked: say so, or "valid" reads as if the user's file were.
            Console.WriteLine(string.IsNullOrEmpty(configPath)
                ? $"No config file given (--config or AGW_CONFIG): the embedded defaults are valid: {deployments}."
                : $"Configuration is valid: {deployments}.");
            return 0;
        });
        return command;
    }

    private static string Count(int n, string noun) => $"{n} {noun}{(n == 1 ? "" : "s")}";

    public static Command Images()
    {
        var output = new Option<string>("--out") { Description = "where to write (or find cached) the image", HelpName = "DIR" };
        var build = new Command("build", "Build (or find cached) the microVM guest image; prints its path last.") { output };
        build.SetAction(result =>
        {
            try
            {
                var agent = GuestAgentBinary.Locate(Console.WriteLine);
                var image = ImageBuilder.Build(Path.GetFullPath(result.GetValue(output) ?? ImageLayout.DefaultCacheDirectory), Console.WriteLine, agent);
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
}
