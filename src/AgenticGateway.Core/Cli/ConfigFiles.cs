using AgenticGateway.Configuration;

namespace AgenticGateway.Cli;

/// <summary>Loading the config file for a command: the built-in defaults without one, every error printed with its path.</summary>
internal static class ConfigFiles
{
    /// <summary>
    /// The file's options, or null after printing every error to standard error. The warnings are printed with the errors:
    /// what the gateway would have left out is part of what to fix.
    /// </summary>
    public static ConfigLoadResult? LoadOrReport(string? configPath, bool allowUnsupported, bool strict = false)
    {
        var result = configPath is null ? EmbeddedDefaults.Load() : ConfigLoader.LoadFile(configPath, allowUnsupported: allowUnsupported, strict: strict);
        if (result.Options is not null) return result;
        foreach (var w in result.Warnings) Console.Error.WriteLine($"warning: {w}");
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
