using AgenticGateway.Yaml;

namespace AgenticGateway.Configuration;

/// <summary>
/// <c>routing_policies:</c> (ours, accepted in a LiteLLM config too): Cedar policies that choose among a model group's
/// deployments (docs/policies.md). Null in <see cref="GatewayOptions"/> when not configured: then no policy code runs.
/// </summary>
internal sealed record RoutingPolicyOptions
{
    /// <summary>A .cedar file, or a directory whose *.cedar files are read in name order; absolute once loaded.</summary>
    public required string Path { get; init; }
    /// <summary>Shadow mode: policies are evaluated, recorded and reported in a header, but do not change the routing.</summary>
    public bool DryRun { get; init; }
    /// <summary>Share of allowed decisions written to routing_decisions (denials and dry-run disagreements always are).</summary>
    public double DecisionSampleRate { get; init; } = 0.1;
    /// <summary>Reload when the file (or a file in the directory) changes.</summary>
    public bool Watch { get; init; } = true;
    /// <summary>
    /// How long routing_decisions rows are kept. Denials are always written, so without a limit a key hammering a
    /// forbidden model would grow the table without end.
    /// </summary>
    public TimeSpan DecisionRetention { get; init; } = DefaultDecisionRetention;

    public static readonly TimeSpan DefaultDecisionRetention = TimeSpan.FromDays(30);
    /// <summary>Ten years: beyond that a table is an archive, which an operator's own export is for.</summary>
    private static readonly TimeSpan MaxDecisionRetention = TimeSpan.FromDays(3650);

    /// <summary>Reads the section; null when absent or unusable (its errors are reported with their paths).</summary>
    public static RoutingPolicyOptions? Read(ConfigMap? section)
    {
        if (section is null) return null;
        var file = section.String("file");
        var dryRun = section.Bool("dry_run");
        if (section.String("mode") is { } mode)
        {
            // "shadow" is the name seed 003 uses for dry-run; "enforce" is the default spelled out.
            if (mode is "shadow" or "dry_run") dryRun ??= true;
            else if (mode is "enforce") dryRun ??= false;
            else section.Context.Issues.Error(section.Child("mode"), $"unknown mode '{mode}' (enforce, shadow)");
        }
        var rate = section.Double("decision_sample_rate", 0);
        if (rate is > 1) section.Context.Issues.Error(section.Child("decision_sample_rate"), "must be between 0 and 1");
        var watch = section.Bool("watch");
        var retention = section.Duration("decision_retention", positive: true, max: MaxDecisionRetention);
        section.ReportUnknownKeys(strict: true);
        if (file is null || file.Length == 0)
        {
            section.Context.Issues.Error(section.Child("file"), "a policy file or directory is required");
            return null;
        }
        return new RoutingPolicyOptions
        {
            Path = file,
            DryRun = dryRun ?? false,
            DecisionSampleRate = rate is >= 0 and <= 1 ? rate.Value : 0.1,
            Watch = watch ?? true,
            DecisionRetention = retention ?? DefaultDecisionRetention,
        };
    }
}
