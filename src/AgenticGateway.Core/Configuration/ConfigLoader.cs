using System.Collections.Immutable;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;
using AgenticGateway.Yaml;

namespace AgenticGateway.Configuration;

/// <summary>What a schema mapper read, before deployments are built and references checked.</summary>
internal sealed record MappedConfig(ServerOptions Server, Secret MasterKey, List<DeploymentSpec> Deployments, RouterSpec Router, LoggingOptions Logging)
{
    public TracingOptions Tracing { get; init; } = new();
    public StorageOptions Storage { get; init; } = new();
    public JwtOptions? Jwt { get; init; }
    public AlertOptions? Alerts { get; init; }
    public Sandboxes.SandboxOptions Sandboxes { get; init; } = new();
    public BudgetOptions Budgets { get; init; } = new();
    public bool StoreModelInDb { get; init; }
}

internal sealed record ConfigLoadResult(GatewayOptions? Options, IReadOnlyList<string> Errors, IReadOnlyList<string> Warnings);

/// <summary>
/// Loads configuration from YAML in either of the two accepted shapes, applies environment overrides
/// (<c>AGW__section__key=value</c>) and validates everything, reporting all errors at once.
/// </summary>
internal static class ConfigLoader
{
    public const string EnvOverridePrefix = "AGW__";

    /// <param name="allowUnsupported">--allow-unsupported: unenforceable security settings are warnings instead of errors.</param>
    public static ConfigLoadResult LoadFile(string path, IReadOnlyDictionary<string, string>? environment = null, bool allowUnsupported = false)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return new ConfigLoadResult(null, [$"{path}: cannot read config file: {ex.Message}"], []);
        }
        return Load(text, Path.GetFullPath(path), environment, allowUnsupported);
    }

    public static ConfigLoadResult Load(string yaml, string source, IReadOnlyDictionary<string, string>? environment = null, bool allowUnsupported = false)
    {
        var issues = new ConfigIssues(allowUnsupported);
        YamlMappingNode root;
        try
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(yaml));
            root = stream.Documents.Count == 0 ? new YamlMappingNode() : stream.Documents[0].RootNode as YamlMappingNode ?? throw new YamlException("the document root must be a mapping");
        }
        catch (YamlException ex)
        {
            return new ConfigLoadResult(null, [$"{source}: invalid YAML at line {ex.Start.Line}, column {ex.Start.Column}: {ex.Message}"], []);
        }

        ApplyEnvironmentOverrides(root, environment ?? ProcessEnvironment());
        var extraEnv = ReadEnvironmentVariablesSection(root);
        var context = new ConfigContext(issues, EnvInterpolator.FromProcess(extraEnv));
        var map = new ConfigMap(root, "", context);

        var isLiteLlm = map.Keys.Any(k => k is "model_list" or "litellm_settings" or "router_settings" or "general_settings");
        var mapped = isLiteLlm ? LiteLlmMapper.Map(map) : OwnSchemaMapper.Map(map);
        var (specs, router) = (mapped.Deployments, mapped.Router);

        var deployments = ImmutableArray.CreateBuilder<DeploymentOptions>();
        foreach (var spec in specs)
        {
            if (spec.Build(context) is not { } d) continue;
            deployments.Add(d);
            // A wildcard is priced per request, by the upstream model each one resolves to.
            if (!d.IsWildcard && d.ResolvedPrice is null)
                issues.Warning(spec.Path, $"no price is known for model '{d.Model}' (deployment {d.Id}): its requests are recorded at $0, and callers with a budget "
                    + "are refused on it unless budgets.allow_unpriced_models is true. Set input_cost_per_token and output_cost_per_token (0 for a free model).");
        }
        // With store_model_in_db the models may all come from the database (LiteLLM starts with an empty model_list).
        if (specs.Count == 0 && !mapped.StoreModelInDb) issues.Error(isLiteLlm ? "model_list" : "models", "at least one model is required");

        var built = deployments.ToImmutable();
        ValidateReferences(built, router, issues);

        if (issues.HasErrors) return new ConfigLoadResult(null, issues.Errors, issues.Warnings);
        var options = new GatewayOptions
        {
            Server = mapped.Server,
            MasterKey = mapped.MasterKey,
            Deployments = built,
            Aliases = router.Aliases.ToImmutableDictionary(StringComparer.Ordinal),
            Router = router.Options,
            Logging = mapped.Logging,
            Tracing = mapped.Tracing,
            Storage = mapped.Storage with { DataDirectory = StorageOptions.Resolve(mapped.Storage.DataDirectory, source) },
            Jwt = mapped.Jwt,
            Alerts = mapped.Alerts,
            Sandboxes = mapped.Sandboxes,
            Budgets = mapped.Budgets,
            StoreModelInDb = mapped.StoreModelInDb,
            Source = source,
        };
        return new ConfigLoadResult(options, [], issues.Warnings);
    }

    private static void ValidateReferences(ImmutableArray<DeploymentOptions> deployments, RouterSpec router, ConfigIssues issues)
    {
        var groups = deployments.Select(d => d.ModelName).ToHashSet(StringComparer.Ordinal);
        var wildcards = deployments.Where(d => d.IsWildcard).Select(d => d.ModelName[..^1]).ToArray();
        bool Exists(string name) => groups.Contains(name) || router.Aliases.ContainsKey(name) || wildcards.Any(w => name.StartsWith(w, StringComparison.Ordinal));

        foreach (var (path, group) in router.GroupReferences)
        {
            if (!Exists(group)) issues.Error(path, $"unknown model group '{group}' (configured: {string.Join(", ", groups.Order())})");
        }
        foreach (var (alias, target) in router.Aliases)
        {
            if (groups.Contains(alias)) issues.Error($"model_group_alias.{alias}", $"alias '{alias}' has the same name as a model group");
            if (router.Aliases.ContainsKey(target.Target)) issues.Error($"model_group_alias.{alias}", $"alias '{alias}' points to another alias '{target.Target}'");
        }
        foreach (var big in deployments.GroupBy(d => d.ModelName).Where(g => g.Count() > DeploymentOptions.MaxPerGroup))
            issues.Error("model_list", $"model group '{big.Key}' has {big.Count()} deployments; at most {DeploymentOptions.MaxPerGroup} are supported per group");
        foreach (var dup in deployments.GroupBy(d => d.Id).Where(g => g.Count() > 1))
            issues.Error("model_list", $"deployment id '{dup.Key}' is used {dup.Count()} times; ids must be unique");
    }

    /// <summary>AGW__router__num_retries=3 sets router.num_retries; an index selects a list item (AGW__models__0__api_key).</summary>
    private static void ApplyEnvironmentOverrides(YamlMappingNode root, IReadOnlyDictionary<string, string> environment)
    {
        foreach (var (name, value) in environment)
        {
            if (!name.StartsWith(EnvOverridePrefix, StringComparison.OrdinalIgnoreCase)) continue;
            var parts = name[EnvOverridePrefix.Length..].Split("__", StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 0) continue;
            YamlNode current = root;
            for (var i = 0; i < parts.Length; i++)
            {
                var last = i == parts.Length - 1;
                var key = parts[i].ToLowerInvariant();
                if (current is YamlMappingNode m)
                {
                    var k = new YamlScalarNode(key);
                    if (last) { m.Children[k] = new YamlScalarNode(value); break; }
                    if (!m.Children.TryGetValue(k, out var next))
                    {
                        next = int.TryParse(parts[i + 1], out _) ? new YamlSequenceNode() : new YamlMappingNode();
                        m.Children[k] = next;
                    }
                    current = next;
                }
                else if (current is YamlSequenceNode s && int.TryParse(key, out var index) && index >= 0 && index < s.Children.Count)
                {
                    if (last) { s.Children[index] = new YamlScalarNode(value); break; }
                    current = s.Children[index];
                }
                else break;
            }
        }
    }

    private static Dictionary<string, string> ReadEnvironmentVariablesSection(YamlMappingNode root)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (root.Children.TryGetValue(new YamlScalarNode("environment_variables"), out var node) && node is YamlMappingNode map)
        {
            foreach (var (k, v) in map.Children)
            {
                if (k is YamlScalarNode { Value: { } key } && v is YamlScalarNode { Value: { } value }) result[key] = value;
            }
        }
        return result;
    }

    private static Dictionary<string, string> ProcessEnvironment()
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
        {
            if (e.Key is string k && e.Value is string v) result[k] = v;
        }
        return result;
    }
}
