using Microsoft.Extensions.Logging;
using System.Collections.Immutable;
using AgenticGateway.Yaml;

namespace AgenticGateway.Configuration;

/// <summary>
/// Maps a LiteLLM proxy config.yaml as-is. Keys we understand are applied; every other key is reported as a
/// warning with its path, so a migrating user sees exactly what is not carried over.
/// </summary>
internal static class LiteLlmMapper
{
    /// <summary>model_info keys that only describe a model (capabilities, limits) and need no action here.</summary>
    private static readonly string[] DescriptiveModelInfoKeys =
    [
        "mode", "base_model", "litellm_provider", "description", "db_model",
        "supports_function_calling", "supports_parallel_function_calling", "supports_vision", "supports_response_schema",
        "supports_tool_choice", "supports_system_messages", "supports_prompt_caching", "supports_reasoning",
        "supports_audio_input", "supports_audio_output", "supports_pdf_input", "supports_web_search",
    ];

    public static MappedConfig Map(ConfigMap root)
    {
        var deployments = new List<DeploymentSpec>();
        foreach (var (node, path) in root.Sequence("model_list"))
        {
            var entry = root.AsMap(node, path);
            if (entry is null) continue;
            if (ReadDeployment(entry, path) is { } spec) deployments.Add(spec);
        }

        var router = new RouterSpec();
        var o = new RouterOptions();
        var logging = new LoggingOptions();
        var server = new ServerOptions { LiteLlmHeaders = true };

        (decimal? Max, string? Duration) proxyBudget = default;
        GuardrailOptions? guardrails = null;
        var cache = CacheOptions.Off;
        ConfigMap? cacheSettings = null;
        // litellm_settings first: router_settings wins where both set the same thing, as in LiteLLM's Router.
        if (root.Map("litellm_settings") is { } ls)
        {
            o = o with
            {
                NumRetries = ls.Int("num_retries", 0, 20) ?? o.NumRetries,
                Timeout = ls.Duration("request_timeout", positive: true) ?? o.Timeout,
            };
            o = ReadFallbackFamily(ls, router, o);
            if (ls.Bool("json_logs") == true) logging = logging with { Format = "json" };
            if (ls.Bool("set_verbose") == true) logging = logging with { Level = LogLevel.Debug };
            // Unknown request fields always flow through to the provider, so drop_params has nothing to drop.
            ls.MarkRead("drop_params");
            proxyBudget = (ls.Decimal("max_budget"), ls.String("budget_duration"));
            if (proxyBudget.Duration is { } bd && !OwnSchemaMapper.IsBudgetDuration(bd))
                ls.Context.Issues.Error(ls.Child("budget_duration"), $"'{bd}' is not a period such as \"30s\", \"1h\", \"30d\" or \"1mo\"");
            // The cache's Redis may be router_settings' (read below): the cache is read once both are.
            cacheSettings = ls;
            ls.MarkRead("cache");
            ls.MarkRead("cache_params");
            if (LiteLlmSecurity.CheckLiteLlmSettings(ls) is { } metricsAuth) server = server with { MetricsAuth = metricsAuth };
            LiteLlmFeatures.ReadCallbacks(ls);
            LiteLlmFeatures.ReadDefaultTeamSettings(ls);
            guardrails = GuardrailConfigReader.ReadLiteLlm(root, ls);
            LiteLlmFeatures.ReportUnknownKeys(ls, "litellm_settings");
        }

        string? redis = null;
        if (root.Map("router_settings") is { } rs)
        {
            if (router.ReadStrategy(rs, "routing_strategy") is { } strategy) o = o with { Strategy = strategy };
            o = o with
            {
                NumRetries = rs.Int("num_retries", 0, 20) ?? o.NumRetries,
                Timeout = rs.Duration("timeout", positive: true) ?? o.Timeout,
                StreamIdleTimeout = rs.Duration("stream_timeout", positive: true) ?? o.StreamIdleTimeout,
                AllowedFails = rs.Int("allowed_fails", 1) ?? o.AllowedFails,
                CooldownTime = rs.Duration("cooldown_time") ?? o.CooldownTime,
                RetryBackoff = rs.Duration("retry_after") ?? o.RetryBackoff,
                TagFiltering = rs.Bool("enable_tag_filtering") ?? o.TagFiltering,
                TagMatchAny = rs.Bool("tag_filtering_match_any") ?? o.TagMatchAny,
            };
            o = ReadFallbackFamily(rs, router, o);
            if (rs.Map("model_group_alias") is { } aliases)
            {
                foreach (var alias in aliases.Keys.ToList())
                {
                    string? target;
                    var hidden = false;
                    if (aliases.RawNode(alias) is YamlDotNet.RepresentationModel.YamlMappingNode)
                    {
                        var a = aliases.Map(alias)!;
                        target = a.String("model");
                        hidden = a.Bool("hidden") ?? false;
                        a.ReportUnknownKeys(strict: false);
                    }
                    else target = aliases.String(alias);
                    if (target is null) { aliases.Context.Issues.Error(aliases.Child(alias), "alias needs a target model"); continue; }
                    router.Aliases[alias] = new AliasOptions(target, hidden);
                    router.GroupReferences.Add((aliases.Child(alias), target));
                }
            }
            // LiteLLM shares rate-limit counters across replicas through Redis named here.
            redis = rs.String("redis_url");
            if (redis is null && rs.String("redis_host") is { Length: > 0 } host)
            {
                var password = rs.String("redis_password");
                redis = $"redis://{(password is null ? "" : ":" + Uri.EscapeDataString(password) + "@")}{host}:{rs.Int("redis_port", 1, 65535) ?? 6379}";
            }
            LiteLlmFeatures.ReportUnknownKeys(rs, "router_settings");
        }
        router.Options = o;
        if (cacheSettings is not null) cache = CacheConfigReader.ReadLiteLlm(cacheSettings, redis);
        if (!o.TagFiltering && deployments.FirstOrDefault(d => !d.Tags.IsDefaultOrEmpty) is { } tagged)
            root.Context.Issues.Warning($"{tagged.Path}.litellm_params.tags", "deployment tags route requests only with router_settings.enable_tag_filtering: true; without it they are ignored");

        var masterKey = default(Secret);
        var storage = new StorageOptions();
        JwtOptions? jwt = null;
        System.Collections.Immutable.ImmutableArray<PassThroughEndpoint> passThrough = [];
        // LiteLLM: STORE_MODEL_IN_DB=True in the environment, or general_settings.store_model_in_db.
        var storeModelInDb = bool.TryParse(root.Context.Env.Lookup("STORE_MODEL_IN_DB"), out var fromEnv) && fromEnv;
        if (root.Map("general_settings") is { } gs)
        {
            storeModelInDb = gs.Bool("store_model_in_db") ?? storeModelInDb;
            masterKey = new Secret(gs.AuthSecret("master_key"));
            if (gs.String("database_url") is { Length: > 0 } db) storage = storage with { DatabaseUrl = new Secret(db) };
            jwt = LiteLlmSecurity.CheckGeneralSettings(gs);
            passThrough = PassThroughReader.Read(gs, "pass_through_endpoints", strict: false);
            // LiteLLM's request and response size limits, in MB (its docs' example sets a tiny request limit to see the refusal).
            if (gs.Double("max_request_size_mb", 0) is { } requestMb) server = server with { MaxRequestBodyBytes = Math.Max(1, (long)(requestMb * 1024 * 1024)) };
            if (gs.Double("max_response_size_mb", 0) is { } responseMb) server = server with { MaxResponseBodyBytes = Math.Max(1, (long)(responseMb * 1024 * 1024)) };
            LiteLlmFeatures.ReportUnknownKeys(gs, "general_settings");
        }
        LiteLlmSecurity.CheckRoot(root);
        guardrails ??= GuardrailConfigReader.ReadLiteLlm(root, null);

        // environment_variables were applied before mapping (see ConfigLoader); mark them read.
        root.MarkRead("environment_variables");
        // Not a LiteLLM key: our sandbox section, accepted beside a LiteLLM config so one file configures both.
        var sandboxes = Sandboxes.SandboxConfigReader.Read(root.Map("sandboxes"));
        var budgets = OwnSchemaMapper.ReadBudgets(root.Map("budgets"));
        // LiteLLM's mcp_servers as it writes them, and (ours) an mcp: section beside it for the gateway's own settings.
        var mcp = McpConfigReader.Read(root.Map("mcp"), root.Map("mcp_servers"), root.Context);
        // Also ours: where traces go (LiteLLM's "otel" callback reads OTEL_EXPORTER_OTLP_ENDPOINT, which the gateway reads too).
        var tracing = OwnSchemaMapper.ReadTracing(root.Map("tracing"));
        // And ours: the Responses API's retention (LiteLLM has no setting of its own for it; see ResponsesOptions.StoreTtl).
        var responses = ResponsesOptions.Read(root.Map("responses"));
        // And ours: Cedar routing policies (LiteLLM has none), read the same way in either schema.
        var routingPolicies = RoutingPolicyOptions.Read(root.Map("routing_policies"));
        if (proxyBudget.Max is not null) budgets = budgets with { ProxyMaxBudget = proxyBudget.Max, ProxyBudgetDuration = proxyBudget.Duration };
        LiteLlmFeatures.ReportUnknownKeys(root, "");
        if (redis is not null) storage = storage with { RedisUrl = new Secret(redis) };
        return new MappedConfig(server, masterKey, deployments, router, logging) { Storage = storage, Sandboxes = sandboxes, Mcp = mcp, Budgets = budgets, Responses = responses, Jwt = jwt, Tracing = tracing, StoreModelInDb = storeModelInDb, PassThroughEndpoints = passThrough, Guardrails = guardrails, Cache = cache, RoutingPolicies = routingPolicies };
    }

    private static DeploymentSpec? ReadDeployment(ConfigMap entry, string path)
    {
        var spec = new DeploymentSpec { Path = path, ModelName = entry.String("model_name"), ModelNamePath = entry.Child("model_name") };
        var p = entry.Map("litellm_params");
        if (p is null)
        {
            entry.Context.Issues.Error(entry.Child("litellm_params"), "litellm_params with a model is required");
            return null;
        }
        spec.SetProviderModel(p.String("model"), p.Child("model"));
        spec.ApiBase = p.String("api_base") ?? p.String("base_url");
        spec.ApiBasePath = p.Child("api_base");
        spec.ApiKey = p.String("api_key");
        spec.ApiVersion = p.String("api_version");
        // LiteLLM's router reads rpm and tpm beside litellm_params too (load_balancer.yaml sets them there).
        spec.Rpm = p.Long("rpm") ?? entry.Long("rpm");
        spec.Tpm = p.Long("tpm") ?? entry.Long("tpm");
        spec.Timeout = p.Duration("timeout", positive: true);
        spec.StreamTimeout = p.Duration("stream_timeout", positive: true);
        spec.MaxRetries = p.Int("max_retries", 0, 100);
        spec.Weight = p.Double("weight", 0);
        spec.ReadCosts(p);
        spec.ReadCloud(p);
        spec.StreamUsage = p.Bool("stream_usage");
        var headers = p.StringPairs("extra_headers").AddRange(p.StringPairs("headers"));
        if (p.String("organization") is { } org) headers = headers.Add(new("OpenAI-Organization", org));
        spec.Headers = headers;
        spec.Tags = p.StringList("tags");
        spec.DefaultParams = ReadDefaultParams(p);
        if (p.Map("mock") is { } mock) spec.Mock = OwnSchemaMapper.ReadMock(mock);
        LiteLlmFeatures.ReportUnknownKeys(p, "litellm_params");

        if (entry.Map("model_info") is { } info)
        {
            spec.Id = info.String("id");
            spec.AccessGroups = info.StringList("access_groups");
            // model_info costs win over litellm_params ones, key by key.
            spec.ReadCosts(info);
            spec.MaxInputTokens = info.Int("max_input_tokens", 1);
            // LiteLLM's legacy max_tokens is the maximum output where max_output_tokens is absent.
            spec.MaxOutputTokens = info.Int("max_output_tokens", 1) ?? info.Int("max_tokens", 1);
            // LiteLLM registers model_info with the model, and bridges chat to the Responses API for a model whose mode is responses.
            if (info.Peek("mode") is not null && info.String("mode") == "responses")
            {
                spec.ResponsesApi = ResponsesApiMode.Only;
                spec.ResponsesApiPath = info.Child("mode");
            }
            foreach (var k in DescriptiveModelInfoKeys) info.MarkRead(k);
            LiteLlmFeatures.ReportUnknownKeys(info, "model_info");
        }
        LiteLlmFeatures.ReportUnknownKeys(entry, "model_list[]");
        // What tells this entry from another, its key left out (the id adds the key's hash, never the key).
        spec.Identity = entry.Peek("litellm_params") is { } lp ? YamlCanonical.Text(lp, "api_key") : null;
        return spec;
    }

    /// <summary>The OpenAI request parameters set in litellm_params (temperature, max_tokens, ...), as JSON, in a fixed order.</summary>
    private static ImmutableArray<DefaultParameter> ReadDefaultParams(ConfigMap p)
    {
        var builder = ImmutableArray.CreateBuilder<DefaultParameter>();
        for (var i = 0; i < DefaultParameters.Names.Length; i++)
        {
            var name = DefaultParameters.Names[i];
            if (p.RawNode(name) is not { } node) continue;
            if (YamlJson.ToJson(node, p.Child(name), p.Context) is { } json && json != "null") builder.Add(new DefaultParameter(i, json));
        }
        return builder.ToImmutable();
    }

    private static RouterOptions ReadFallbackFamily(ConfigMap m, RouterSpec router, RouterOptions o)
    {
        o = o with
        {
            Fallbacks = router.ReadFallbacks(m, "fallbacks", o.Fallbacks),
            ContextWindowFallbacks = router.ReadFallbacks(m, "context_window_fallbacks", o.ContextWindowFallbacks),
            ContentPolicyFallbacks = router.ReadFallbacks(m, "content_policy_fallbacks", o.ContentPolicyFallbacks),
        };
        if (m.Has("default_fallbacks")) o = o with { DefaultFallbacks = router.ReadGroupList(m, "default_fallbacks") };
        return o;
    }
}
