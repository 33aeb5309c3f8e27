using System.Collections.Immutable;
using AgenticGateway.Cedar;
using AgenticGateway.Yaml;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace AgenticGateway.Policies;

/// <summary>A deployment of a cases file: its identity, and the attributes that override (or, without a config, make) it.</summary>
internal sealed record PolicyTestDeployment(string Id, string? ModelGroup, string? Provider, string? Model, CedarRecord Attributes, string Path);

/// <summary>What a case expects; null parts are not checked (at least one is set).</summary>
internal sealed record PolicyTestExpectation(string? Deployment, string? Decision, ImmutableArray<string>? Policies, ImmutableArray<string>? Allowed,
    ImmutableArray<string>? Preferred);

/// <summary>One case: a request to a model group (or alias) by a principal, with a context, and what the policies should make of it.</summary>
internal sealed record PolicyTestCase(string Name, string RequestedModel, CedarRecord Principal, CedarRecord Context, PolicyTestExpectation Expect, string Path);

/// <summary>
/// The cases file of <c>agw policies test</c> (docs/policies.md): <c>policies</c> (a file or directory, relative to the
/// cases file), optional <c>deployments</c>, and <c>cases</c>. Values become Cedar values as a policy sees them from the
/// gateway: whole numbers are Long, numbers with a fraction decimal, lists sets, mappings records; the attributes the
/// gateway gives as decimals (latencies, error rates, prices, budgets) are decimals even when written whole.
/// </summary>
internal sealed record PolicyTestFile(string? PoliciesPath, ImmutableArray<PolicyTestDeployment>? Deployments, ImmutableArray<PolicyTestCase> Cases)
{
    /// <summary>Larger cases files are refused before they are read.</summary>
    public const long MaxBytes = 4 * 1024 * 1024;
    private const int MaxDepth = 16;

    private static readonly HashSet<string> DecimalAttributes = new(StringComparer.Ordinal)
    {
        "average_latency_ms", "time_to_first_token_ms", "current_error_rate", "input_cost_per_token", "output_cost_per_token",
        "cost_budget_remaining", "spend", "max_budget",
    };

    private static readonly HashSet<string> LongAttributes = new(StringComparer.Ordinal)
    {
        "max_input_tokens", "max_output_tokens", "in_flight", "rpm", "tpm", "latency_sla_ms", "now", "hour", "request_bytes",
    };

    private static readonly string[] Decisions = [RoutingDecision.Allow, RoutingDecision.Deny];

    /// <summary>The file read, or null with every error in <paramref name="errors"/> (<c>file: path: message</c>).</summary>
    public static PolicyTestFile? Read(string file, List<string> errors)
    {
        string text;
        try
        {
            var length = new FileInfo(file).Length;
            if (length > MaxBytes)
            {
                errors.Add($"{file}: {length} bytes; a cases file may hold at most {MaxBytes} bytes");
                return null;
            }
            text = File.ReadAllText(file);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            errors.Add($"{file}: cannot read the cases file: {ex.Message}");
            return null;
        }
        YamlMappingNode root;
        try
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(text));
            root = stream.Documents.Count == 0 ? new YamlMappingNode() : stream.Documents[0].RootNode as YamlMappingNode
                ?? throw new YamlException("the document must be a mapping (policies, deployments, cases)");
        }
        catch (YamlException ex)
        {
            errors.Add($"{file}:{ex.Start.Line}:{ex.Start.Column}: invalid YAML: {ex.Message}");
            return null;
        }
        var issues = new ConfigIssues();
        var map = new ConfigMap(root, "", new ConfigContext(issues, EnvInterpolator.FromProcess()));
        var result = Read(map);
        errors.AddRange(issues.Errors.Select(e => $"{file}: {e}"));
        return issues.HasErrors ? null : result;
    }

    private static PolicyTestFile Read(ConfigMap map)
    {
        var issues = map.Context.Issues;
        var policies = map.String("policies");
        ImmutableArray<PolicyTestDeployment>? deployments = null;
        if (map.Has("deployments"))
        {
            var list = ImmutableArray.CreateBuilder<PolicyTestDeployment>();
            foreach (var (node, path) in map.Sequence("deployments"))
            {
                if (map.AsMap(node, path) is { } d && ReadDeployment(d) is { } deployment)
                {
                    if (list.Any(x => x.Id == deployment.Id)) issues.Error(d.Child("id"), $"deployment '{deployment.Id}' is listed twice");
                    else list.Add(deployment);
                }
            }
            deployments = list.ToImmutable();
        }
        var cases = ImmutableArray.CreateBuilder<PolicyTestCase>();
        foreach (var (node, path) in map.Sequence("cases"))
        {
            if (map.AsMap(node, path) is { } c && ReadCase(c, cases.Count) is { } testCase) cases.Add(testCase);
        }
        if (!map.Has("cases")) issues.Error("cases", "required: a list of cases (name, requested_model, context, expect)");
        else if (cases.Count == 0 && !issues.HasErrors) issues.Error("cases", "the list is empty");
        map.ReportUnknownKeys(strict: true);
        return new PolicyTestFile(policies, deployments, cases.ToImmutable());
    }

    private static PolicyTestDeployment? ReadDeployment(ConfigMap d)
    {
        var id = d.String("id");
        var group = d.String("model_group");
        var provider = d.String("provider");
        var model = d.String("model");
        if (id is null or "") d.Context.Issues.Error(d.Child("id"), "required: the deployment's id");
        var attributes = new List<KeyValuePair<string, CedarValue>>();
        foreach (var key in d.Keys.ToList())
        {
            if (key is "id" or "model_group" or "provider" or "model") continue;
            if (Value(d, key) is { } value) attributes.Add(new(key, value));
        }
        // The identity keys are attributes too, as the gateway gives them.
        if (provider is not null) attributes.Add(new("provider", CedarValue.String(provider)));
        if (model is not null) attributes.Add(new("model", CedarValue.String(model)));
        return id is null or "" ? null : new PolicyTestDeployment(id, group, provider, model, new CedarRecord(attributes), d.Path);
    }

    private static PolicyTestCase? ReadCase(ConfigMap c, int index)
    {
        var issues = c.Context.Issues;
        var name = c.String("name") ?? $"case {index + 1}";
        var requested = c.String("requested_model");
        if (requested is null or "") issues.Error(c.Child("requested_model"), "required: the model group or alias the request names");
        var principal = Record(c, "principal");
        var context = Record(c, "context");
        var expect = c.Map("expect") is { } e ? ReadExpectation(e) : null;
        if (!c.Has("expect")) issues.Error(c.Child("expect"), "required: {deployment: ID} or {decision: deny}, {allowed: [..]}, {preferred: [..]}, {policies: [..]}");
        c.ReportUnknownKeys(strict: true);
        return requested is null or "" || expect is null ? null : new PolicyTestCase(name, requested, principal, context, expect, c.Path);
    }

    private static PolicyTestExpectation? ReadExpectation(ConfigMap e)
    {
        var deployment = e.String("deployment");
        var decision = e.String("decision");
        if (decision is not null && !Decisions.Contains(decision))
        {
            e.Context.Issues.Error(e.Child("decision"), $"expected allow or deny, got '{decision}'");
            decision = null;
        }
        ImmutableArray<string>? List(string key) => e.Has(key) ? e.StringList(key) : null;
        var expectation = new PolicyTestExpectation(deployment, decision, List("policies"), List("allowed"), List("preferred"));
        e.ReportUnknownKeys(strict: true);
        if (expectation is { Deployment: null, Decision: null, Policies: null, Allowed: null, Preferred: null })
        {
            e.Context.Issues.Error(e.Path, "expects nothing: give deployment, decision, policies, allowed or preferred");
            return null;
        }
        return expectation;
    }

    private static CedarRecord Record(ConfigMap owner, string key)
    {
        if (owner.Map(key) is not { } map) return CedarRecord.Empty;
        var attributes = new List<KeyValuePair<string, CedarValue>>();
        foreach (var name in map.Keys.ToList())
        {
            if (Value(map, name) is { } value) attributes.Add(new(name, value));
        }
        return new CedarRecord(attributes);
    }

    /// <summary>An attribute's value, typed as the gateway types it; null (reported) when it cannot be one.</summary>
    private static CedarValue? Value(ConfigMap map, string key)
    {
        var path = map.Child(key);
        var node = map.RawNode(key)!;
        var value = ToCedar(node, path, map.Context.Issues, 0);
        if (value is not { } v) return null;
        if (DecimalAttributes.Contains(key) && v.Kind == CedarKind.Long) return CedarValue.Decimal(v.AsLong);
        if (LongAttributes.Contains(key) && v.Kind == CedarKind.Decimal)
        {
            if (v.AsDecimal == decimal.Truncate(v.AsDecimal) && v.AsDecimal is >= long.MinValue and <= long.MaxValue) return CedarValue.Long((long)v.AsDecimal);
            map.Context.Issues.Error(path, $"expected a whole number, got {v.AsDecimal}");
            return null;
        }
        return v;
    }

    /// <summary>
    /// A YAML value as Cedar's: plain scalars resolve as YAML 1.1 does (booleans, whole numbers, numbers with a fraction
    /// as decimals), quoted ones stay strings, sequences are sets and mappings records. A null is reported: Cedar has none.
    /// </summary>
    private static CedarValue? ToCedar(YamlNode node, string path, ConfigIssues issues, int depth)
    {
        if (depth > MaxDepth)
        {
            issues.Error(path, $"nested deeper than {MaxDepth} levels");
            return null;
        }
        switch (node)
        {
            case YamlScalarNode { Style: ScalarStyle.Plain } s:
                var text = s.Value ?? "";
                if (text is "" or "~" or "null" or "Null" or "NULL")
                {
                    issues.Error(path, "a null value: Cedar has none (leave the attribute out to make it absent)");
                    return null;
                }
                if (text is "true" or "True" or "TRUE" or "yes" or "Yes" or "YES" or "on" or "On" or "ON") return CedarValue.True;
                if (text is "false" or "False" or "FALSE" or "no" or "No" or "NO" or "off" or "Off" or "OFF") return CedarValue.False;
                if (Yaml11Numbers.TryInteger(text, out var integer)) return CedarValue.Long(integer);
                if (Yaml11Numbers.Normalize(text) is { } number
                    && decimal.TryParse(number, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var d))
                    return CedarValue.Decimal(d);
                return CedarValue.String(text);
            case YamlScalarNode s:
                return CedarValue.String(s.Value ?? "");
            case YamlSequenceNode seq:
                var items = ImmutableArray.CreateBuilder<CedarValue>(seq.Children.Count);
                for (var i = 0; i < seq.Children.Count; i++)
                {
                    if (ToCedar(seq.Children[i], $"{path}[{i}]", issues, depth + 1) is { } item) items.Add(item);
                }
                return CedarValue.Set(items.ToImmutable());
            case YamlMappingNode map:
                var attributes = new List<KeyValuePair<string, CedarValue>>(map.Children.Count);
                foreach (var (k, v) in map.Children)
                {
                    if (k is not YamlScalarNode { Value: { } name })
                    {
                        issues.Error(path, "expected text keys");
                        return null;
                    }
                    if (ToCedar(v, $"{path}.{name}", issues, depth + 1) is { } value) attributes.Add(new(name, value));
                }
                return CedarValue.Record(new CedarRecord(attributes));
            default:
                issues.Error(path, "expected a value");
                return null;
        }
    }
}
