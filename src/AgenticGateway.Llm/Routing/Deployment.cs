using System.Text.Json;
using AgenticGateway.Configuration;
using AgenticGateway.Pricing;
using AgenticGateway.Providers;

namespace AgenticGateway.Routing;

/// <summary>The API operations the gateway forwards.</summary>
internal enum LlmOperation
{
    ChatCompletions,
    Completions,
    Embeddings,
    /// <summary>Anthropic's Messages API (/v1/messages): passed through to Anthropic deployments, converted for the rest.</summary>
    Messages,
    /// <summary>LiteLLM's rerank API (/v1/rerank, /rerank), Cohere's shape: sent through the deployment's <see cref="Deployment.Reranker"/>.</summary>
    Rerank,
    /// <summary>
    /// OpenAI's Responses API (/v1/responses): passed through to deployments that serve it (<see cref="Deployment.ResponsesUri"/>),
    /// converted to chat completions for the rest.
    /// </summary>
    Responses,
}

/// <summary>
/// A deployment ready to receive traffic: its options plus everything precomputed for the hot path (endpoint URIs,
/// outbound headers, the upstream model name as a JSON string) and its shared run-time state.
/// </summary>
internal sealed class Deployment
{
    private readonly Uri[] _uris;

    public Deployment(DeploymentOptions options, ProviderDefinition provider, HttpMessageInvoker invoker, DeploymentState state)
    {
        Options = options;
        Provider = provider;
        Invoker = invoker;
        State = state;
        WildcardPrefix = options.IsWildcard ? options.ModelName[..^1] : null;
        UpstreamModelJson = QuoteJson(options.Model);
        _uris = options.Model.Contains('*') ? [] : [Endpoint(LlmOperation.ChatCompletions, options.Model), Endpoint(LlmOperation.Completions, options.Model), Endpoint(LlmOperation.Embeddings, options.Model)];
        Headers = BuildHeaders(options, provider);
        // Never show credentials that may sit in the URL's userinfo.
        ApiBaseForDisplay = options.ApiBase.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped);
        Price = options.ResolvedPrice;
        MaxOutputTokens = options.ResolvedMaxOutputTokens;
        foreach (var p in options.DefaultParams)
        {
            if (p.Name is "max_tokens" or "max_completion_tokens" && int.TryParse(p.Json, out var max) && max > 0) ConfiguredMaxTokens = max;
        }
    }

    /// <summary>The max_tokens this deployment sends when the client sets none (litellm_params.max_tokens), if configured.</summary>
    public int? ConfiguredMaxTokens { get; }

    public DeploymentOptions Options { get; }
    public ProviderDefinition Provider { get; }
    public HttpMessageInvoker Invoker { get; }
    /// <summary>Converts OpenAI requests and answers to and from the provider's own format; null for OpenAI-compatible wires.</summary>
    public Providers.Translation.IProviderTranslator? Translator { get; init; }
    /// <summary>Speaks the provider's rerank API; null when the provider has none.</summary>
    public Providers.Translation.IRerankTranslator? Reranker { get; init; }

    /// <summary>
    /// The translator for one operation: a legacy-completions deployment takes /v1/completions as it came and translates
    /// only chat; every other translated provider translates every operation.
    /// </summary>
    public Providers.Translation.IProviderTranslator? TranslatorFor(LlmOperation operation) =>
        operation == LlmOperation.Completions && Provider.Wire == ProviderWire.OpenAiTextCompletion ? null : Translator;
    public DeploymentState State { get; }
    public string Id => Options.Id;
    public string ProviderName => Options.Provider;
    public string GroupName => Options.ModelName;
    public string? WildcardPrefix { get; }
    public string ApiBaseForDisplay { get; }
    /// <summary>The upstream model name as a JSON string token, quotes included.</summary>
    public byte[] UpstreamModelJson { get; }
    public KeyValuePair<string, string>[] Headers { get; }

    /// <summary>
    /// What this deployment's requests cost: the configured price, else the built-in price of the upstream model, else
    /// that of the public model name; null when unknown. Resolved once, when the runtime is built.
    /// </summary>
    public ModelPrice? Price { get; }

    /// <summary>
    /// The price for one request: <see cref="Price"/>, or for a wildcard deployment without one, the built-in price of
    /// the upstream model the wildcard produced.
    /// </summary>
    public ModelPrice? PriceFor(string upstreamModel) => Price ?? (WildcardPrefix is null ? null : PriceBook.Find(upstreamModel, Options.Provider));

    /// <summary>The price a request for <paramref name="requestedModel"/> would pay here (before any attempt picked an upstream model).</summary>
    public ModelPrice? PriceForRequest(string requestedModel) =>
        Price ?? (WildcardPrefix is not null && requestedModel.StartsWith(WildcardPrefix, StringComparison.Ordinal) ? PriceBook.Find(UpstreamModel(requestedModel), Options.Provider) : null);

    /// <summary>The most tokens one answer may hold here, when known: configured, else built in. Resolved once.</summary>
    public int? MaxOutputTokens { get; }

    /// <summary>The maximum output a request for <paramref name="requestedModel"/> may get here (a wildcard's per upstream model).</summary>
    public int? MaxOutputForRequest(string requestedModel) =>
        MaxOutputTokens ?? (WildcardPrefix is not null && requestedModel.StartsWith(WildcardPrefix, StringComparison.Ordinal) ? PriceBook.FindMaxOutputTokens(UpstreamModel(requestedModel), Options.Provider) : null);

    /// <summary>
    /// Where this deployment serves OpenAI's Responses API natively (a Responses request passes through as it came);
    /// null when it does not, and Responses requests are converted to chat completions for it.
    /// </summary>
    public Uri? ResponsesUri { get; init; }

    /// <summary>The upstream model for a request: fixed, or built from what a wildcard matched.</summary>
    public string UpstreamModel(string requestedModel) =>
        WildcardPrefix is null ? Options.Model
        : Options.Model.Replace("*", requestedModel.StartsWith(WildcardPrefix, StringComparison.Ordinal) ? requestedModel[WildcardPrefix.Length..] : requestedModel, StringComparison.Ordinal);

    /// <summary>The OpenAI-format endpoint (a Messages request sent here was converted to chat completions first).</summary>
    public Uri EndpointFor(LlmOperation operation, string? upstreamModel)
    {
        if (operation is LlmOperation.Messages or LlmOperation.Responses) operation = LlmOperation.ChatCompletions;
        return _uris.Length > 0 ? _uris[(int)operation] : Endpoint(operation, upstreamModel ?? Options.Model);
    }

    private Uri Endpoint(LlmOperation operation, string model)
    {
        var path = operation switch
        {
            LlmOperation.ChatCompletions => "chat/completions",
            LlmOperation.Completions => "completions",
            _ => "embeddings",
        };
        var baseText = Options.ApiBase.ToString().TrimEnd('/');
        return Provider.Wire == ProviderWire.AzureOpenAi
            ? new Uri($"{baseText}/openai/deployments/{Uri.EscapeDataString(model)}/{path}?api-version={Uri.EscapeDataString(Options.ApiVersion ?? ProviderCatalog.DefaultAzureApiVersion)}")
            : new Uri($"{baseText}/{path}");
    }

    private static KeyValuePair<string, string>[] BuildHeaders(DeploymentOptions options, ProviderDefinition provider)
    {
        var headers = new List<KeyValuePair<string, string>>();
        // Providers with their own wire format authenticate in their translator (x-api-key, x-goog-api-key, SigV4).
        if (options.ApiKey.IsSet && provider.Wire is ProviderWire.OpenAiCompatible or ProviderWire.AzureOpenAi or ProviderWire.Mock or ProviderWire.OpenAiTextCompletion)
        {
            headers.Add(provider.Wire == ProviderWire.AzureOpenAi
                ? new("api-key", options.ApiKey.Value!)
                : new("Authorization", "Bearer " + options.ApiKey.Value));
        }
        headers.AddRange(options.Headers);
        return [.. headers];
    }

    public static byte[] QuoteJson(string value)
    {
        var encoded = JsonEncodedText.Encode(value).EncodedUtf8Bytes;
        var quoted = new byte[encoded.Length + 2];
        quoted[0] = (byte)'"';
        encoded.CopyTo(quoted.AsSpan(1));
        quoted[^1] = (byte)'"';
        return quoted;
    }

    public override string ToString() => $"{Id} ({ProviderName}/{Options.Model})";
}
