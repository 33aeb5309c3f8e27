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
    public McpOptions Mcp { get; init; } = new();
    public BudgetOptions Budgets { get; init; } = new();
    public ResponsesOptions Responses { get; init; } = new();
    public System.Collections.Immutable.ImmutableArray<PassThroughEndpoint> PassThroughEndpoints { get; init; } = [];
    public bool StoreModelInDb { get; init; }
    public CacheOptions Cache { get; init; } = CacheOptions.Off;
    public Edge.EdgeStaticConfig Edge { get; init; } = AgenticGateway.Edge.EdgeStaticConfig.Empty;
    public GuardrailOptions Guardrails { get; init; } = GuardrailOptions.None;
    public RoutingPolicyOptions? RoutingPolicies { get; init; }
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
    /// <param name="strict">--strict: a deployment the gateway would skip to start (a provider it does not serve) is an error.</param>
    public static ConfigLoadResult LoadFile(string path, IReadOnlyDictionary<string, string>? environment = null, bool allowUnsupported = false, bool strict = false)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return new ConfigLoadResult(null, [$"{path}: cannot read config file: {ex.Message}"], []);
        }
        return Load(text, Path.GetFullPath(path), environment, allowUnsupported, strict);
    }

    /// <param name="variables">What os.environ/NAME and ${NAME} read, instead of the process environment (tests that must not depend on it).</param>
    public static ConfigLoadResult Load(string yaml, string source, IReadOnlyDictionary<string, string>? environment = null, bool allowUnsupported = false, bool strict = false,
        IReadOnlyDictionary<string, string>? variables = null)
    {
        var issues = new ConfigIssues(allowUnsupported, strict);
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

        environment ??= ProcessEnvironment();
        ApplyEnvironmentOverrides(root, environment, issues);
        var extraEnv = ReadEnvironmentVariablesSection(root);
        var env = variables is null ? EnvInterpolator.FromProcess(extraEnv)
            : new EnvInterpolator(name => extraEnv.TryGetValue(name, out var v) ? v : variables.GetValueOrDefault(name));
        var context = new ConfigContext(issues, env);
        var map = new ConfigMap(root, "", context);

        var isLiteLlm = map.Keys.Any(k => k is "model_list" or "litellm_settings" or "router_settings" or "general_settings");
        var mapped = isLiteLlm ? LiteLlmMapper.Map(map) : OwnSchemaMapper.Map(map);
        var (specs, router) = (mapped.Deployments, mapped.Router);

        var deployments = ImmutableArray.CreateBuilder<DeploymentOptions>();
        var ids = new Dictionary<string, DeploymentSpec>(StringComparer.Ordinal);
        var skippedGroups = new HashSet<string>(StringComparer.Ordinal);
        foreach (var spec in specs)
        {
            if (spec.Build(context) is not { } candidate)
            {
                if (spec.Skipped && spec.ModelName is { } skippedName) skippedGroups.Add(skippedName);
                continue;
            }
            if (UniqueId(candidate, spec, ids, issues) is not { } d) continue;
            deployments.Add(d);
            // A wildcard is priced per request, by the upstream model each one resolves to.
            if (!d.IsWildcard && d.ResolvedPrice is null)
                issues.Warning(spec.Path, $"no price is known for model '{d.Model}' (deployment {d.Id}): its requests are recorded at $0, and callers with a budget "
                    + "are refused on it unless budgets.allow_unpriced_models is true. Set input_cost_per_token and output_cost_per_token (0 for a free model).");
        }
        // With store_model_in_db the models may all come from the database (LiteLLM starts with an empty model_list).
        // A gateway used as an edge only (Traefik's configuration, no LLM) needs no model.
        if (specs.Count == 0 && !mapped.StoreModelInDb && !mapped.Edge.IsEnabled) issues.Error(isLiteLlm ? "model_list" : "models", "at least one model is required");

        // An operator's model cost map that cannot be read, or entries it skipped, are said where config warnings are.
        if (Pricing.ModelCostMap.OperatorError is { } mapError) issues.Warning("", mapError);
        foreach (var skipped in Pricing.ModelCostMap.Operator?.Warnings ?? []) issues.Warning("", skipped);

        var built = deployments.ToImmutable();
        // The skipped deployments' own groups are gone; a group that still has others stays.
        skippedGroups.ExceptWith(built.Select(d => d.ModelName));
        if (specs.Count > 0 && built.Length == 0 && !issues.HasErrors) issues.Error(isLiteLlm ? "model_list" : "models", "no model is left to serve: every deployment was skipped");
        ValidateReferences(built, router, issues, skippedGroups);
        var routingPolicies = RoutingPolicyFiles.Validate(mapped.RoutingPolicies, source, issues);
        // Hosts find each other's sandboxes in the Redis the limits share.
        if (mapped.Sandboxes.Hosts is not null && !mapped.Storage.RedisUrl.IsSet)
            issues.Error("sandboxes.hosts", "needs a Redis that every host shares: set storage.redis_url (or REDIS_URL)");

        if (issues.HasErrors) return new ConfigLoadResult(null, issues.Errors, issues.Warnings);
        var options = new GatewayOptions
        {
            Server = mapped.Server,
            MasterKey = mapped.MasterKey.IsSet ? mapped.MasterKey : MasterKeyFromEnvironment(environment),
            Deployments = built,
            Aliases = router.Aliases.ToImmutableDictionary(StringComparer.Ordinal),
            Router = router.Options,
            Logging = mapped.Logging,
            Tracing = mapped.Tracing,
            Storage = mapped.Storage with { DataDirectory = StorageOptions.Resolve(mapped.Storage.DataDirectory, source) },
            Jwt = mapped.Jwt,
            Alerts = mapped.Alerts,
            Sandboxes = mapped.Sandboxes,
            Mcp = mapped.Mcp,
            Budgets = mapped.Budgets,
            Responses = mapped.Responses,
            Edge = mapped.Edge,
            PassThroughEndpoints = mapped.PassThroughEndpoints,
            StoreModelInDb = mapped.StoreModelInDb,
            Guardrails = mapped.Guardrails,
            Cache = mapped.Cache,
            RoutingPolicies = routingPolicies,
            Source = source,
        };
        return new ConfigLoadResult(options, [], issues.Warnings);
    }

    /// <summary>The environment variables that set the master key when the file has none, first set wins.</summary>
    public static readonly string[] MasterKeyEnv = ["AGW_MASTER_KEY", "LITELLM_MASTER_KEY"];

    /// <summary>
    /// A master key without a config file, or with one that sets none: AGW_MASTER_KEY, else LiteLLM's
    /// LITELLM_MASTER_KEY. The file's master_key wins, as in LiteLLM (<c>general_settings.get("master_key",
    /// get_secret("LITELLM_MASTER_KEY"))</c> in its proxy_server.py), so a file that names its key keeps it.
    /// </summary>
    private static Secret MasterKeyFromEnvironment(IReadOnlyDictionary<string, string> environment) =>
        new(MasterKeyEnv.Select(n => environment.GetValueOrDefault(n)).FirstOrDefault(v => !string.IsNullOrWhiteSpace(v))?.Trim());


    /// <summary>
    /// The deployment with an id no other has. An id set in model_info.id twice is an error that names both entries; a
    /// derived id seen twice is the same entry listed twice (LiteLLM's load_balancer.yaml does so to weigh it double):
    /// the second gets a numbered id and both serve.
    /// </summary>
    private static DeploymentOptions? UniqueId(DeploymentOptions d, DeploymentSpec spec, Dictionary<string, DeploymentSpec> ids, ConfigIssues issues)
    {
        if (!ids.TryGetValue(d.Id, out var first))
        {
            ids[d.Id] = spec;
            return d;
        }
        if (spec.Id is not null || first.Id is not null)
        {
            issues.Error(spec.Path, $"deployment id '{d.Id}' is already used by {first.Path}; ids must be unique: give one of them another model_info.id (or remove both, and ids are derived from each entry)");
            return null;
        }
        var n = 2;
        while (ids.ContainsKey($"{d.Id}-{n}")) n++;
        var renamed = d with { Id = $"{d.Id}-{n}" };
        ids[renamed.Id] = spec;
        issues.Warning(spec.Path, $"the same deployment as {first.Path}; both are served (it gets twice the share of '{d.ModelName}'), as deployment {renamed.Id}");
        return renamed;
    }

    private static void ValidateReferences(ImmutableArray<DeploymentOptions> deployments, RouterSpec router, ConfigIssues issues, HashSet<string> skippedGroups)
    {
        var groups = deployments.Select(d => d.ModelName).ToHashSet(StringComparer.Ordinal);
        var wildcards = deployments.Where(d => d.IsWildcard).Select(d => d.ModelName[..^1]).ToArray();
        bool Exists(string name) => groups.Contains(name) || router.Aliases.ContainsKey(name) || wildcards.Any(w => name.StartsWith(w, StringComparison.Ordinal));

        foreach (var (path, group) in router.GroupReferences)
        {
            if (Exists(group)) continue;
            // A group whose deployments were skipped was reported with them; the reference to it is left out too.
            if (skippedGroups.Contains(group)) issues.Warning(path, $"model group '{group}' is not served (its deployments were skipped); ignored here");
            else issues.Error(path, $"unknown model group '{group}' (configured: {string.Join(", ", groups.Order())})");
        }
        foreach (var (alias, target) in router.Aliases)
        {
            if (groups.Contains(alias)) issues.Error($"model_group_alias.{alias}", $"alias '{alias}' has the same name as a model group");
            if (router.Aliases.ContainsKey(target.Target)) issues.Error($"model_group_alias.{alias}", $"alias '{alias}' points to another alias '{target.Target}'");
        }
        foreach (var big in deployments.GroupBy(d => d.ModelName).Where(g => g.Count() > DeploymentOptions.MaxPerGroup))
            issues.Error("model_list", $"model group '{big.Key}' has {big.Count()} deployments; at most {DeploymentOptions.MaxPerGroup} are supported per group");
    }

    /// <summary>
    /// AGW__router__num_retries=3 sets router.num_retries; an index selects a list item (AGW__models__0__api_key) or,
    /// one past the end, adds one (AGW__sandboxes__egress__allow_hosts__0=pypi.org on a file without that list). Applied
    /// in path order with indexes compared as numbers, so __0, __1, ... __10 build a list in order. An override that
    /// cannot apply (an index past the end, a key under a plain value) is an error: dropped, it would leave a setting
    /// silently other than asked, such as an empty egress list.
    /// </summary>
    private static void ApplyEnvironmentOverrides(YamlMappingNode root, IReadOnlyDictionary<string, string> environment, ConfigIssues issues)
    {
        var overrides = new List<(string Name, string[] Parts, string Value)>();
        foreach (var (name, value) in environment)
        {
            if (!name.StartsWith(EnvOverridePrefix, StringComparison.OrdinalIgnoreCase)) continue;
            var parts = name[EnvOverridePrefix.Length..].Split("__", StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length > 0) overrides.Add((name, parts, value));
        }
        overrides.Sort(static (a, b) => ComparePaths(a.Parts, b.Parts));
        foreach (var (name, parts, value) in overrides)
        {
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
                else if (current is YamlSequenceNode s && int.TryParse(key, out var index) && index >= 0 && index <= s.Children.Count)
                {
                    if (index == s.Children.Count) s.Children.Add(last ? new YamlScalarNode(value) : int.TryParse(parts[i + 1], out _) ? new YamlSequenceNode() : new YamlMappingNode());
                    else if (last) s.Children[index] = new YamlScalarNode(value);
                    if (last) break;
                    current = s.Children[index];
                }
                else
                {
                    issues.Error(name, current is YamlSequenceNode list
                        ? $"'{parts[i]}' is not an index of that list (it has {list.Children.Count} items; the next is {list.Children.Count})"
                        : $"'{string.Join("__", parts[..i])}' is a single value: it has no '{parts[i]}'");
                    break;
                }
            }
        }
    }

    /// <summary>Path order, numbers as numbers: models__2 before models__10.</summary>
    private static int ComparePaths(string[] a, string[] b)
    {
        for (var i = 0; i < Math.Min(a.Length, b.Length); i++)
        {
            var c = int.TryParse(a[i], out var x) && int.TryParse(b[i], out var y) ? x.CompareTo(y) : string.Compare(a[i], b[i], StringComparison.OrdinalIgnoreCase);
            if (c != 0) return c;
        }
        return a.Length.CompareTo(b.Length);
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
