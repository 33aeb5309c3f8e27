using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using AgenticGateway.Configuration;
using AgenticGateway.Routing;
using AgenticGateway.Runtime;
using AgenticGateway.Safety.Guardrails;

namespace AgenticGateway.Guardrails.Remote;

/// <summary>
/// LiteLLM's <c>openai_moderation</c>: the texts (joined, as LiteLLM sends them) go to an OpenAI-compatible
/// <c>/moderations</c>; a flagged result blocks, with the categories that flagged it (LiteLLM's "Violated OpenAI
/// moderation policy"). Where <c>model</c> is a model group of this gateway and no <c>api_base</c> is set, the group's
/// first OpenAI-compatible deployment answers, with its own base URL and key; otherwise <c>api_base</c> and
/// <c>api_key</c> (default OpenAI and <c>OPENAI_API_KEY</c>), as LiteLLM does. Moderation is free at OpenAI: no spend is logged.
/// </summary>
internal sealed class ModerationGuardrail(GuardrailDefinition definition, OpenAiModerationSettings settings, RemoteGuardrailHttp http, RuntimeHolder runtimes) : IGuardrail
{
    public GuardrailDefinition Definition => definition;

    public async ValueTask<GuardrailVerdict> CheckAsync(GuardrailCheck check, CancellationToken ct)
    {
        var text = string.Join('\n', check.Texts.Where(t => t.Length > 0));
        if (text.Length == 0) return GuardrailVerdict.Allowed;

        var (endpoint, model, headers, invoker) = Target();
        if (endpoint is null) return new RemoteFailure("no API key: set api_key, OPENAI_API_KEY, or name a model group of the gateway in model", false).Verdict(definition.Name, settings.Fallback);
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new ByteArrayContent(Body(model, text)) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        foreach (var (name, value) in headers) request.Headers.TryAddWithoutValidation(name, value);

        var (answer, failure) = await http.PostJsonAsync(request, settings.Timeout, ct, invoker);
        if (failure is not null) return failure.Verdict(definition.Name, settings.Fallback);
        using (answer)
            return Read(answer!.RootElement) ?? new RemoteFailure("its answer is not a moderation result", false).Verdict(definition.Name, settings.Fallback);
    }

    /// <summary>Where to ask, with what model name and headers, and through which sender.</summary>
    private (Uri? Endpoint, string Model, IReadOnlyList<KeyValuePair<string, string>> Headers, HttpMessageInvoker? Invoker) Target()
    {
        if (settings.ApiBase is null && runtimes.Current.Catalog.TryResolve(settings.Model, out var group)
            && Array.Find(group.Deployments, d => d.Provider.Wire is ProviderWire.OpenAiCompatible or ProviderWire.Mock) is { } deployment)
        {
            var baseText = deployment.Options.ApiBase.ToString().TrimEnd('/');
            return (new Uri(baseText + "/moderations"), deployment.UpstreamModel(settings.Model), deployment.Headers, deployment.Invoker);
        }
        var key = settings.ApiKey ?? Environment.GetEnvironmentVariable("OPENAI_API_KEY");
        if (string.IsNullOrEmpty(key) && settings.ApiBase is null) return (null, settings.Model, [], null);
        var apiBase = (settings.ApiBase ?? OpenAiModerationSettings.DefaultApiBase).ToString().TrimEnd('/');
        List<KeyValuePair<string, string>> auth = string.IsNullOrEmpty(key) ? [] : [new("Authorization", "Bearer " + key)];
        return (new Uri(apiBase + "/moderations"), settings.Model, auth, null);
    }

    private static byte[] Body(string model, string text)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("model", model);
            w.WriteString("input", text);
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    /// <summary>Blocks when any result is flagged, naming the categories (never the text); null when the answer is not OpenAI's shape.</summary>
    internal static GuardrailVerdict? Read(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("results", out var results) || results.ValueKind != JsonValueKind.Array) return null;
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var flagged = false;
        foreach (var result in results.EnumerateArray())
        {
            if (result.ValueKind != JsonValueKind.Object || !result.TryGetProperty("flagged", out var f) || f.ValueKind is not (JsonValueKind.True or JsonValueKind.False)) return null;
            if (!f.GetBoolean()) continue;
            flagged = true;
            if (result.TryGetProperty("categories", out var categories) && categories.ValueKind == JsonValueKind.Object)
                foreach (var c in categories.EnumerateObject())
                    if (c.Value.ValueKind == JsonValueKind.True) counts[c.Name] = counts.GetValueOrDefault(c.Name) + 1;
        }
        if (!flagged) return GuardrailVerdict.Allowed;
        var reason = new StringBuilder("Violated OpenAI moderation policy");
        if (counts.Count > 0) reason.Append(" (").AppendJoin(", ", counts.Keys).Append(')');
        return new GuardrailVerdict(GuardrailAction.Block, null, reason.ToString(), counts.Count > 0 ? counts : new Dictionary<string, int> { ["flagged"] = 1 });
    }
}
