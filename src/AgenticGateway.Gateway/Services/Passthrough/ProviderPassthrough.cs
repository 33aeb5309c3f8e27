using System.Net.Http.Headers;
using AgenticGateway.Configuration;
using AgenticGateway.OpenAi;
using AgenticGateway.Providers.Bedrock;
using AgenticGateway.Providers.Google;
using AgenticGateway.Runtime;

namespace AgenticGateway.Services.Passthrough;

/// <summary>How the gateway proves itself to a provider on a pass-through call.</summary>
internal enum ProviderCredential
{
    /// <summary><c>Authorization: Bearer</c> (OpenAI, Cohere).</summary>
    Bearer,
    /// <summary><c>x-api-key</c> (Anthropic).</summary>
    XApiKey,
    /// <summary><c>x-goog-api-key</c> (Google AI Studio).</summary>
    GoogApiKey,
    /// <summary><c>api-key</c> (Azure OpenAI).</summary>
    AzureApiKey,
    /// <summary>An OAuth token minted from the deployment's service account (Vertex AI).</summary>
    VertexToken,
    /// <summary>SigV4 over the request, or a Bedrock API key as Bearer.</summary>
    AwsSigV4,
}

/// <summary>
/// A provider's native API under a prefix of the gateway, as LiteLLM serves them (<c>/anthropic/v1/messages</c> goes to
/// Anthropic's <c>/v1/messages</c>): the client's request goes unchanged but for its credential, which is replaced by
/// the gateway's for that provider.
/// </summary>
/// <param name="Prefix">The gateway's path prefix.</param>
/// <param name="Catalog">The provider whose defaults (base URL, key variables) apply when no deployment names one.</param>
/// <param name="Providers">Deployments of these providers lend their api_base and api_key (the first configured wins).</param>
internal sealed record ProviderPassthrough(string Prefix, string Catalog, string[] Providers, ProviderCredential Credential)
{
    /// <summary>LiteLLM's provider pass-through routes.</summary>
    public static readonly ProviderPassthrough[] All =
    [
        new("/openai", "openai", ["openai", "text-completion-openai"], ProviderCredential.Bearer),
        new("/anthropic", "anthropic", ["anthropic"], ProviderCredential.XApiKey),
        new("/gemini", "gemini", ["gemini"], ProviderCredential.GoogApiKey),
        new("/vertex_ai", "vertex_ai", ["vertex_ai", "vertex_ai_beta"], ProviderCredential.VertexToken),
        new("/bedrock", "bedrock", ["bedrock", "bedrock_converse"], ProviderCredential.AwsSigV4),
        new("/cohere", "cohere", ["cohere", "cohere_chat"], ProviderCredential.Bearer),
        new("/azure", "azure", ["azure"], ProviderCredential.AzureApiKey),
    ];

    /// <summary>Whether the upstream's errors are Anthropic's shape, so the gateway's own refusals on the route are too.</summary>
    public bool AnthropicErrors => Catalog == "anthropic";

    /// <summary>
    /// Where the provider is and its key: the first deployment of the provider in the running configuration, else the
    /// provider's defaults and environment variables (OPENAI_API_KEY, ANTHROPIC_API_KEY, ...), as LiteLLM does. Vertex
    /// AI and Bedrock need a deployment: their credentials and region live in its settings.
    /// </summary>
    public (Uri? Base, Secret Key, DeploymentOptions? Deployment, ApiError? Error) Resolve(GatewayRuntime runtime, Func<string, string?> env)
    {
        foreach (var d in runtime.Options.Deployments)
        {
            if (Array.IndexOf(Providers, d.Provider) < 0) continue;
            var apiBase = Credential is ProviderCredential.VertexToken or ProviderCredential.AwsSigV4 ? new Uri(d.ApiBase.GetLeftPart(UriPartial.Authority)) : d.ApiBase;
            return (apiBase, d.ApiKey, d, null);
        }
        if (Credential is ProviderCredential.VertexToken or ProviderCredential.AwsSigV4)
            return (null, default, null, new ApiError(400, $"{Prefix}/* needs a {Catalog} model in the configuration: its credentials, project and region are what the gateway calls {Catalog} with.",
                "invalid_request_error", "passthrough_not_configured"));
        ProviderCatalog.TryGet(Catalog, out var definition);
        var baseText = (definition.ApiBaseEnv is { } baseEnv ? env(baseEnv) : null) is { Length: > 0 } fromEnv ? fromEnv : definition.DefaultApiBase;
        var key = definition.ApiKeyEnv.Select(env).FirstOrDefault(v => !string.IsNullOrEmpty(v));
        if (baseText is null || !Uri.TryCreate(baseText, UriKind.Absolute, out var uri))
            return (null, default, null, new ApiError(400, $"{Prefix}/* needs a {Catalog} model with an api_base in the configuration (or {definition.ApiBaseEnv ?? "its base URL variable"}).",
                "invalid_request_error", "passthrough_not_configured"));
        if (key is null)
            return (null, default, null, new ApiError(400, $"{Prefix}/* has no {Catalog} credential: add a {Catalog} model with an api_key, or set {string.Join(" or ", definition.ApiKeyEnv)}.",
                "invalid_request_error", "passthrough_not_configured"));
        return (uri, new Secret(key), null, null);
    }

    /// <summary>
    /// The upstream URL: the base's path, then the client's path below the prefix. A base that ends in <c>/v1</c>
    /// (OpenAI's default, https://api.openai.com/v1) and a client path that starts with it (the SDKs given
    /// <c>{gateway}/openai</c> send <c>/v1/...</c> or not, depending on the SDK) give one <c>/v1</c>.
    /// </summary>
    public static Uri UpstreamUri(Uri apiBase, string subPath, string query)
    {
        var basePath = apiBase.AbsolutePath.TrimEnd('/');
        if (basePath.EndsWith("/v1", StringComparison.Ordinal) && (subPath.StartsWith("/v1/", StringComparison.Ordinal) || subPath == "/v1")) subPath = subPath[3..];
        return new Uri(apiBase.GetLeftPart(UriPartial.Authority) + basePath + subPath + query);
    }

    /// <summary>Puts the gateway's credential for the provider on the upstream request (after the client's were removed).</summary>
    public async ValueTask<ApiError?> AuthorizeAsync(HttpRequestMessage request, Secret key, DeploymentOptions? deployment, ReadOnlyMemory<byte> body,
        VertexTokenSource vertex, IAwsRequestSigner signer, TimeProvider time, CancellationToken ct)
    {
        if (deployment is not null)
            foreach (var (name, value) in deployment.Headers) request.Headers.TryAddWithoutValidation(name, value);
        switch (Credential)
        {
            case ProviderCredential.Bearer:
                if (key.IsSet) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key.Value);
                break;
            case ProviderCredential.XApiKey:
                if (key.IsSet) request.Headers.TryAddWithoutValidation("x-api-key", key.Value);
                // Anthropic refuses a request without a version; the SDKs always send one, curl users often do not.
                if (!request.Headers.Contains("anthropic-version")) request.Headers.TryAddWithoutValidation("anthropic-version", "2023-06-01");
                break;
            case ProviderCredential.GoogApiKey:
                if (key.IsSet) request.Headers.TryAddWithoutValidation("x-goog-api-key", key.Value);
                break;
            case ProviderCredential.AzureApiKey:
                if (key.IsSet) request.Headers.TryAddWithoutValidation("api-key", key.Value);
                break;
            case ProviderCredential.VertexToken:
                try { request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await vertex.GetTokenAsync(deployment!, ct)); }
                catch (Exception ex) when (ex is HttpRequestException or InvalidOperationException or FormatException or IOException)
                {
                    return new ApiError(502, $"Could not get a Vertex AI access token for the pass-through call: {ex.Message}", "api_error", "vertex_token_failed");
                }
                break;
            case ProviderCredential.AwsSigV4:
                var cloud = deployment!.Cloud;
                if (cloud.AwsAccessKeyId.IsSet && cloud.AwsSecretAccessKey.IsSet)
                {
                    var region = cloud.AwsRegion ?? BedrockTranslator.RegionFromHost(deployment.ApiBase);
                    if (region is null) return new ApiError(400, "The bedrock model has AWS keys but no region (aws_region_name) to sign the pass-through call for.", "invalid_request_error", "bedrock_region_missing");
                    // The host is signed: set it as it will be sent.
                    var credentials = new AwsCredentials(cloud.AwsAccessKeyId.Value!, cloud.AwsSecretAccessKey.Value!, cloud.AwsSessionToken.IsSet ? cloud.AwsSessionToken.Value : null);
                    signer.Sign(request, body.Span, credentials, region, BedrockTranslator.SigningService, time.GetUtcNow());
                }
                else if (key.IsSet) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key.Value);
                break;
        }
        return null;
    }
}
