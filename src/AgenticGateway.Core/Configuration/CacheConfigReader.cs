using System.Collections.Frozen;
using System.Collections.Immutable;
using AgenticGateway.Yaml;

namespace AgenticGateway.Configuration;

/// <summary>
/// Reads the response cache: LiteLLM's <c>litellm_settings.cache: true</c> with <c>cache_params</c> (the keys its
/// cache settings page lists), and our <c>cache:</c> section with the same names. Backends the gateway does not offer
/// (object stores, disk, Qdrant) are errors naming what to use, so a migrating config never silently loses its cache.
/// </summary>
internal static class CacheConfigReader
{
    /// <summary>LiteLLM's call types the gateway can serve from a cache (its names, sync and async alike).</summary>
    internal static readonly FrozenNames KnownCallTypes = new(
        ["completion", "acompletion", "text_completion", "atext_completion", "embedding", "aembedding",
         "transcription", "atranscription", "rerank", "arerank", "responses", "aresponses", "anthropic_messages"]);

    /// <summary>
    /// LiteLLM: <paramref name="enabled"/> is <c>litellm_settings.cache</c>, <paramref name="cacheParams"/> its
    /// <c>cache_params</c>. <paramref name="storageRedis"/> is the Redis the rest of the config names (router_settings).
    /// </summary>
    public static CacheOptions ReadLiteLlm(ConfigMap settings, string? storageRedis)
    {
        var enabled = settings.Has("cache") ? settings.Bool("cache") ?? false : false;
        var p = settings.Map("cache_params");
        if (!enabled)
        {
            // cache_params alone does nothing in LiteLLM either: say so rather than cache unasked.
            if (p is not null)
            {
                settings.Context.Issues.Warning(settings.Child("cache_params"), "cache_params has no effect without litellm_settings.cache: true; the cache is off");
                foreach (var key in p.Keys.ToList()) p.MarkRead(key);
            }
            return CacheOptions.Off;
        }
        var options = p is null ? DefaultFor("local", null) : Read(p, storageRedis, strict: false);
        return options;
    }

    /// <summary>Ours: a <c>cache:</c> section turns the cache on (unless <c>enabled: false</c>); its keys are LiteLLM's cache_params names.</summary>
    public static CacheOptions ReadOwn(ConfigMap? section, string? storageRedis)
    {
        if (section is null) return CacheOptions.Off;
        var enabled = section.Bool("enabled") ?? true;
        var options = Read(section, storageRedis, strict: true);
        return enabled ? options : CacheOptions.Off;
    }

    private static CacheOptions DefaultFor(string type, string? redis) => new() { Enabled = true, Type = type, RedisUrl = redis };

    private static CacheOptions Read(ConfigMap p, string? storageRedis, bool strict)
    {
        var issues = p.Context.Issues;
        var type = (p.String("type") ?? "local").ToLowerInvariant();
        // A backend the gateway does not offer: an error in our schema; in a LiteLLM file a warning and no cache, so a
        // migrating config still starts (every request then reaches a model, as the warning says).
        string? refused = type switch
        {
            "local" or "redis" or "redis-semantic" => null,
            // Valkey speaks Redis' protocol, and the semantic index is the gateway's own (kept in Redis), so a Valkey
            // semantic cache is the same thing here.
            "valkey-semantic" => null,
            "qdrant-semantic" => "the Qdrant semantic cache is not offered: use type: redis-semantic (the gateway keeps its own vector index, shared through Redis)",
            "s3" or "gcs" or "azure-blob" or "azure_blob" => $"the {type} cache is not offered: use type: redis (shared by replicas) or local",
            "disk" => "the disk cache is not offered: use type: local (in memory) or redis (survives restarts, shared by replicas)",
            _ => $"unknown cache type '{type}': expected local, redis or redis-semantic",
        };
        if (type == "valkey-semantic") type = "redis-semantic";
        if (refused is not null)
        {
            if (strict) issues.Error(p.Child("type"), refused);
            else
            {
                issues.Warning(p.Child("type"), refused + "; the cache is off");
                foreach (var key in p.Keys.ToList()) p.MarkRead(key);
                return CacheOptions.Off;
            }
        }
        var options = DefaultFor(type, null);

        // LiteLLM: ttl applies to every layer; default_in_memory_ttl / default_in_redis_ttl only when ttl is not set.
        var ttl = p.Duration("ttl", positive: true);
        var memoryTtl = p.Duration("default_in_memory_ttl", positive: true);
        var redisTtl = p.Duration("default_in_redis_ttl", positive: true);
        options = options with { Ttl = ttl ?? (type == "local" ? memoryTtl : redisTtl) ?? options.Ttl };

        if (p.String("namespace") is { } ns)
        {
            if (ns.Length is 0 or > 128 || ns.Any(char.IsControl)) issues.Error(p.Child("namespace"), "must be 1 to 128 printable characters");
            else options = options with { Namespace = ns };
        }

        if (p.Has("supported_call_types"))
        {
            var types = p.StringList("supported_call_types");
            foreach (var t in types)
                if (!KnownCallTypes.Contains(t))
                    issues.Error(p.Child("supported_call_types"), $"unknown call type '{t}': expected one of {string.Join(", ", KnownCallTypes.Names)}");
            options = options with { SupportedCallTypes = types };
        }

        if (p.String("mode") is { } mode)
        {
            if (mode is "default_on" or "default_off") options = options with { DefaultOn = mode == "default_on" };
            else issues.Error(p.Child("mode"), $"expected default_on or default_off, got '{mode}'");
        }

        // Ours: who shares answers.
        if (p.String("partition") is { } partition)
        {
            switch (partition.ToLowerInvariant())
            {
                case "team": options = options with { Partition = CachePartition.Team }; break;
                case "key": options = options with { Partition = CachePartition.Key }; break;
                case "global": options = options with { Partition = CachePartition.Global }; break;
                default: issues.Error(p.Child("partition"), $"expected team, key or global, got '{partition}'"); break;
            }
        }
        if (p.Int("max_entry_bytes", 1024, 64 * 1024 * 1024) is { } maxEntry) options = options with { MaxEntryBytes = maxEntry };
        if (p.Int("max_local_entries", 1, 10_000_000) is { } maxLocal) options = options with { MaxLocalEntries = maxLocal };

        // The connection: LiteLLM's host/port/password or url/redis_url; else its REDIS_* environment variables;
        // else the Redis the rest of the config uses.
        var redis = RedisUrlOf(p);
        // LiteLLM's connection-pool and socket settings: the gateway's one multiplexer needs no pool.
        p.MarkRead("max_connections");
        p.MarkRead("socket_timeout");
        if (type is "redis" or "redis-semantic")
        {
            redis ??= RedisFromEnvironment(p.Context.Env) ?? storageRedis;
            if (redis is null)
            {
                // LiteLLM's Redis client then connects to its default, localhost:6379; so does the gateway, and says so.
                issues.Warning(p.Child("type"), $"a {type} cache names no Redis (cache_params host/port/password or url, REDIS_HOST/REDIS_URL, or router_settings.redis_url): using redis://localhost:6379");
                redis = "redis://localhost:6379";
            }
            options = options with { RedisUrl = redis };
        }
        else if (redis is not null)
        {
            issues.Warning(p.Child("host"), "Redis settings are ignored by a local cache; set type: redis to share the cache");
        }

        var threshold = p.Double("similarity_threshold", 0);
        if (threshold is > 1) issues.Error(p.Child("similarity_threshold"), "must be between 0 and 1");
        var embedding = p.String("redis_semantic_cache_embedding_model");
        var maxTemperature = p.Double("max_temperature", 0);
        var thresholds = ImmutableDictionary.CreateBuilder<string, double>(StringComparer.Ordinal);
        if (p.Map("similarity_thresholds") is { } perModel)
        {
            foreach (var model in perModel.Keys.ToList())
            {
                var t = perModel.Double(model, 0);
                if (t is > 1) issues.Error(perModel.Child(model), "must be between 0 and 1");
                else if (t is { } v) thresholds[model] = v;
            }
        }
        if (type == "redis-semantic")
        {
            if (embedding is null)
                issues.Error(p.Child("redis_semantic_cache_embedding_model"), "a semantic cache needs the model group that embeds prompts (a model_name of this config)");
            if (threshold is null)
                issues.Error(p.Child("similarity_threshold"), "a semantic cache needs similarity_threshold (for example 0.9)");
            else if (embedding is not null)
            {
                var semantic = new SemanticCacheOptions { EmbeddingModel = embedding, Threshold = threshold.Value, ThresholdByModel = thresholds.ToImmutable() };
                if (maxTemperature is { } mt) semantic = semantic with { MaxTemperature = mt };
                options = options with { Semantic = semantic };
            }
        }
        else if (embedding is not null || threshold is not null || thresholds.Count > 0)
        {
            issues.Warning(p.Child("type"), "similarity settings apply only to type: redis-semantic; ignored");
        }

        if (strict) p.ReportUnknownKeys(strict: true);
        else LiteLlmFeatures.ReportUnknownKeys(p, "cache_params");
        return options;
    }

    private static string? RedisUrlOf(ConfigMap p)
    {
        if (p.String("url") is { Length: > 0 } url) { p.MarkRead("redis_url"); return url; }
        if (p.String("redis_url") is { Length: > 0 } redisUrl) return redisUrl;
        var host = p.String("host");
        var port = p.Int("port", 1, 65535);
        var password = p.String("password");
        var username = p.String("username");
        var ssl = p.Bool("ssl") ?? false;
        if (host is not { Length: > 0 }) return null;
        return Compose(host, port, username, password, ssl);
    }

    private static string Compose(string host, int? port, string? username, string? password, bool ssl)
    {
        var auth = password is null ? "" : $"{Uri.EscapeDataString(username ?? "")}:{Uri.EscapeDataString(password)}@";
        return $"{(ssl ? "rediss" : "redis")}://{auth}{host}:{port ?? 6379}";
    }

    /// <summary>LiteLLM's fallback when cache_params names no Redis: REDIS_URL, else REDIS_HOST/REDIS_PORT/REDIS_PASSWORD.</summary>
    private static string? RedisFromEnvironment(EnvInterpolator env)
    {
        if (env.Lookup("REDIS_URL") is { Length: > 0 } url) return url;
        if (env.Lookup("REDIS_HOST") is not { Length: > 0 } host) return null;
        var port = int.TryParse(env.Lookup("REDIS_PORT"), out var p) && p is > 0 and < 65536 ? p : (int?)null;
        return Compose(host, port, env.Lookup("REDIS_USERNAME"), env.Lookup("REDIS_PASSWORD"), ssl: false);
    }
}

/// <summary>A small fixed set of names, kept in their listed order for messages.</summary>
internal sealed class FrozenNames(string[] names)
{
    private readonly FrozenSet<string> _set = names.ToFrozenSet(StringComparer.Ordinal);
    public IReadOnlyList<string> Names { get; } = names;
    public bool Contains(string name) => _set.Contains(name);
}
