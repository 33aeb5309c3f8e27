using System.Text;
using System.Text.Json;

namespace AgenticGateway.Configuration;

/// <summary>
/// <c>agw --model openai/gpt-4o [--model ...] [--alias NAME] [--api_base URL]</c>: serves the named models with no
/// config file, as LiteLLM's <c>litellm --model</c> does. Each model's API key and base URL come from its provider's
/// environment variables (OPENAI_API_KEY, OPENAI_BASE_URL, ANTHROPIC_API_KEY, ...), as in a config file that names no
/// api_key. The options become a LiteLLM config (model_list and model_group_alias) loaded like any file, so the same
/// validation applies and its errors name the option.
/// </summary>
/// <remarks>
/// Where LiteLLM differs: <c>litellm --model</c> takes one model and sends every request to it whatever model the
/// client names; here <c>--model</c> repeats and each model is served under its names (the upstream name, the full
/// <c>provider/model</c> string, or the alias), so GET /v1/models lists what is really there.
/// </remarks>
internal static class QuickStart
{
    public const string Source = "command line (--model)";

    /// <param name="models">--model values, in order (duplicates are served once).</param>
    /// <param name="alias">--alias: the public name of the single --model.</param>
    /// <param name="apiBase">--api_base: the base URL of every --model.</param>
    /// <param name="environment">For tests; null reads the process environment.</param>
    public static ConfigLoadResult Load(IReadOnlyList<string> models, string? alias, string? apiBase, IReadOnlyDictionary<string, string>? environment = null)
    {
        var distinct = models.Select(m => m.Trim()).Where(m => m.Length > 0).Distinct(StringComparer.Ordinal).ToList();
        if (distinct.Count == 0) return Failed("--model needs a model, such as openai/gpt-4o");
        if (alias is not null && distinct.Count > 1) return Failed("--alias names one model: give it with a single --model, or use a config file for several");

        var yaml = new StringBuilder("model_list:\n");
        var aliases = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var model in distinct)
        {
            var name = alias ?? PublicName(model);
            yaml.Append("  - model_name: ").Append(Quote(name)).Append('\n')
                .Append("    litellm_params:\n")
                .Append("      model: ").Append(Quote(model)).Append('\n');
            if (apiBase is not null) yaml.Append("      api_base: ").Append(Quote(apiBase)).Append('\n');
            // The full string is a name too (clients written for `litellm --model` send it).
            if (model != name) aliases.TryAdd(model, name);
        }
        var groups = distinct.Select(m => alias ?? PublicName(m)).ToHashSet(StringComparer.Ordinal);
        var hidden = aliases.Where(a => !groups.Contains(a.Key)).ToList();
        if (hidden.Count > 0)
        {
            // Hidden: /v1/models lists each model once, under its public name.
            yaml.Append("router_settings:\n  model_group_alias:\n");
            foreach (var (from, to) in hidden)
                yaml.Append("    ").Append(Quote(from)).Append(": {model: ").Append(Quote(to)).Append(", hidden: true}\n");
        }

        // Strict: a model named on the command line is never skipped (a provider not served is an error naming it).
        var result = ConfigLoader.Load(yaml.ToString(), Source, environment, strict: true);
        // The generated file's paths mean nothing to the user: name the option instead.
        string Reword(string message)
        {
            for (var i = 0; i < distinct.Count; i++)
            {
                var prefix = $"model_list[{i}]";
                if (!message.StartsWith(prefix, StringComparison.Ordinal)) continue;
                var rest = message[prefix.Length..];
                var option = rest.StartsWith(".litellm_params.api_base", StringComparison.Ordinal) ? $"--api_base {apiBase}" : $"--model {distinct[i]}";
                return option + ": " + rest[(rest.IndexOf(": ", StringComparison.Ordinal) is var colon and >= 0 ? colon + 2 : 0)..];
            }
            return message;
        }
        var warnings = result.Warnings.Select(Reword).ToList();
        if (result.Options is { } options)
        {
            foreach (var d in options.Deployments)
            {
                if (d.ApiKey.IsSet || !ProviderCatalog.TryGet(d.Provider, out var provider) || provider.ApiKeyEnv.Length == 0) continue;
                warnings.Add($"--model {d.Provider}/{d.Model}: no API key in {string.Join(" or ", provider.ApiKeyEnv)}; the provider will refuse its requests until one is set");
            }
        }
        // An alias of a model that failed only repeats that model's error.
        var errors = result.Errors.Where(e => !e.StartsWith("router_settings.model_group_alias.", StringComparison.Ordinal) || result.Errors.All(o => o.StartsWith("router_settings.", StringComparison.Ordinal)));
        return new ConfigLoadResult(result.Options, errors.Select(Reword).ToList(), warnings);
    }

    /// <summary>The name clients use: the model without its provider (<c>openai/gpt-4o</c> is <c>gpt-4o</c>).</summary>
    private static string PublicName(string model)
    {
        var slash = model.IndexOf('/');
        return slash > 0 && slash < model.Length - 1 && ProviderCatalog.TryGet(model[..slash], out _) ? model[(slash + 1)..] : model;
    }

    // A JSON string is a YAML double-quoted scalar (same escapes): any model name or URL goes in as it is.
    private static string Quote(string value) => "\"" + JsonEncodedText.Encode(value).ToString() + "\"";

    private static ConfigLoadResult Failed(string error) => new(null, [error], []);
}
