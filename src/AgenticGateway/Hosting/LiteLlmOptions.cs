using System.CommandLine;
using System.Collections.Frozen;

namespace AgenticGateway.Hosting;

/// <summary>
/// The options of LiteLLM's <c>litellm</c> command (litellm/proxy/proxy_cli.py) that <c>agw</c> does not take, each
/// with what to use instead: a LiteLLM user's start command fails with the way forward, not only "unknown option".
/// <c>--config</c>/<c>-c</c>, <c>--port</c>, <c>--host</c>, <c>--model</c>/<c>-m</c>, <c>--alias</c>,
/// <c>--api_base</c>, <c>--debug</c> and <c>--detailed_debug</c> are taken as LiteLLM takes them.
/// </summary>
internal static class LiteLlmOptions
{
    private const string OneProcess = "the gateway is one process that uses every core, so there are no workers to set; run replicas to scale out (deploy/k8s)";
    private const string PerModel = "set it per model in a config file's litellm_params";
    private const string Migrations = "the gateway creates and migrates its own schema at start (general_settings.database_url or DATABASE_URL); nothing to set";

    private static readonly FrozenDictionary<string, string> Hints = new Dictionary<string, string>
    {
        ["--num_workers"] = OneProcess,
        ["--granian_threads"] = OneProcess,
        ["--run_gunicorn"] = OneProcess,
        ["--run_hypercorn"] = OneProcess,
        ["--run_granian"] = OneProcess,
        ["--max_requests_before_restart"] = OneProcess,
        ["--max_requests_before_restart_jitter"] = OneProcess,
        ["--timeout_worker_healthcheck"] = OneProcess,
        ["--limit_concurrency"] = "limit callers with rpm_limit and max_parallel_requests on keys, users and teams (docs/keys-and-spend.md)",
        ["--keepalive_timeout"] = "the gateway keeps Kestrel's keep-alive defaults; nothing to set",
        ["--log_config"] = "set logging.level and logging.format (text or json) in the config file",
        ["--validate_config"] = "run `agw check-config --config FILE`",
        ["--health"] = "GET /health with the master key lists every deployment's state",
        ["--test"] = "send a request with curl or an OpenAI SDK (README.md)",
        ["--test_async"] = "send a request with curl or an OpenAI SDK (README.md)",
        ["--num_requests"] = "send requests with curl or an OpenAI SDK (README.md)",
        ["--temperature"] = PerModel,
        ["--max_tokens"] = PerModel,
        // LiteLLM's --request_timeout sets the global litellm.request_timeout, which litellm_settings.request_timeout sets too.
        ["--request_timeout"] = "set litellm_settings.request_timeout (seconds) in a config file, or timeout per model in litellm_params",
        ["--drop_params"] = "unknown parameters pass through to the provider unchanged; nothing to set",
        ["--add_function_to_prompt"] = "not offered: send tools to a model that supports them",
        ["--headers"] = "set extra_headers per model in a config file's litellm_params",
        ["--api_version"] = "set api_version per model in litellm_params (or AZURE_API_VERSION)",
        // LiteLLM's --max_budget is the proxy-wide budget (litellm.max_budget), which litellm_settings.max_budget sets too.
        ["--max_budget"] = "set the proxy-wide budget in a config file: litellm_settings.max_budget (with budget_duration), or budgets.max_budget in the gateway's own schema (docs/keys-and-spend.md)",
        ["--add_key"] = "not offered: create virtual keys with POST /key/generate",
        ["--save"] = "not offered: write the model list to a config file",
        ["--use_queue"] = "not offered",
        ["--setup"] = "start from examples/litellm-config.yaml or examples/gateway.yaml",
        ["--ssl_keyfile_path"] = "terminate TLS in a reverse proxy or ingress in front of the gateway (docs/deployment.md)",
        ["--ssl_certfile_path"] = "terminate TLS in a reverse proxy or ingress in front of the gateway (docs/deployment.md)",
        ["--ciphers"] = "terminate TLS in a reverse proxy or ingress in front of the gateway (docs/deployment.md)",
        ["--prometheus_metrics_port"] = "set server.metrics_urls (such as http://127.0.0.1:9090) in the config file",
        ["--reload"] = "the config file is watched and reloaded without a flag",
        ["--use_prisma_db_push"] = Migrations,
        ["--skip_server_startup"] = Migrations,
        ["--enforce_prisma_migration_check"] = Migrations,
        ["--use_v2_migration_resolver"] = Migrations,
        ["--use_legacy_migration_resolver"] = Migrations,
        ["--iam_token_db_auth"] = "put the credentials in general_settings.database_url (or DATABASE_URL)",
        ["--azure_postgresql_auth"] = "put the credentials in general_settings.database_url (or DATABASE_URL)",
        ["--telemetry"] = "a no-op in LiteLLM too: remove it",
        ["--local"] = "a no-op in LiteLLM too: remove it",
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>The line for the first LiteLLM-only option the gateway's own command was given, or null.</summary>
    public static string? Hint(ParseResult parsed)
    {
        if (parsed.CommandResult.Command is not RootCommand) return null;
        foreach (var token in parsed.UnmatchedTokens)
        {
            var name = token.Split('=', 2)[0];
            if (Hints.TryGetValue(name, out var hint)) return $"{name} is an option of LiteLLM's litellm command that agw does not take: {hint}.";
        }
        return null;
    }
}
