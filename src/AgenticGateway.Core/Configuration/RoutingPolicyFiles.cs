using System.Collections.Immutable;
using AgenticGateway.Cedar;
using AgenticGateway.Yaml;

namespace AgenticGateway.Configuration;

/// <summary>The policy files of a <c>routing_policies.file</c> setting, read and compiled.</summary>
/// <param name="Files">The files read, in load order (a directory's *.cedar files sorted by name).</param>
/// <param name="Errors">Every error, as <c>file:line:column: message</c> where a position is known.</param>
internal sealed record CompiledPolicies(PolicySet? Set, ImmutableArray<string> Files, ImmutableArray<string> Errors)
{
    public bool Succeeded => Set is not null && Errors.IsEmpty;
}

/// <summary>
/// Reads routing policies from a file or a directory and compiles them once. Used at config load (a broken file stops
/// the gateway from starting), on every reload, and by <c>agw policies test</c>.
/// </summary>
internal static class RoutingPolicyFiles
{
    /// <summary>Larger files are refused before they are read (the parser refuses them too).</summary>
    public const long MaxFileBytes = 1024 * 1024;
    /// <summary>A directory with more policy files than this is refused: it is not a policy set anyone reviews.</summary>
    public const int MaxFiles = 256;
    public const string Extension = ".cedar";

    /// <summary>
    /// Resolves the configured path against the config file's directory and compiles the policies, reporting every
    /// error under <c>routing_policies.file</c>. Returns the options with an absolute path, or null when unset.
    /// </summary>
    public static RoutingPolicyOptions? Validate(RoutingPolicyOptions? options, string configSource, ConfigIssues issues)
    {
        if (options is null) return null;
        var resolved = options with { Path = StorageOptions.Resolve(options.Path, configSource) };
        var compiled = Compile(resolved.Path);
        foreach (var error in compiled.Errors) issues.Error("routing_policies.file", error);
        return resolved;
    }

    public static CompiledPolicies Compile(string path)
    {
        var (sources, files, errors) = Read(path);
        if (errors.Count > 0) return new CompiledPolicies(null, files, [.. errors]);
        var load = PolicySet.Load(sources);
        if (!load.Succeeded) return new CompiledPolicies(null, files, [.. load.Errors.Select(e => e.ToString())]);
        return new CompiledPolicies(load.Set, files, []);
    }

    private static (List<PolicySource> Sources, ImmutableArray<string> Files, List<string> Errors) Read(string path)
    {
        var sources = new List<PolicySource>();
        var errors = new List<string>();
        string[] files;
        if (Directory.Exists(path))
        {
            try { files = Directory.GetFiles(path, "*" + Extension); }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return (sources, [], [$"{path}: cannot list the policy directory: {ex.Message}"]);
            }
            Array.Sort(files, StringComparer.Ordinal);
            if (files.Length == 0) errors.Add($"{path}: the directory has no {Extension} files");
            if (files.Length > MaxFiles) return (sources, [], [$"{path}: {files.Length} policy files; at most {MaxFiles} are read"]);
        }
        else if (File.Exists(path)) files = [path];
        else return (sources, [], [$"{path}: no such policy file or directory"]);

        foreach (var file in files)
        {
            try
            {
                var length = new FileInfo(file).Length;
                if (length > MaxFileBytes)
                {
                    errors.Add($"{file}: {length} bytes; a policy file may hold at most {MaxFileBytes} bytes");
                    continue;
                }
                sources.Add(new PolicySource(file, File.ReadAllText(file)));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                errors.Add($"{file}: cannot read the policy file: {ex.Message}");
            }
        }
        return (sources, [.. files], errors);
    }
}
