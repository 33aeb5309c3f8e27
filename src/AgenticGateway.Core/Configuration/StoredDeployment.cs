using System.Text.Json;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace AgenticGateway.Configuration;

/// <summary>What validating one stored model gave: the deployment, or every error (paths relative to the model entry).</summary>
internal sealed record StoredDeploymentResult(DeploymentOptions? Deployment, IReadOnlyList<string> Errors, IReadOnlyList<string> Warnings);

/// <summary>
/// Validates a model added through the management API (/model/new, /model/update) by the very rules of a config file
/// entry: the entry is handed to <see cref="ConfigLoader"/> as a one-model LiteLLM model_list, so a model the API
/// accepts is one the config file would accept, and an invalid one gets the loader's own message.
/// </summary>
internal static class StoredDeployment
{
    private const string EntryPath = "model_list[0].";

    /// <param name="litellmParams">litellm_params as sent (environment references kept: they are resolved here, on each load).</param>
    /// <param name="modelInfo">model_info as sent, or null; its id is replaced by <paramref name="id"/>.</param>
    public static StoredDeploymentResult Build(string modelName, JsonElement litellmParams, JsonElement? modelInfo, string id)
    {
        var entry = new YamlMappingNode
        {
            { "model_name", Quoted(modelName) },
            { "litellm_params", ToYaml(litellmParams) },
        };
        var info = modelInfo is { ValueKind: JsonValueKind.Object } given ? (YamlMappingNode)ToYaml(given) : new YamlMappingNode();
        info.Children[new YamlScalarNode("id")] = Quoted(id);
        entry.Add("model_info", info);
        var root = new YamlMappingNode { { "model_list", new YamlSequenceNode(entry) } };

        var text = new StringWriter();
        new YamlStream(new YamlDocument(root)).Save(text, assignAnchors: false);
        // No AGW__ overrides: they address the config file, not a stored model. Strict: a deployment a file would have
        // skipped with a warning (a provider not served) is refused, naming why; the API has nowhere to show a warning.
        var result = ConfigLoader.Load(text.ToString(), "model", new Dictionary<string, string>(), strict: true);
        var errors = result.Errors.Select(Relative).ToList();
        var warnings = result.Warnings.Select(Relative).ToList();
        var deployment = result.Options?.Deployments.SingleOrDefault();
        if (deployment is null && errors.Count == 0) errors.AddRange(warnings.Count > 0 ? warnings : ["the model was not accepted"]);
        return new StoredDeploymentResult(errors.Count == 0 ? deployment : null, errors, warnings);
    }

    private static string Relative(string message) => message.StartsWith(EntryPath, StringComparison.Ordinal) ? message[EntryPath.Length..] : message;

    private static YamlScalarNode Quoted(string text) => new(text) { Style = ScalarStyle.DoubleQuoted };

    /// <summary>JSON as YAML; strings stay strings ("null", "20_000" and "yes" are not reinterpreted).</summary>
    private static YamlNode ToYaml(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => new YamlMappingNode(e.EnumerateObject().Select(p => new KeyValuePair<YamlNode, YamlNode>(new YamlScalarNode(p.Name), ToYaml(p.Value)))),
        JsonValueKind.Array => new YamlSequenceNode(e.EnumerateArray().Select(ToYaml)),
        JsonValueKind.String => Quoted(e.GetString()!),
        JsonValueKind.Number => new YamlScalarNode(e.GetRawText()),
        JsonValueKind.True => new YamlScalarNode("true"),
        JsonValueKind.False => new YamlScalarNode("false"),
        _ => new YamlScalarNode("null"),
    };
}
