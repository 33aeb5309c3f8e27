using System.Collections.Frozen;
using YamlDotNet.RepresentationModel;
using AgenticGateway.Yaml;

namespace AgenticGateway.Configuration;

/// <summary>
/// LiteLLM settings the gateway does not offer, each with what to use instead, so a migrating user's warnings say what
/// to do rather than only "ignored". The keys are those LiteLLM's own example configs use most (see
/// tests/.../Fixtures/litellm). Security settings are not here: those are errors (<see cref="LiteLlmSecurity"/>).
/// </summary>
internal static class LiteLlmFeatures
{
    private const string Observe = "every request is in the spend log (/spend/logs, with key, team, model, tokens and cost) and, with a tracing: section "
        + "(otlp_endpoint) or OTEL_EXPORTER_OTLP_ENDPOINT, in OpenTelemetry traces, which Langfuse, Datadog, Arize and most such backends accept over OTLP";
    private const string NoBatches = "the batch API (/batches) is not offered, so its storage settings have no use; the model itself is served";

    private static readonly FrozenDictionary<string, string> Instead = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["litellm_settings.telemetry"] = "the gateway sends no telemetry anywhere",
        ["litellm_settings.return_response_headers"] = "the provider's rate-limit headers are not passed on; the gateway's own x-litellm-* headers are",
        ["litellm_settings.include_cost_in_streaming_usage"] = "the cost of each request is in the x-litellm-response-cost header and the spend log",
        ["litellm_settings.websearch_interception_params"] = "web search interception is not offered; tools reach the model as the client sent them",
        ["general_settings.background_health_checks"] = "no background checks are run: /health reports each deployment's state from live traffic (cooldowns after failures)",
        ["general_settings.health_check_interval"] = "no background checks are run: /health reports each deployment's state from live traffic (cooldowns after failures)",
        ["general_settings.alerting"] = "budget alerts go to a webhook: add an alerts: section with webhook_url (Slack incoming webhooks work)",
        ["general_settings.alerting_threshold"] = "slow requests show in the gateway's latency metrics on /metrics",
        ["general_settings.alert_to_webhook_url"] = "budget alerts go to a webhook: add an alerts: section with webhook_url",
        ["general_settings.use_queue"] = "requests are not queued: limit concurrency with max_parallel_requests on keys",
        ["general_settings.proxy_budget_rescheduler_min_time"] = "budgets reset on their own period; nothing to schedule",
        ["general_settings.proxy_budget_rescheduler_max_time"] = "budgets reset on their own period; nothing to schedule",
        ["general_settings.proxy_batch_write_at"] = "spend is written through a write-ahead log in small batches; nothing to tune",
        ["general_settings.database_connection_pool_limit"] = "the connection pool is sized by the database URL (Maximum Pool Size=N for PostgreSQL)",
        ["general_settings.disable_prisma_schema_update"] = "the gateway migrates its own schema at start; there is no Prisma",
        ["general_settings.use_redis_transaction_buffer"] = "spend is written through a local write-ahead log; nothing to turn on",
        ["general_settings.key_management_system"] = "secrets are read from the environment (os.environ/NAME); fill it from your secret store",
        ["general_settings.reject_metadata_tags"] = "request tags only steer tag routing here; they never change budgets",
        ["general_settings.reject_clientside_metadata_tags"] = "request tags only steer tag routing here; they never change budgets",
        ["general_settings.custom_team_metadata_validate"] = "team metadata is stored as given; validate it in the tool that creates teams",
        ["general_settings.team_metadata_validation_timeout"] = "team metadata is stored as given",
        ["general_settings.team_metadata_validation_error_message"] = "team metadata is stored as given",
        ["general_settings.port"] = "set the listen address with --port, --urls or AGW_URLS",
        ["general_settings.host"] = "set the listen address with --urls or AGW_URLS",
        ["router_settings.enable_pre_call_checks"] = "a request a model refuses as too long goes to its context_window_fallbacks",
        ["finetune_settings"] = "the fine-tuning API (/fine_tuning/jobs) is not offered",
        ["files_settings"] = "the files API (/files) is not offered",
        ["search_tools"] = "the search API is not offered",
        ["litellm_params.region_name"] = "region-based routing of end users is not offered; the deployment is served to every caller",
        ["litellm_params.input_cost_per_second"] = "price per token (input_cost_per_token, output_cost_per_token) or per request (input_cost_per_request)",
        ["litellm_params.mock_timeout"] = "use the built-in mock provider (model: mock/NAME) with mock: {fault: timeout}",
        ["litellm_params.adaptive_router_config"] = "choose among groups with fallbacks, or spread one group's deployments with routing_strategy",
        ["litellm_params.s3_bucket_name"] = NoBatches,
        ["litellm_params.s3_region_name"] = NoBatches,
        ["litellm_params.s3_access_key_id"] = NoBatches,
        ["litellm_params.s3_secret_access_key"] = NoBatches,
        ["litellm_params.aws_batch_role_arn"] = NoBatches,
        ["policy_attachments"] = "guardrail policies are not offered (a policies: section is refused); run a guardrail service in front of the gateway",
        ["model_info.health_check_timeout"] = "/health uses the deployment's timeout",
        ["model_info.adaptive_router_preferences"] = "choose among groups with fallbacks, or spread one group's deployments with routing_strategy",
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>What to use instead of <paramref name="section"/>.<paramref name="key"/>, or null when we have nothing to say.</summary>
    public static string? InsteadOf(string section, string key) => Instead.GetValueOrDefault($"{section}.{key}") ?? Instead.GetValueOrDefault(key);

    /// <summary>Reports every unread key of <paramref name="map"/>, with what to use instead where we know it.</summary>
    public static void ReportUnknownKeys(ConfigMap map, string section)
    {
        foreach (var key in map.Keys.ToList())
        {
            if (map.WasRead(key)) continue;
            map.MarkRead(key);
            map.Context.Issues.Warning(map.Child(key), InsteadOf(section, key) is { } instead ? $"not supported, ignored: {instead}" : "unknown key, ignored");
        }
    }

    /// <summary>
    /// litellm_settings callbacks (callbacks, success_callback, failure_callback): each logging integration gets a warning
    /// with what the gateway offers for it. Guardrail callbacks are refused by <see cref="LiteLlmSecurity"/>.
    /// </summary>
    public static void ReadCallbacks(ConfigMap ls)
    {
        foreach (var key in new[] { "callbacks", "success_callback", "failure_callback", "service_callback" })
        {
            if (!ls.Has(key)) continue;
            foreach (var name in ls.StringList(key).Where(n => !LiteLlmSecurity.IsGuardrailCallback(n)))
                ls.Context.Issues.Warning(ls.Child(key), $"the '{name}' callback is not offered: {CallbackInstead(name)}");
        }
    }

    public static string CallbackInstead(string name) => name switch
    {
        "prometheus" => "Prometheus metrics are always served at /metrics (request, token, spend and latency series); nothing to configure",
        "otel" or "opentelemetry" or "open_telemetry" => "add a tracing: section with otlp_endpoint (or set OTEL_EXPORTER_OTLP_ENDPOINT) and the gateway exports OpenTelemetry traces",
        "websearch_interception" => "web search interception is not offered; tools reach the model as the client sent them",
        _ => Observe,
    };

    /// <summary>
    /// litellm_settings.default_team_settings: LiteLLM's per-team logging (each entry's success_callback, failure_callback
    /// and callback settings such as a team's own Langfuse project, applied to requests by that team's keys). The gateway
    /// has no logging callbacks, so each team entry is reported with what it offers instead.
    /// </summary>
    public static void ReadDefaultTeamSettings(ConfigMap ls)
    {
        foreach (var (node, path) in ls.Sequence("default_team_settings"))
        {
            var team = ls.AsMap(node, path);
            if (team is null) continue;
            var id = team.String("team_id");
            if (id is null) { ls.Context.Issues.Warning(path, "a default_team_settings entry without team_id applies to no team; ignored"); continue; }
            var callbacks = team.StringList("success_callback").AddRange(team.StringList("failure_callback")).Distinct().ToArray();
            var what = callbacks.Length > 0 ? $"logging to {string.Join(", ", callbacks)}" : "its callback settings";
            ls.Context.Issues.Warning(path, $"per-team logging is not offered, so team '{id}' has no {what}: {Observe}; the spend log and traces carry the team id");
            foreach (var key in team.Keys.ToList()) team.MarkRead(key);
        }
    }
}
