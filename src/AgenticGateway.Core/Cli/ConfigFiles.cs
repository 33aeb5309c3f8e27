using AgenticGateway.Configuration;

namespace AgenticGateway.Cli;

/// <summary>Loading the config file for a command: the built-in defaults without one, every error printed with its path.</summary>
internal static class ConfigFiles
{
    /// <summary>The file's options, or null after printing every error to standard error.</summary>
    public static ConfigLoadResult? LoadOrReport(string? configPath, bool allowUnsupported)
    {
        var result = configPath is null ? EmbeddedDefaults.Load() : ConfigLoader.LoadFile(configPath, allowUnsupported: allowUnsupported);
        if (result.Options is not null) return result;
        Console.Error.WriteLine($"Configuration is invalid ({result.Errors.Count} error{(result.Errors.Count == 1 ? "" : "s")}):");
        foreach (var e in result.Errors) Console.Error.WriteLine($"  - {e}");
        return null;
    }

    /// <summary>Options built elsewhere (the command line's --model): the same report as a file's.</summary>
    public static ConfigLoadResult? Report(ConfigLoadResult result)
    {
        if (result.Options is not null) return result;
        foreach (var w in result.Warnings) Console.Error.WriteLine($"Warning: {w}");
        Console.Error.WriteLine($"Configuration is invalid ({result.Errors.Count} error{(result.Errors.Count == 1 ? "" : "s")}):");
        foreach (var e in result.Errors) Console.Error.WriteLine($"  - {e}");
        return null;
    }
}
