using Microsoft.Extensions.Logging;
using System.Collections.Immutable;

namespace AgenticGateway.Configuration;

/// <summary>The whole validated configuration. Immutable: a reload builds a new one and swaps it in.</summary>
internal sealed record GatewayOptions
{
    public required ServerOptions Server { get; init; }
    public Secret MasterKey { get; init; }
    public required ImmutableArray<DeploymentOptions> Deployments { get; init; }
    /// <summary>Alias name to model group name (LiteLLM's model_group_alias).</summary>
    public required ImmutableDictionary<string, AliasOptions> Aliases { get; init; }
    public required RouterOptions Router { get; init; }
    public required LoggingOptions Logging { get; init; }
    public TracingOptions Tracing { get; init; } = new();
    public StorageOptions Storage { get; init; } = new();
    /// <summary>Budget alerts, when a webhook is set.</summary>
    public AlertOptions? Alerts { get; init; }
    /// <summary>JWTs accepted as client credentials, when set.</summary>
    public JwtOptions? Jwt { get; init; }
    /// <summary>Routers, middlewares and services: the request path's configuration model (today always the defaults).</summary>
    public PipelineOptions Pipeline { get; init; } = PipelineOptions.Default;
    /// <summary>How budgets and token limits reserve for requests before their usage is known (<c>budgets:</c>).</summary>
    public BudgetOptions Budgets { get; init; } = new();
    /// <summary>The sandbox gateway (<c>sandboxes:</c>).</summary>
    public Sandboxes.SandboxOptions Sandboxes { get; init; } = new();
    /// <summary>The MCP gateway (<c>mcp:</c>, LiteLLM's <c>mcp_servers:</c>).</summary>
    public McpOptions Mcp { get; init; } = new();
    /// <summary>The response cache (LiteLLM's <c>litellm_settings.cache</c>/<c>cache_params</c>; ours: <c>cache:</c>). Off unless configured.</summary>
    public CacheOptions Cache { get; init; } = CacheOptions.Off;
    /// <summary>Guardrails (LiteLLM's <c>guardrails:</c>; ours: the same list). None unless configured.</summary>
    public GuardrailOptions Guardrails { get; init; } = GuardrailOptions.None;
    /// <summary>Cedar routing policies (routing_policies:); null when not configured, and then no policy code runs.</summary>
    public RoutingPolicyOptions? RoutingPolicies { get; init; }
    /// <summary>The Responses API (<c>responses:</c>): how long stored responses are kept.</summary>
    public ResponsesOptions Responses { get; init; } = new();
    /// <summary>The edge: Traefik's static configuration (entry points, file provider, ACME resolvers, api, metrics) and inline dynamic configuration; empty when the file has none.</summary>
    public Edge.EdgeStaticConfig Edge { get; init; } = AgenticGateway.Edge.EdgeStaticConfig.Empty;
    /// <summary>LiteLLM's pass_through_endpoints (ours: <c>pass_through_endpoints:</c>): routes forwarded to a URL as they came. Read at start.</summary>
    public System.Collections.Immutable.ImmutableArray<PassThroughEndpoint> PassThroughEndpoints { get; init; } = [];
    /// <summary>
    /// LiteLLM's store_model_in_db (or STORE_MODEL_IN_DB=True): models added through /model/new are kept in the database
    /// and served beside the config file's. Default false: the write endpoints refuse, as LiteLLM's do.
    /// </summary>
    public bool StoreModelInDb { get; init; }
    /// <summary>Where the options came from, for /health and logs.</summary>
    public string Source { get; init; } = "embedded defaults";
}

internal sealed record AliasOptions(string Target, bool Hidden);

internal sealed record ServerOptions
{
    /// <summary>
    /// Kestrel URLs (server.urls, or server.port on every interface); null when not configured: then
    /// http://0.0.0.0:8080 with authentication, http://localhost:8080 without (see Hosting/ListenPolicy).
    /// </summary>
    public string? Urls { get; init; }
    /// <summary>/metrics needs the master key (or an admin JWT) when authentication is on. Default false.</summary>
    public bool MetricsAuth { get; init; }
    /// <summary>Serve /metrics on its own listener (such as http://127.0.0.1:9090) and not on the API's. Read at start.</summary>
    public string? MetricsUrls { get; init; }
    /// <summary>Largest accepted request body. Default 32 MiB: base64 images make chat bodies large.</summary>
    public long MaxRequestBodyBytes { get; init; } = 32 * 1024 * 1024;
    /// <summary>Largest JSON answer relayed from a provider (LiteLLM's max_response_size_mb); null: the relay's own bound.</summary>
    public long? MaxResponseBodyBytes { get; init; }
    /// <summary>Also send LiteLLM's x-litellm-* response headers (on by default when a LiteLLM config is loaded).</summary>
    public bool LiteLlmHeaders { get; init; }
}

/// <summary>
/// Where the gateway keeps its state: keys, teams, users and spend logs in a SQLite file in the data directory, or in
/// PostgreSQL when a database URL is set; counters shared by replicas (rate limits, budgets) in Redis when a Redis URL
/// is set, else in memory. Read at start only.
/// </summary>
internal sealed record StorageOptions
{
    /// <summary>
    /// The spend write-ahead log lives here whatever the database; one gateway at a time (it is locked). Default
    /// (<see cref="DefaultDataDirectory"/>) is absolute; a relative <c>data_dir</c> in a config file is relative to the file.
    /// </summary>
    public string DataDirectory { get; init; } = DefaultDataDirectory();

    /// <summary>PostgreSQL, as postgresql://user:pass@host:port/db or an Npgsql connection string. Default: DATABASE_URL.</summary>
    public Secret DatabaseUrl { get; init; } = new(Environment.GetEnvironmentVariable("DATABASE_URL"));
    /// <summary>Redis, as redis://[:password@]host:port or host:port. Default: REDIS_URL.</summary>
    public Secret RedisUrl { get; init; } = new(Environment.GetEnvironmentVariable("REDIS_URL"));
    /// <summary>When Redis is unreachable: true keeps serving on this node's own limits; false refuses limited requests (503).</summary>
    public bool RedisFailOpen { get; init; } = true;
    /// <summary>How long a limit or budget check waits for Redis before Redis counts as down (then <see cref="RedisFailOpen"/> applies).</summary>
    public TimeSpan RedisTimeout { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// AGW_DATA_DIR; else /var/lib/agentic-gateway for root; else $XDG_DATA_HOME/agentic-gateway, by default
    /// ~/.local/share/agentic-gateway. Never the working directory: the same gateway started from elsewhere (say
    /// <c>dotnet run --project</c>) must find its keys and its sandboxes' state again.
    /// </summary>
    public static string DefaultDataDirectory()
    {
        if (Environment.GetEnvironmentVariable("AGW_DATA_DIR") is { Length: > 0 } dir) return Path.GetFullPath(dir);
        if (Environment.IsPrivilegedProcess) return "/var/lib/agentic-gateway";
        // The XDG spec has relative values ignored.
        var data = Environment.GetEnvironmentVariable("XDG_DATA_HOME") is { Length: > 0 } xdg && Path.IsPathRooted(xdg)
            ? xdg
            : Path.Join(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share");
        return Path.Join(data, "agentic-gateway");
    }

    /// <summary>A configured data directory: relative to the config file it is in, when it came from one.</summary>
    public static string Resolve(string directory, string configSource) =>
        Path.IsPathRooted(directory) || !Path.IsPathRooted(configSource)
            ? Path.GetFullPath(directory)
            : Path.GetFullPath(Path.Join(Path.GetDirectoryName(configSource), directory));
}

/// <summary>
/// Soft-budget alerts: when a key's, user's or team's spend crosses a fraction of its max_budget, a JSON event is
/// POSTed to the webhook (LiteLLM's webhook event fields).
/// </summary>
internal sealed record AlertOptions
{
    public required Uri WebhookUrl { get; init; }
    public ImmutableArray<double> BudgetThresholds { get; init; } = [0.8, 1.0];
}

/// <summary>
/// Budgets and token limits are enforced by reserving each request's worst case at admission and settling to its real
/// usage at the end, so requests in flight together cannot overshoot (see docs/keys-and-spend.md).
/// </summary>
internal sealed record BudgetOptions
{
    /// <summary>
    /// Whether a caller bound by a budget may use a model with no known price. Off by default: such a request would cost
    /// $0 on the books and the budget would never stop it.
    /// </summary>
    public bool AllowUnpricedModels { get; init; }
    /// <summary>Output tokens a request reserves when it sets no max_tokens and its model's maximum output is not known.</summary>
    public int DefaultMaxOutputTokens { get; init; } = 16_384;
    /// <summary>
    /// LiteLLM's global proxy budget (<c>litellm_settings.max_budget</c>): spend of every caller together, in USD,
    /// reported as the <c>litellm-proxy-budget</c> user; virtual keys are refused once it is reached. None: no limit.
    /// </summary>
    public decimal? ProxyMaxBudget { get; init; }
    /// <summary>When the global budget resets (<c>litellm_settings.budget_duration</c>, "30d", "1mo"); none: never.</summary>
    public string? ProxyBudgetDuration { get; init; }
}

/// <summary>
/// Clients may authenticate with a JWT signed by an identity provider: HS256 with <see cref="Secret"/>, RS/ES256 with
/// <see cref="PublicKeyPem"/>, or any key the provider publishes at <see cref="JwksUrls"/>. The token's claims name the
/// user and team whose limits, budget and models apply; a token with <see cref="AdminScope"/> acts as the admin.
/// LiteLLM's <c>general_settings.litellm_jwtauth</c> maps onto the same options (its field names in the comments).
/// </summary>
internal sealed record JwtOptions
{
    public string? Issuer { get; init; }
    public string? Audience { get; init; }
    public Secret Secret { get; init; }
    public string? PublicKeyPem { get; init; }
    /// <summary>JWKS endpoints or OIDC discovery documents (JWT_PUBLIC_KEY_URL); their keys are merged.</summary>
    public ImmutableArray<string> JwksUrls { get; init; } = [];
    /// <summary>How long fetched signing keys are used before they are fetched again (public_key_ttl). Default 10 minutes.</summary>
    public TimeSpan KeyCacheTtl { get; init; } = TimeSpan.FromMinutes(10);
    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>The claim naming the user (user_id_jwt_field); null: tokens name no user. Dots index nested claims.</summary>
    public string? UserClaim { get; init; } = "sub";
    /// <summary>A token without the user claim is refused (our schema); LiteLLM's tokens may name only a team.</summary>
    public bool RequireUserClaim { get; init; } = true;
    /// <summary>Where the user id comes from when the user claim is absent (user_email_jwt_field).</summary>
    public string? UserEmailClaim { get; init; }
    /// <summary>Only users whose email is in this domain are accepted (user_allowed_email_domain).</summary>
    public string? AllowedEmailDomain { get; init; }
    /// <summary>The claim naming the team (team_id_jwt_field); a list takes its first item.</summary>
    public string? TeamClaim { get; init; } = "team_id";
    /// <summary>A token must name a team, or <see cref="DefaultTeam"/> applies (LiteLLM: when team_id_jwt_field is set).</summary>
    public bool RequireTeamClaim { get; init; }
    /// <summary>The claim listing the teams a user belongs to (team_ids_jwt_field).</summary>
    public string? TeamsClaim { get; init; }
    /// <summary>The team of tokens whose team claim is absent (team_id_default).</summary>
    public string? DefaultTeam { get; init; }
    /// <summary>A token that names no team is refused (enforce_team_based_model_access).</summary>
    public bool RequireTeamMembership { get; init; }
    /// <summary>A token must be the admin's, or name a user or a team (enforce_rbac without role mappings).</summary>
    public bool RequireRole { get; init; }
    /// <summary>The user and team a token names must exist (LiteLLM), unless they are created on first use.</summary>
    public bool RequireKnownIdentities { get; init; }
    /// <summary>Create the user a token names when it does not exist (user_id_upsert).</summary>
    public bool CreateUsers { get; init; }
    /// <summary>Create the team a token names when it does not exist (team_id_upsert).</summary>
    public bool CreateTeams { get; init; }
    /// <summary>A token whose scope claim has this scope acts as the admin (admin_jwt_scope); null: none does.</summary>
    public string? AdminScope { get; init; }
    /// <summary>Routes an admin token may call (admin_allowed_routes): paths or route groups; null: every route.</summary>
    public ImmutableArray<string>? AdminRoutes { get; init; }
    /// <summary>Routes a token that names a team may call (team_allowed_routes); null: every route.</summary>
    public ImmutableArray<string>? TeamRoutes { get; init; }
    /// <summary>Models each scope grants (scope_mappings with enforce_scope_based_access); null: scopes grant no models.</summary>
    public ImmutableArray<JwtScopeModels>? ScopeModels { get; init; }
}

/// <summary>One of LiteLLM's scope_mappings: a token with <see cref="Scope"/> may use <see cref="Models"/> (model names as requested).</summary>
internal sealed record JwtScopeModels(string Scope, ImmutableArray<string> Models);

/// <summary>OpenTelemetry tracing; off unless an OTLP endpoint is set (here or in OTEL_EXPORTER_OTLP_ENDPOINT).</summary>
internal sealed record TracingOptions
{
    public string? OtlpEndpoint { get; init; }
    /// <summary>"http/protobuf" (default) or "grpc".</summary>
    public string Protocol { get; init; } = "http/protobuf";
    public double SampleRatio { get; init; } = 1.0;
    public string ServiceName { get; init; } = "agentic-gateway";
    public TimeSpan ExportInterval { get; init; } = TimeSpan.FromSeconds(5);
}

internal sealed record LoggingOptions
{
    public LogLevel Level { get; init; } = LogLevel.Information;
    /// <summary>"text" or "json".</summary>
    public string Format { get; init; } = "text";
}

/// <summary>Whether a deployment serves OpenAI's Responses API (<c>{api_base}/responses</c>) and whether that is all it serves.</summary>
internal enum ResponsesApiMode
{
    /// <summary>By provider: openai, azure and the built-in mock serve it natively; other OpenAI-compatible servers, often without /responses, do not.</summary>
    Auto,
    /// <summary>Serves /responses natively (Responses requests pass through); chat stays on chat completions.</summary>
    Native,
    /// <summary>Serves only the Responses API: chat (and Anthropic Messages) requests are bridged through it.</summary>
    Only,
    /// <summary>Never native: Responses requests are converted to chat completions.</summary>
    Off,
}

internal sealed record DeploymentOptions
{
    /// <summary>Deployments one model group may hold (the router tracks which it tried as bits of a 64-bit mask).</summary>
    public const int MaxPerGroup = 64;

    /// <summary>Stable id: model_info.id, or derived from name, provider, model and api_base.</summary>
    public required string Id { get; init; }
    /// <summary>Public model name; deployments sharing it form a group. May end in '*' (wildcard).</summary>
    public required string ModelName { get; init; }
    public required string Provider { get; init; }
    /// <summary>Model name sent upstream. May contain '*', replaced by what the public wildcard matched.</summary>
    public required string Model { get; init; }
    public required Uri ApiBase { get; init; }
    public Secret ApiKey { get; init; }
    public string? ApiVersion { get; init; }
    public ImmutableArray<KeyValuePair<string, string>> Headers { get; init; } = [];
    /// <summary>LiteLLM's model_info.access_groups: names a key's models may list to reach this deployment's model.</summary>
    public ImmutableArray<string> AccessGroups { get; init; } = [];
    public TimeSpan? Timeout { get; init; }
    public TimeSpan? StreamTimeout { get; init; }
    public int? MaxRetries { get; init; }
    public double? Weight { get; init; }
    public long? Rpm { get; init; }
    public long? Tpm { get; init; }
    /// <summary>
    /// The price set in the configuration (input_cost_per_token and the other cost keys), or null. The price the
    /// gateway charges is <see cref="Routing.Deployment.Price"/>: this, else the built-in price of the model.
    /// </summary>
    public Pricing.ModelPrice? Price { get; init; }
    public int? MaxInputTokens { get; init; }
    /// <summary>The most a single answer may hold (LiteLLM's <c>max_output_tokens</c>): what a request without its own max_tokens reserves.</summary>
    public int? MaxOutputTokens { get; init; }
    /// <summary>Ask for usage in streams the client did not ask it for (default: whether the provider supports it).</summary>
    public bool? StreamUsage { get; init; }
    public MockDeploymentOptions? Mock { get; init; }
    /// <summary>AWS and Google Cloud settings, for the bedrock and vertex_ai providers.</summary>
    public CloudOptions Cloud { get; init; } = CloudOptions.None;

    /// <summary>LiteLLM's <c>litellm_params.tags</c>: which tagged requests this deployment serves when tag filtering is on.</summary>
    public ImmutableArray<string> Tags { get; init; } = [];
    /// <summary>
    /// Request parameters set in the config (LiteLLM's <c>litellm_params.temperature</c>, <c>max_tokens</c>, ...), each as
    /// its JSON text, in <see cref="DefaultParameters.Names"/> order: added to a request that does not carry them (the
    /// client's own value wins, as in LiteLLM's router).
    /// </summary>
    public ImmutableArray<DefaultParameter> DefaultParams { get; init; } = [];
    /// <summary>How the deployment takes OpenAI's Responses API (LiteLLM's <c>openai/responses/...</c> and <c>mode: responses</c> say <see cref="ResponsesApiMode.Only"/>).</summary>
    public ResponsesApiMode ResponsesApi { get; init; }

    public bool IsWildcard => ModelName.EndsWith('*');

    /// <summary>
    /// What the deployment's requests cost: the configured price, else the built-in price of the upstream model, else
    /// that of the public model name; null when unknown (a wildcard is priced per request instead).
    /// </summary>
    public Pricing.ModelPrice? ResolvedPrice => Price ?? Pricing.PriceBook.Find(Model, Provider) ?? Pricing.PriceBook.Find(ModelName);

    /// <summary>The configured maximum output, else the built-in one of the upstream model, else that of the public name.</summary>
    public int? ResolvedMaxOutputTokens => MaxOutputTokens ?? Pricing.PriceBook.FindMaxOutputTokens(Model, Provider) ?? Pricing.PriceBook.FindMaxOutputTokens(ModelName);
}

/// <summary>Cloud credentials and placement (LiteLLM's names), with the SDKs' environment variables as fallbacks.</summary>
internal sealed record CloudOptions
{
    public static readonly CloudOptions None = new();
    /// <summary>aws_region_name, else AWS_REGION_NAME, AWS_REGION, AWS_DEFAULT_REGION.</summary>
    public string? AwsRegion { get; init; }
    public Secret AwsAccessKeyId { get; init; }
    public Secret AwsSecretAccessKey { get; init; }
    public Secret AwsSessionToken { get; init; }
    /// <summary>vertex_project, else VERTEXAI_PROJECT, VERTEX_PROJECT, GOOGLE_CLOUD_PROJECT.</summary>
    public string? VertexProject { get; init; }
    /// <summary>vertex_location, else VERTEXAI_LOCATION, VERTEX_LOCATION; default us-central1.</summary>
    public string? VertexLocation { get; init; }
    /// <summary>vertex_credentials: a service-account JSON document or a path to one (else GOOGLE_APPLICATION_CREDENTIALS).</summary>
    public Secret VertexCredentials { get; init; }
}

/// <summary>Behaviour of the built-in mock provider for one deployment.</summary>
internal sealed record MockDeploymentOptions
{
    public TimeSpan Latency { get; init; }
    public TimeSpan TimeToFirstToken { get; init; }
    /// <summary>0 means as fast as possible.</summary>
    public double TokensPerSecond { get; init; }
    /// <summary>A fault spec applied to every request (see Emulator/MockFault).</summary>
    public string? Fault { get; init; }
}

internal sealed record RouterOptions
{
    public string Strategy { get; init; } = "simple-shuffle";
    public ImmutableDictionary<string, string> GroupStrategies { get; init; } = ImmutableDictionary<string, string>.Empty;
    public int NumRetries { get; init; } = 2;
    public TimeSpan RetryBackoff { get; init; } = TimeSpan.FromMilliseconds(500);
    public TimeSpan MaxRetryBackoff { get; init; } = TimeSpan.FromSeconds(8);
    /// <summary>An upstream Retry-After longer than this is not waited for: the next deployment or fallback is tried.</summary>
    public TimeSpan MaxRetryAfter { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>Failures within <see cref="FailureWindow"/> that put a deployment into cooldown.</summary>
    public int AllowedFails { get; init; } = 3;
    public TimeSpan FailureWindow { get; init; } = TimeSpan.FromSeconds(60);
    public TimeSpan CooldownTime { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>Whole-request timeout, all attempts included.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(600);
    /// <summary>Longest silence allowed between two chunks of a stream.</summary>
    public TimeSpan StreamIdleTimeout { get; init; } = TimeSpan.FromSeconds(120);
    public ImmutableDictionary<string, ImmutableArray<string>> Fallbacks { get; init; } = ImmutableDictionary<string, ImmutableArray<string>>.Empty;
    public ImmutableArray<string> DefaultFallbacks { get; init; } = [];
    public ImmutableDictionary<string, ImmutableArray<string>> ContextWindowFallbacks { get; init; } = ImmutableDictionary<string, ImmutableArray<string>>.Empty;
    public ImmutableDictionary<string, ImmutableArray<string>> ContentPolicyFallbacks { get; init; } = ImmutableDictionary<string, ImmutableArray<string>>.Empty;
    /// <summary>LiteLLM's <c>router_settings.enable_tag_filtering</c>: requests with tags go only to deployments with one of them.</summary>
    public bool TagFiltering { get; init; }
    /// <summary>LiteLLM's <c>tag_filtering_match_any</c> (default true): one shared tag is enough; false: the deployment needs every request tag.</summary>
    public bool TagMatchAny { get; init; } = true;
}

/// <summary>A secret value that never prints itself.</summary>
internal readonly record struct Secret(string? Value)
{
    public bool IsSet => !string.IsNullOrEmpty(Value);
    public override string ToString() => IsSet ? "***" : "";
}
