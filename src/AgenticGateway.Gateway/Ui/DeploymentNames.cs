using AgenticGateway.Routing;
using AgenticGateway.Runtime;

namespace AgenticGateway.Ui;

/// <summary>
/// What people call a deployment: its provider and upstream model ("openai/gpt-4o"), as a LiteLLM config writes it,
/// with the API base's host added only where two deployments would otherwise read the same (a load-balanced pair).
/// Ids are hashes: the UI shows them beside the name, not instead of it.
/// </summary>
internal static class DeploymentNames
{
    public static Dictionary<string, string> Of(GatewayRuntime runtime)
    {
        var all = runtime.AllDeployments;
        var plain = all.GroupBy(Plain).ToDictionary(g => g.Key, g => g.Count());
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var d in all)
        {
            var name = Plain(d);
            names[d.Id] = plain[name] > 1 ? $"{name} @ {d.Options.ApiBase.Authority}" : name;
        }
        return names;
    }

    private static string Plain(Deployment d) => $"{d.ProviderName}/{d.Options.Model}";
}
