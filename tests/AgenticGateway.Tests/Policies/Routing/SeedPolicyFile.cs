namespace AgenticGateway.Tests.Policies.Routing;

/// <summary>
/// Seed 003's three routing policies, verbatim, as the repository ships them for users
/// (examples/policies/routing-rules.cedar): every test that needs them reads that one file.
/// </summary>
internal static class SeedPolicyFile
{
    public static string Text { get; } = File.ReadAllText(Path.Combine(Deploy.DeployFiles.RepoRoot(), "examples", "policies", "routing-rules.cedar"));
}
