using Microsoft.Extensions.Logging;
using System.Collections.Immutable;
using AgenticGateway.Edge;
using AgenticGateway.Yaml;

namespace AgenticGateway.Configuration;

/// <summary>Maps our own documented schema (docs/configuration.md). Unknown keys are errors: typos must not pass silently.</summary>
internal static class OwnSchemaMapper
{
    public static MappedConfig Map(ConfigMap root)
    {
        var server = new ServerOptions();
        if (root.Map("server") is { } s)
        {
            var port = s.Int("port", 0, 65535);
            var urls = s.String("urls");
            if (urls is not null) server = server with { Urls = urls };
            else if (port is not null) server = server with { Urls = $"http://0.0.0.0:{port}" };
            if (s.Long("max_request_body_bytes", 1024) is { } max) server = server with { MaxRequestBodyBytes = max };
            if (s.Bool("litellm_headers") is { } compat) server = server with { LiteLlmHeaders = compat };
            if (s.Bool("metrics_auth") is { } metricsAuth) server = server with { MetricsAuth = metricsAuth };
            if (s.String("metrics_urls") is { Length: > 0 } metricsUrls) server = server with { MetricsUrls = metricsUrls };
            s.ReportUnknownKeys(strict: true);
        }

        var masterKey = new Secret(root.AuthSecret("master_key"));

        var deployments = new List<DeploymentSpec>();
        foreach (var (node, path) in root.Sequence("models"))
        {
            var m = root.AsMap(node, path);
            if (m is null) continue;
            var spec = new DeploymentSpec
            {
                Path = path,
                ModelName = m.String("name"),
                ModelNamePath = m.Child("name"),
                Provider = m.String("provider"),
                ModelPath = m.Child("provider"),
                ApiBase = m.String("api_base"),
                ApiBasePath = m.Child("api_base"),
                ApiKey = m.String("api_key"),
                ApiVersion = m.String("api_version"),
                Id = m.String("id"),
                Headers = m.StringPairs("headers"),
                Timeout = m.Duration("timeout", positive: true),
                StreamTimeout = m.Duration("stream_timeout", positive: true),
                MaxRetries = m.Int("max_retries", 0, 100),
                Weight = m.Double("weight", 0),
                Rpm = m.Long("rpm"),
                Tpm = m.Long("tpm"),
                MaxInputTokens = m.Int("max_input_tokens", 1),
                MaxOutputTokens = m.Int("max_output_tokens", 1),
                StreamUsage = m.Bool("stream_usage"),
            };
            spec.ReadCosts(m);
            spec.ReadCloud(m);
            spec.ReadResponsesApi(m);
            spec.Identity = YamlCanonical.Text(node, "api_key", "id");
            spec.Model = m.String("model") ?? spec.ModelName;
            if (spec.Provider is null) m.Context.Issues.Error(m.Child("provider"), "a provider is required");
            if (m.Map("mock") is { } mock) spec.Mock = ReadMock(mock);
            m.ReportUnknownKeys(strict: true);
            deployments.Add(spec);
        }

        var router = new RouterSpec();
        if (root.Map("aliases") is { } aliases)
        {
            foreach (var alias in aliases.Keys.ToList())
            {
                var target = aliases.String(alias);
                if (target is null) continue;
                router.Aliases[alias] = new AliasOptions(target, Hidden: false);
                router.GroupReferences.Add((aliases.Child(alias), target));
            }
        }
        if (root.Map("router") is { } r) router.Options = ReadRouter(r, router);

        var logging = ReadLogging(root.Map("logging"));
        var tracing = ReadTracing(root.Map("tracing"));
        var storage = new StorageOptions();
        var storeModelInDb = false;
        if (root.Map("storage") is { } st)
        {
            storeModelInDb = st.Bool("store_model_in_db") ?? false;
            if (st.String("data_dir") is { Length: > 0 } dir) storage = storage with { DataDirectory = dir };
            if (st.String("database_url") is { Length: > 0 } db) storage = storage with { DatabaseUrl = new Secret(db) };
            if (st.String("redis_url") is { Length: > 0 } redis) storage = storage with { RedisUrl = new Secret(redis) };
            if (st.Bool("redis_fail_open") is { } failOpen) storage = storage with { RedisFailOpen = failOpen };
            if (st.Duration("redis_timeout", positive: true) is { } redisTimeout) storage = storage with { RedisTimeout = redisTimeout };
            st.ReportUnknownKeys(strict: true);
        }
        var jwt = ReadJwt(root.Map("jwt"));
        var cache = CacheConfigReader.ReadOwn(root.Map("cache"), storage.RedisUrl.IsSet ? storage.RedisUrl.Value : null);
        var alerts = ReadAlerts(root.Map("alerts"));
        var sandboxes = Sandboxes.SandboxConfigReader.Read(root.Map("sandboxes"));
        var budgets = ReadBudgets(root.Map("budgets"));
        var mcp = McpConfigReader.Read(root.Map("mcp"), null, root.Context);
        var responses = ResponsesOptions.Read(root.Map("responses"));
        var edge = ReadEdge(root);
        var passThrough = PassThroughReader.Read(root, "pass_through_endpoints", strict: true);
        var guardrails = GuardrailConfigReader.ReadOwn(root);
        var routingPolicies = RoutingPolicyOptions.Read(root.Map("routing_policies"));
        root.ReportUnknownKeys(strict: true);
        return new MappedConfig(server, masterKey, deployments, router, logging) { Tracing = tracing, Storage = storage, Jwt = jwt, Alerts = alerts, Sandboxes = sandboxes, Mcp = mcp, Budgets = budgets, Responses = responses, StoreModelInDb = storeModelInDb, Edge = edge, PassThroughEndpoints = passThrough, Guardrails = guardrails, Cache = cache, RoutingPolicies = routingPolicies };
    }

    /// <summary>
    /// The edge's keys (Traefik's static configuration and inline dynamic configuration, in Traefik's own spelling),
    /// read as Traefik reads them: no environment interpolation, since "${1}" is a regex replacement there.
    /// </summary>
    private static EdgeStaticConfig ReadEdge(ConfigMap root)
    {
        var errors = new List<string>();
        var entries = new List<KeyValuePair<string, EdgeNode>>();
        foreach (var key in StaticConfigReader.Keys)
            if (root.RawNode(key) is { } node) entries.Add(new(key, EdgeFiles.FromYamlNode(node, key, "the config file", errors)));
        if (entries.Count == 0) return EdgeStaticConfig.Empty;
        var edge = errors.Count == 0 ? StaticConfigReader.Read(EdgeNode.OfMap("", entries), errors, root.Context.Env.Lookup) : EdgeStaticConfig.Empty;
        foreach (var error in errors) root.Context.Issues.Error("", error);
        return edge;
    }

    public static MockDeploymentOptions ReadMock(ConfigMap mock)
    {
        var options = new MockDeploymentOptions
        {
            Latency = mock.Duration("latency") ?? TimeSpan.Zero,
            TimeToFirstToken = mock.Duration("time_to_first_token") ?? TimeSpan.Zero,
            TokensPerSecond = mock.Double("tokens_per_second", 0) ?? 0,
            Fault = mock.String("fault"),
        };
        if (options.Fault is not null && !MockFault.TryParse(options.Fault, out _, out var error))
            mock.Context.Issues.Error(mock.Child("fault"), error!);
        mock.ReportUnknownKeys(strict: true);
        return options;
    }

    private static RouterOptions ReadRouter(ConfigMap r, RouterSpec spec)
    {
        var o = new RouterOptions();
        if (spec.ReadStrategy(r, "strategy") is { } strategy) o = o with { Strategy = strategy };
        if (r.Map("groups") is { } groups)
        {
            var builder = ImmutableDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
            foreach (var group in groups.Keys.ToList())
            {
                var g = groups.Map(group);
                if (g is null) continue;
                spec.GroupReferences.Add((groups.Child(group), group));
                if (spec.ReadStrategy(g, "strategy") is { } gs) builder[group] = gs;
                g.ReportUnknownKeys(strict: true);
            }
            o = o with { GroupStrategies = builder.ToImmutable() };
        }
        o = o with
        {
            NumRetries = r.Int("num_retries", 0, 20) ?? o.NumRetries,
            RetryBackoff = r.Duration("retry_backoff") ?? o.RetryBackoff,
            MaxRetryBackoff = r.Duration("max_retry_backoff") ?? o.MaxRetryBackoff,
            MaxRetryAfter = r.Duration("max_retry_after") ?? o.MaxRetryAfter,
            AllowedFails = r.Int("allowed_fails", 1) ?? o.AllowedFails,
            FailureWindow = r.Duration("failure_window", positive: true) ?? o.FailureWindow,
            CooldownTime = r.Duration("cooldown_time") ?? o.CooldownTime,
            Timeout = r.Duration("timeout", positive: true) ?? o.Timeout,
            StreamIdleTimeout = r.Duration("stream_idle_timeout", positive: true) ?? o.StreamIdleTimeout,
        };
        o = o with
        {
            Fallbacks = spec.ReadFallbacks(r, "fallbacks", o.Fallbacks),
            DefaultFallbacks = spec.ReadGroupList(r, "default_fallbacks"),
            ContextWindowFallbacks = spec.ReadFallbacks(r, "context_window_fallbacks", o.ContextWindowFallbacks),
            ContentPolicyFallbacks = spec.ReadFallbacks(r, "content_policy_fallbacks", o.ContentPolicyFallbacks),
        };
        r.ReportUnknownKeys(strict: true);
        return o;
    }

    /// <summary>The <c>budgets:</c> section (ours; accepted beside a LiteLLM config too). Unknown keys are errors in either.</summary>
    /// <summary>A budget reset period as LiteLLM writes them ("30s", "30m", "24h", "30d", "1mo").</summary>
    public static bool IsBudgetDuration(string text) =>
        System.Text.RegularExpressions.Regex.IsMatch(text.Trim(), "^[1-9][0-9]{0,4}(s|m|h|d|mo)$");

    public static BudgetOptions ReadBudgets(ConfigMap? b)
    {
        var options = new BudgetOptions();
        if (b is null) return options;
        options = options with
        {
            AllowUnpricedModels = b.Bool("allow_unpriced_models") ?? options.AllowUnpricedModels,
            DefaultMaxOutputTokens = b.Int("default_max_output_tokens", 1) ?? options.DefaultMaxOutputTokens,
            ProxyMaxBudget = b.Decimal("max_budget"),
            ProxyBudgetDuration = b.String("budget_duration"),
        };
        if (options.ProxyBudgetDuration is { } d && !IsBudgetDuration(d))
            b.Context.Issues.Error(b.Child("budget_duration"), $"'{d}' is not a period such as \"30s\", \"1h\", \"30d\" or \"1mo\"");
        b.ReportUnknownKeys(strict: true);
        return options;
    }

    private static AlertOptions? ReadAlerts(ConfigMap? a)
    {
        if (a is null) return null;
        var url = a.String("webhook_url");
        var thresholds = a.Sequence("budget_thresholds").Count > 0
            ? a.Sequence("budget_thresholds").Select(n => double.TryParse((n.Node as YamlDotNet.RepresentationModel.YamlScalarNode)?.Value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var v) && v is > 0 and <= 10 ? v : -1).ToImmutableArray()
            : [0.8, 1.0];
        a.ReportUnknownKeys(strict: true);
        if (thresholds.Any(t => t < 0)) { a.Context.Issues.Error(a.Child("budget_thresholds"), "thresholds are fractions of max_budget, such as 0.8 or 1.0"); return null; }
        if (url is null || !Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            a.Context.Issues.Error(a.Child("webhook_url"), "an absolute http(s) URL is required");
            return null;
        }
        return new AlertOptions { WebhookUrl = uri, BudgetThresholds = thresholds.Order().ToImmutableArray() };
    }

    private static JwtOptions? ReadJwt(ConfigMap? j)
    {
        if (j is null) return null;
        var options = new JwtOptions
        {
            Issuer = j.String("issuer"),
            Audience = j.String("audience"),
            Secret = new Secret(j.AuthSecret("secret")),
            PublicKeyPem = j.String("public_key"),
            JwksUrls = j.StringList("jwks_url"),
            KeyCacheTtl = j.Duration("jwks_cache_ttl", positive: true) ?? TimeSpan.FromMinutes(10),
            UserClaim = j.String("user_claim") ?? "sub",
            TeamClaim = j.String("team_claim") ?? "team_id",
            AdminScope = j.String("admin_scope"),
        };
        var sources = (options.Secret.IsSet ? 1 : 0) + (options.PublicKeyPem is null ? 0 : 1) + (options.JwksUrls.Length > 0 ? 1 : 0);
        // A secret naming an unset variable was reported as such already; "needs exactly one" would only blur it.
        var unresolvedSecret = sources == 0 && j.Peek("secret") is not null;
        if (sources != 1 && !unresolvedSecret) j.Context.Issues.Error(j.Path, "jwt needs exactly one of a secret (HS256), a public_key (PEM, RS256/ES256) or a jwks_url");
        else if (options.Secret.IsSet && options.Secret.Value!.Length < 32) j.Context.Issues.Error(j.Child("secret"), "an HS256 secret must be at least 32 characters");
        foreach (var url in options.JwksUrls)
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                j.Context.Issues.Error(j.Child("jwks_url"), $"'{url}' is not an absolute http(s) URL");
        }
        j.ReportUnknownKeys(strict: true);
        return options;
    }

    public static TracingOptions ReadTracing(ConfigMap? t)
    {
        var tracing = new TracingOptions();
        if (t is null) return tracing;
        if (t.String("otlp_endpoint") is { } endpoint)
        {
            if (Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https") tracing = tracing with { OtlpEndpoint = endpoint };
            else t.Context.Issues.Error(t.Child("otlp_endpoint"), $"'{endpoint}' is not an absolute http(s) URL");
        }
        if (t.String("protocol") is { } protocol)
        {
            if (protocol is "http/protobuf" or "grpc") tracing = tracing with { Protocol = protocol };
            else t.Context.Issues.Error(t.Child("protocol"), $"unknown protocol '{protocol}' (http/protobuf, grpc)");
        }
        if (t.Double("sample_ratio", 0) is { } ratio)
        {
            if (ratio <= 1) tracing = tracing with { SampleRatio = ratio };
            else t.Context.Issues.Error(t.Child("sample_ratio"), "must be between 0 and 1");
        }
        if (t.String("service_name") is { Length: > 0 } name) tracing = tracing with { ServiceName = name };
        if (t.Duration("export_interval", positive: true) is { } interval) tracing = tracing with { ExportInterval = interval };
        t.ReportUnknownKeys(strict: true);
        return tracing;
    }

    public static LoggingOptions ReadLogging(ConfigMap? l)
    {
        var logging = new LoggingOptions();
        if (l is null) return logging;
        if (l.String("level") is { } level)
        {
            if (Enum.TryParse<LogLevel>(level, ignoreCase: true, out var parsed)) logging = logging with { Level = parsed };
            else l.Context.Issues.Error(l.Child("level"), $"unknown log level '{level}' (trace, debug, information, warning, error, critical, none)");
        }
        if (l.String("format") is { } format)
        {
            if (format is "text" or "json") logging = logging with { Format = format };
            else l.Context.Issues.Error(l.Child("format"), $"unknown log format '{format}' (text, json)");
        }
        l.ReportUnknownKeys(strict: true);
        return logging;
    }
}
