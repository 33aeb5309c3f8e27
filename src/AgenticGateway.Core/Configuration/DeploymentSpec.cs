using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;
using AgenticGateway.Pricing;
using AgenticGateway.Yaml;

namespace AgenticGateway.Configuration;

/// <summary>One deployment's raw settings, whichever schema they came from; <see cref="Build"/> validates them.</summary>
internal sealed class DeploymentSpec
{
    public required string Path { get; init; }
    public string? ModelName { get; set; }
    public string? ModelNamePath { get; set; }
    public string? Provider { get; set; }
    public string? Model { get; set; }
    public string ModelPath { get; set; } = "";
    public string? ApiBase { get; set; }
    public string ApiBasePath { get; set; } = "";
    public string? ApiKey { get; set; }
    public string? ApiVersion { get; set; }
    public string? Id { get; set; }
    public ImmutableArray<KeyValuePair<string, string>> Headers { get; set; } = [];
    /// <summary>LiteLLM's model_info.access_groups: a key listing one of these names may use this deployment's model.</summary>
    public ImmutableArray<string> AccessGroups { get; set; } = [];
    public TimeSpan? Timeout { get; set; }
    public TimeSpan? StreamTimeout { get; set; }
    public int? MaxRetries { get; set; }
    public double? Weight { get; set; }
    public long? Rpm { get; set; }
    public long? Tpm { get; set; }
    public decimal? InputCostPerToken { get; set; }
    public decimal? OutputCostPerToken { get; set; }
    public decimal? CacheReadInputTokenCost { get; set; }
    public decimal? OutputCostPerReasoningToken { get; set; }
    public decimal? InputCostPerRequest { get; set; }
    public decimal? InputCostPerQuery { get; set; }
    public int? MaxInputTokens { get; set; }
    public int? MaxOutputTokens { get; set; }
    public bool? StreamUsage { get; set; }
    public MockDeploymentOptions? Mock { get; set; }
    public string? AwsRegion { get; set; }
    public string? AwsAccessKeyId { get; set; }
    public string? AwsSecretAccessKey { get; set; }
    public string? AwsSessionToken { get; set; }
    public string? VertexProject { get; set; }
    public string? VertexLocation { get; set; }
    public string? VertexCredentials { get; set; }
    public ImmutableArray<string> Tags { get; set; } = [];
    public ImmutableArray<DefaultParameter> DefaultParams { get; set; } = [];
    public ResponsesApiMode? ResponsesApi { get; set; }
    public string ResponsesApiPath { get; set; } = "";
    /// <summary>
    /// The entry's settings as canonical text, its api_key left out (the key's hash is added when the id is derived):
    /// what tells two deployments apart when neither names its id.
    /// </summary>
    public string? Identity { get; set; }
    /// <summary>Set by <see cref="Build"/> when the deployment was left out so the rest can start (a provider not served here).</summary>
    public bool Skipped { get; private set; }

    /// <summary>Reads the cloud keys shared by both schemas (LiteLLM's names).</summary>
    public void ReadCloud(ConfigMap m)
    {
        AwsRegion = m.String("aws_region_name") ?? AwsRegion;
        AwsAccessKeyId = m.String("aws_access_key_id") ?? AwsAccessKeyId;
        AwsSecretAccessKey = m.String("aws_secret_access_key") ?? AwsSecretAccessKey;
        AwsSessionToken = m.String("aws_session_token") ?? AwsSessionToken;
        VertexProject = m.String("vertex_project") ?? VertexProject;
        VertexLocation = m.String("vertex_location") ?? VertexLocation;
        VertexCredentials = m.String("vertex_credentials") ?? VertexCredentials;
    }

    public DeploymentOptions? Build(ConfigContext context)
    {
        var issues = context.Issues;
        var ok = true;
        if (string.IsNullOrWhiteSpace(ModelName)) { issues.Error(ModelNamePath ?? Path, "a model name is required"); ok = false; }
        if (Provider is not null && Model is "" && ok)
        {
            // LiteLLM starts with "azure/" and fails only calls to it; so do we, without it.
            issues.LeftOut(ModelPath, $"model '{Provider}/' names no {Provider} model, so model group '{ModelName}' is not served; the other models start",
                $"model '{Provider}/' names no {Provider} model (model group '{ModelName}'): name one, as in '{Provider}/<model>'");
            Skipped = true;
            return null;
        }
        if (string.IsNullOrWhiteSpace(Model)) { issues.Error(ModelPath, "an upstream model is required"); ok = false; }
        if (Provider is null) return null;

        if (!ProviderCatalog.TryGet(Provider, out var provider) && ProviderCatalog.NearestTo(Provider) is { } meant)
        {
            // One letter off a provider we serve is a typo, not a provider LiteLLM serves and we do not.
            issues.Error(ModelPath, $"unknown provider '{Provider}': did you mean '{meant}'? (providers served: {string.Join(", ", ProviderCatalog.Names.Order())})");
            return null;
        }
        if (provider is null)
        {
            // LiteLLM starts and fails only calls to a model it cannot reach: skip this one, start the rest.
            var served = $"providers served: {string.Join(", ", ProviderCatalog.Names.Order())}";
            issues.LeftOut(ModelPath, $"provider '{Provider}' is not served by this gateway, so '{ModelName}' ({Provider}/{Model}) is skipped; the other models start ({served})",
                $"provider '{Provider}' is not served by this gateway (model group '{ModelName}', {Provider}/{Model}); {served}; see docs/litellm-compatibility.md");
            Skipped = true;
            return null;
        }

        // LiteLLM routes cohere/v1/... to Cohere's retired v1 chat API; only v2 (cohere/v2/... or no prefix) is served.
        if (provider.Wire == ProviderWire.Cohere && Model is not null && Model.StartsWith("v1/", StringComparison.Ordinal))
        {
            issues.Error(ModelPath, $"'{Provider}/{Model}' asks for Cohere's v1 chat API, which is not supported; use '{Provider}/{Model[3..]}' (Cohere's v2 API)");
            ok = false;
        }
        if (ResponsesApi is ResponsesApiMode.Native or ResponsesApiMode.Only && provider.Wire is not (ProviderWire.OpenAiCompatible or ProviderWire.AzureOpenAi or ProviderWire.Mock))
        {
            issues.Error(ResponsesApiPath, $"provider '{Provider}' has no OpenAI Responses API; a Responses-only deployment needs openai, azure, mock or an OpenAI-compatible provider");
            ok = false;
        }
        var cloud = BuildCloud(provider, context.Env);
        var apiBaseText = ApiBase;
        if (string.IsNullOrEmpty(apiBaseText) && provider.ApiBaseEnv is not null) apiBaseText = context.Env.Lookup(provider.ApiBaseEnv);
        if (string.IsNullOrEmpty(apiBaseText)) apiBaseText = provider.DefaultApiBase;
        if (string.IsNullOrEmpty(apiBaseText) && provider.Wire == ProviderWire.Bedrock)
        {
            if (cloud.AwsRegion is null) { issues.Error(ModelPath, "provider 'bedrock' needs aws_region_name (or AWS_REGION) or an api_base"); ok = false; }
            else apiBaseText = $"https://bedrock-runtime.{cloud.AwsRegion}.amazonaws.com";
        }
        if (string.IsNullOrEmpty(apiBaseText) && provider.Wire == ProviderWire.VertexAi)
            apiBaseText = cloud.VertexLocation == "global" ? "https://aiplatform.googleapis.com" : $"https://{cloud.VertexLocation}-aiplatform.googleapis.com";
        if (provider.Wire == ProviderWire.VertexAi && cloud.VertexProject is null)
        {
            issues.Error(ModelPath, "provider 'vertex_ai' needs vertex_project (or VERTEXAI_PROJECT)");
            ok = false;
        }
        Uri? apiBase = null;
        if (string.IsNullOrEmpty(apiBaseText))
        {
            issues.Error(ApiBasePath, $"provider '{Provider}' needs an api_base");
            ok = false;
        }
        else if (!Uri.TryCreate(apiBaseText.TrimEnd('/'), UriKind.Absolute, out apiBase) || (apiBase.Scheme != "http" && apiBase.Scheme != "https"))
        {
            issues.Error(ApiBasePath, $"'{apiBaseText}' is not an absolute http(s) URL");
            ok = false;
        }
        else if (provider.RequiredPathSuffix is { } suffix && !apiBase.AbsolutePath.TrimEnd('/').EndsWith(suffix, StringComparison.Ordinal))
        {
            apiBase = new Uri(apiBase.ToString().TrimEnd('/') + suffix);
        }

        var apiKey = ApiKey;
        if (string.IsNullOrEmpty(apiKey)) apiKey = provider.ApiKeyEnv.Select(context.Env.Lookup).FirstOrDefault(v => !string.IsNullOrEmpty(v));

        if (ModelName is not null && ModelName.Contains('*') && !ModelName.EndsWith('*'))
        {
            issues.Error(ModelNamePath ?? Path, "a wildcard model name may only end in '*'");
            ok = false;
        }
        if (!ok || apiBase is null) return null;

        return new DeploymentOptions
        {
            Id = Id ?? StableId(ModelName!, Provider, Model!, apiBase, apiKey, Identity),
            ModelName = ModelName!,
            Provider = Provider,
            Model = Model!,
            ApiBase = apiBase,
            ApiKey = new Secret(apiKey),
            ApiVersion = provider.Wire == ProviderWire.AzureOpenAi ? (ApiVersion ?? context.Env.Lookup("AZURE_API_VERSION") ?? ProviderCatalog.DefaultAzureApiVersion) : ApiVersion,
            Headers = Headers,
            AccessGroups = AccessGroups,
            Timeout = Timeout,
            StreamTimeout = StreamTimeout,
            MaxRetries = MaxRetries,
            Weight = Weight,
            Rpm = Rpm,
            Tpm = Tpm,
            Price = ConfiguredPrice(),
            MaxInputTokens = MaxInputTokens,
            MaxOutputTokens = MaxOutputTokens,
            StreamUsage = StreamUsage ?? provider.StreamUsage,
            Mock = provider.Wire == ProviderWire.Mock ? Mock ?? new MockDeploymentOptions() : null,
            Cloud = cloud,
            Tags = Tags,
            DefaultParams = DefaultParams,
            ResponsesApi = ResponsesApi ?? ResponsesApiMode.Auto,
        };
    }

    private CloudOptions BuildCloud(ProviderDefinition provider, EnvInterpolator env)
    {
        // The config's environment_variables count, as LiteLLM puts them into its environment before reading anything.
        string? Env(params string[] names) => names.Select(env.Lookup).FirstOrDefault(v => !string.IsNullOrEmpty(v));
        return provider.Wire switch
        {
            ProviderWire.Bedrock => new CloudOptions
            {
                AwsRegion = AwsRegion ?? Env("AWS_REGION_NAME", "AWS_REGION", "AWS_DEFAULT_REGION"),
                AwsAccessKeyId = new Secret(AwsAccessKeyId ?? Env("AWS_ACCESS_KEY_ID")),
                AwsSecretAccessKey = new Secret(AwsSecretAccessKey ?? Env("AWS_SECRET_ACCESS_KEY")),
                AwsSessionToken = new Secret(AwsSessionToken ?? Env("AWS_SESSION_TOKEN")),
            },
            ProviderWire.VertexAi => new CloudOptions
            {
                VertexProject = VertexProject ?? Env("VERTEXAI_PROJECT", "VERTEX_PROJECT", "GOOGLE_CLOUD_PROJECT"),
                VertexLocation = VertexLocation ?? Env("VERTEXAI_LOCATION", "VERTEX_LOCATION") ?? "us-central1",
                VertexCredentials = new Secret(VertexCredentials ?? Env("GOOGLE_APPLICATION_CREDENTIALS")),
            },
            _ => CloudOptions.None,
        };
    }

    /// <summary>
    /// The price from the cost keys, or null when none is set. Any cost key replaces the built-in price as a whole:
    /// unset token rates are 0, unset cached and reasoning rates follow the input and output rates.
    /// </summary>
    private ModelPrice? ConfiguredPrice() =>
        InputCostPerToken is null && OutputCostPerToken is null && CacheReadInputTokenCost is null && OutputCostPerReasoningToken is null && InputCostPerRequest is null && InputCostPerQuery is null
            ? null
            : new ModelPrice
            {
                InputPerToken = InputCostPerToken ?? 0,
                OutputPerToken = OutputCostPerToken ?? 0,
                CachedInputPerToken = CacheReadInputTokenCost,
                ReasoningPerToken = OutputCostPerReasoningToken,
                PerRequest = InputCostPerRequest ?? 0,
                PerQuery = InputCostPerQuery ?? 0,
            };

    /// <summary>Reads the cost keys shared by both schemas (LiteLLM's names); a key already set keeps its value when absent here.</summary>
    public void ReadCosts(ConfigMap m)
    {
        InputCostPerToken = m.Decimal("input_cost_per_token") ?? InputCostPerToken;
        OutputCostPerToken = m.Decimal("output_cost_per_token") ?? OutputCostPerToken;
        CacheReadInputTokenCost = m.Decimal("cache_read_input_token_cost") ?? CacheReadInputTokenCost;
        OutputCostPerReasoningToken = m.Decimal("output_cost_per_reasoning_token") ?? OutputCostPerReasoningToken;
        InputCostPerRequest = m.Decimal("input_cost_per_request") ?? InputCostPerRequest;
        InputCostPerQuery = m.Decimal("input_cost_per_query") ?? InputCostPerQuery;
    }

    /// <summary>Splits LiteLLM's "provider/model"; a bare model name gets the provider LiteLLM would infer.</summary>
    public void SetProviderModel(string? value, string path)
    {
        ModelPath = path;
        if (value is null) return;
        var slash = value.IndexOf('/');
        if (slash > 0) { Provider = value[..slash]; Model = value[(slash + 1)..]; }
        else { Provider = ProviderCatalog.InferFromBareModel(value); Model = value; }
        // LiteLLM's openai/responses/<model> and azure/responses/<deployment>: a model served only through the Responses API.
        if (Model.StartsWith(ResponsesPrefix, StringComparison.Ordinal) && Model.Length > ResponsesPrefix.Length)
        {
            Model = Model[ResponsesPrefix.Length..];
            ResponsesApi = ResponsesApiMode.Only;
            ResponsesApiPath = path;
        }
    }

    private const string ResponsesPrefix = "responses/";

    /// <summary>Reads our schema's <c>responses_api: auto | native | only | off</c>.</summary>
    public void ReadResponsesApi(ConfigMap m)
    {
        if (m.String("responses_api") is not { } text) return;
        ResponsesApiPath = m.Child("responses_api");
        ResponsesApi = text switch
        {
            "auto" => ResponsesApiMode.Auto,
            "native" => ResponsesApiMode.Native,
            "only" => ResponsesApiMode.Only,
            "off" => ResponsesApiMode.Off,
            _ => null,
        };
        if (ResponsesApi is null) m.Context.Issues.Error(ResponsesApiPath, $"responses_api must be auto, native, only or off, not '{text}'");
    }

    /// <summary>
    /// An id derived from the whole entry: name, provider, model, base URL, the rest of its settings, and a hash of its
    /// api key (never the key itself: ids are shown in headers, logs and the UI). Deployments that differ only in their
    /// key so get different ids.
    /// </summary>
    private static string StableId(string name, string provider, string model, Uri apiBase, string? apiKey, string? identity)
    {
        var keyHash = string.IsNullOrEmpty(apiKey) ? "" : Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(apiKey)));
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{name}\n{provider}\n{model}\n{apiBase}\n{keyHash}\n{identity}"));
        return Convert.ToHexStringLower(hash.AsSpan(0, 8));
    }
}
