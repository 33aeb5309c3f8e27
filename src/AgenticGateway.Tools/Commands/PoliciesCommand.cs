using System.CommandLine;
using AgenticGateway.Cli;
using AgenticGateway.Configuration;
using AgenticGateway.Policies;

namespace AgenticGateway.Commands;

/// <summary>
/// <c>agw policies test CASES.yaml [--config FILE]</c>: routing policy unit tests. Each case is a request (model,
/// principal, context) and what the policies should make of it (the deployment, the decision, the policies named, the
/// allowed or preferred candidates). Exit 0 when every case passes, 1 when one fails (printed with the explain view),
/// 2 when the cases, the config or the policies cannot be loaded (every error, policy errors as file:line:column).
/// </summary>
internal static class PoliciesCommand
{
    public const int Passed = 0;
    public const int Failed = 1;
    public const int LoadError = 2;

    public static Command Command()
    {
        var cases = new Argument<string>("CASES.yaml") { Description = "the cases file: policies, deployments (optional) and cases (docs/policies.md)" };
        var config = CommonOptions.Config("a gateway config: its model_list (deployments, aliases) and routing_policies are used, the cases' deployments override theirs");
        var test = new Command("test", "Run routing policy unit tests: each case's request against the policies, its expected deployment or decision checked.")
        {
            cases, config,
        };
        test.SetAction(result => Test(result.GetValue(cases)!, result.GetValue(config), Console.Out, Console.Error, DateTimeOffset.UtcNow));
        return new Command("policies", "Routing policies (Cedar).") { test };
    }

    internal static int Test(string casesPath, string? configPath, TextWriter output, TextWriter error, DateTimeOffset now)
    {
        var full = Path.GetFullPath(casesPath);
        if (!File.Exists(full)) return Report(error, "The cases file cannot be used", [$"{casesPath}: no such cases file"]);
        var errors = new List<string>();
        if (PolicyTestFile.Read(full, errors) is not { } file) return Report(error, "The cases file cannot be used", errors);

        GatewayOptions? options = null;
        if (configPath is not null)
        {
            var loaded = ConfigLoader.LoadFile(configPath);
            if (loaded.Options is null) return Report(error, $"The configuration {configPath} is invalid", loaded.Errors);
            options = loaded.Options;
        }

        var policiesPath = file.PoliciesPath is { } given ? Path.GetFullPath(given, Path.GetDirectoryName(full)!) : options?.RoutingPolicies?.Path;
        if (policiesPath is null)
            return Report(error, "No policies to test", [$"{casesPath}: give 'policies: FILE' (or a directory), or --config with routing_policies"]);
        var compiled = RoutingPolicyFiles.Compile(policiesPath);
        if (!compiled.Succeeded) return Report(error, "The policies cannot be loaded", compiled.Errors);

        var deployments = options?.Deployments ?? [];
        var overrides = new Dictionary<string, PolicyTestDeployment>(StringComparer.Ordinal);
        foreach (var d in file.Deployments ?? [])
        {
            var configured = deployments.FirstOrDefault(x => x.Id == d.Id);
            if (configured is not null)
            {
                if (d.ModelGroup is { } group && group != configured.ModelName)
                    errors.Add($"{casesPath}: {d.Path}.model_group: '{d.Id}' is in '{configured.ModelName}' in the config, not '{group}'");
                overrides[d.Id] = d;
            }
            else if (d.ModelGroup is null or "" || d.Provider is null or "")
            {
                errors.Add($"{casesPath}: {d.Path}: '{d.Id}' is not a deployment of the config" + (options is null ? "" : $" ({string.Join(", ", deployments.Select(x => x.Id))})")
                    + "; give model_group and provider to add it");
            }
            else
            {
                deployments = deployments.Add(PolicyTestRunner.Synthesize(d));
                overrides[d.Id] = d;
            }
        }
        if (errors.Count == 0 && deployments.IsEmpty)
            errors.Add($"{casesPath}: no deployments: list them under 'deployments:' or give --config with a model_list");
        if (errors.Count > 0) return Report(error, "The cases file cannot be used", errors);

        output.WriteLine($"{compiled.Set!.Policies.Length} polic{(compiled.Set.Policies.Length == 1 ? "y" : "ies")} from {string.Join(", ", compiled.Files)}");
        var runner = new PolicyTestRunner(compiled.Set, deployments, overrides, options?.Aliases ?? System.Collections.Immutable.ImmutableDictionary<string, AliasOptions>.Empty, output);
        return runner.Run(file.Cases, now) == 0 ? Passed : Failed;
    }

    private static int Report(TextWriter error, string title, IReadOnlyCollection<string> errors)
    {
        error.WriteLine($"{title} ({errors.Count} error{(errors.Count == 1 ? "" : "s")}):");
        foreach (var e in errors) error.WriteLine($"  - {e}");
        return LoadError;
    }
}
