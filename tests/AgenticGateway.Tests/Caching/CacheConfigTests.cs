using AgenticGateway.Configuration;

namespace AgenticGateway.Tests.Caching;

/// <summary>
/// The cache configuration in LiteLLM's documented shapes (litellm_settings.cache + cache_params, from its caching,
/// cache settings and Redis pages) and in ours (cache:), with what is refused.
/// </summary>
[Trait("Category", "unit")]
public sealed class CacheConfigTests
{
    private const string Models = """
        model_list:
          - model_name: gpt-4o
            litellm_params: {model: openai/gpt-4o, api_key: k}
          - model_name: text-embedding-3-small
            litellm_params: {model: openai/text-embedding-3-small, api_key: k}
        """;

    private static ConfigLoadResult Load(string yaml, Dictionary<string, string>? env = null) => ConfigLoader.Load(yaml, "config.yaml", new Dictionary<string, string>(), variables: env ?? []);

    private static CacheOptions LiteLlm(string settings, Dictionary<string, string>? env = null)
    {
        var result = Load(Models + "\nlitellm_settings:\n" + settings, env);
        Assert.True(result.Options is not null, string.Join("; ", result.Errors));
        return result.Options.Cache;
    }

    [Fact]
    public void Cache_true_alone_is_a_local_cache_on_by_default()
    {
        var c = LiteLlm("  cache: true\n");
        Assert.True(c.Enabled);
        Assert.Equal("local", c.Type);
        Assert.True(c.DefaultOn);
        Assert.Equal(CachePartition.Team, c.Partition);
        Assert.False(LiteLlm("  cache: false\n").Enabled);
    }

    [Fact]
    public void The_documented_redis_example_is_read_with_its_connection()
    {
        var c = LiteLlm("""
              cache: True
              cache_params:
                type: "redis"
                host: "localhost"
                port: 6379
                password: "your_password"
                supported_call_types: ["acompletion", "atext_completion", "aembedding", "atranscription"]
                ttl: 600
                namespace: "litellm.caching.caching"
                max_connections: 100
            """);
        Assert.Equal("redis", c.Type);
        Assert.Equal("redis://:your_password@localhost:6379", c.RedisUrl);
        Assert.Equal(TimeSpan.FromSeconds(600), c.Ttl);
        Assert.Equal("litellm.caching.caching", c.Namespace);
        Assert.Equal(["acompletion", "atext_completion", "aembedding", "atranscription"], c.SupportedCallTypes.ToArray());
    }

    [Fact]
    public void A_redis_cache_without_connection_settings_uses_REDIS_env_then_router_settings()
    {
        var fromEnv = LiteLlm("  cache: true\n  cache_params: {type: redis}\n", new() { ["REDIS_HOST"] = "cache.internal", ["REDIS_PORT"] = "6380", ["REDIS_PASSWORD"] = "pw" });
        Assert.Equal("redis://:pw@cache.internal:6380", fromEnv.RedisUrl);
        var result = Load(Models + "\nlitellm_settings:\n  cache: true\n  cache_params: {type: redis}\nrouter_settings:\n  redis_url: redis://shared:6379\n");
        Assert.Equal("redis://shared:6379", result.Options!.Cache.RedisUrl);
        var none = Load(Models + "\nlitellm_settings:\n  cache: true\n  cache_params: {type: redis}\n");
        Assert.Equal("redis://localhost:6379", none.Options!.Cache.RedisUrl);
        Assert.Contains(none.Warnings, w => w.Contains("cache_params.type") && w.Contains("names no Redis"));
    }

    [Fact]
    public void Mode_default_off_ttls_per_layer_and_our_own_keys_are_read()
    {
        var c = LiteLlm("""
              cache: true
              cache_params:
                type: local
                mode: default_off
                default_in_memory_ttl: 30
                default_in_redis_ttl: 300
                partition: global
                max_entry_bytes: 65536
            """);
        Assert.False(c.DefaultOn);
        Assert.Equal(TimeSpan.FromSeconds(30), c.Ttl);
        Assert.Equal(CachePartition.Global, c.Partition);
        Assert.Equal(65536, c.MaxEntryBytes);
    }

    [Fact]
    public void The_documented_redis_semantic_example_sets_the_semantic_cache()
    {
        var c = LiteLlm("""
              cache: True
              cache_params:
                type: "redis-semantic"
                similarity_threshold: 0.8
                redis_semantic_cache_embedding_model: text-embedding-3-small
                redis_url: redis://localhost:6379
                similarity_thresholds: {gpt-4o: 0.95}
            """);
        Assert.Equal("redis-semantic", c.Type);
        Assert.Equal("text-embedding-3-small", c.Semantic!.EmbeddingModel);
        Assert.Equal(0.8, c.Semantic.Threshold);
        Assert.Equal(0.95, c.Semantic.ThresholdByModel["gpt-4o"]);
        var missing = Load(Models + "\nlitellm_settings:\n  cache: true\n  cache_params: {type: redis-semantic, redis_url: 'redis://x:6379'}\n");
        Assert.Contains(missing.Errors, e => e.Contains("redis_semantic_cache_embedding_model"));
        Assert.Contains(missing.Errors, e => e.Contains("similarity_threshold"));
    }

    [Theory]
    [InlineData("s3", "not offered")]
    [InlineData("gcs", "not offered")]
    [InlineData("azure-blob", "not offered")]
    [InlineData("disk", "disk cache is not offered")]
    [InlineData("qdrant-semantic", "Qdrant semantic cache is not offered")]
    [InlineData("memcached", "unknown cache type")]
    public void Backends_not_offered_say_what_to_use_warning_in_LiteLLM_files_and_refused_in_ours(string type, string message)
    {
        var result = Load(Models + $"\nlitellm_settings:\n  cache: true\n  cache_params: {{type: {type}, s3_bucket_name: b}}\n");
        Assert.False(result.Options!.Cache.Enabled);
        Assert.Contains(result.Warnings, w => w.Contains("litellm_settings.cache_params.type") && w.Contains(message) && w.Contains("the cache is off"));
        var own = Load($"models:\n  - {{name: gpt-4o, provider: mock}}\ncache:\n  type: {type}\n");
        Assert.Null(own.Options);
        Assert.Contains(own.Errors, e => e.Contains("cache.type") && e.Contains(message));
    }

    [Fact]
    public void Bad_values_are_errors_with_their_path()
    {
        var result = Load(Models + """

            litellm_settings:
              cache: true
              cache_params:
                mode: sometimes
                supported_call_types: [acompletion, speech_to_cheese]
                partition: everyone
            """);
        Assert.Contains(result.Errors, e => e.Contains("cache_params.mode"));
        Assert.Contains(result.Errors, e => e.Contains("cache_params.supported_call_types") && e.Contains("speech_to_cheese"));
        Assert.Contains(result.Errors, e => e.Contains("cache_params.partition"));
    }

    [Fact]
    public void Cache_params_without_cache_true_warn_and_leave_the_cache_off()
    {
        var result = Load(Models + "\nlitellm_settings:\n  cache_params: {type: local}\n");
        Assert.False(result.Options!.Cache.Enabled);
        Assert.Contains(result.Warnings, w => w.Contains("cache_params") && w.Contains("without litellm_settings.cache: true"));
    }

    [Fact]
    public void Our_cache_section_uses_the_same_names_and_rejects_unknown_keys()
    {
        const string own = """
            models:
              - {name: gpt-4o, provider: mock}
            storage: {redis_url: "redis://127.0.0.1:6399"}
            cache:
              type: redis
              ttl: 5m
              partition: key
            """;
        var result = Load(own);
        Assert.True(result.Options is not null, string.Join("; ", result.Errors));
        Assert.Equal("redis://127.0.0.1:6399", result.Options.Cache.RedisUrl);
        Assert.Equal(TimeSpan.FromMinutes(5), result.Options.Cache.Ttl);
        Assert.Equal(CachePartition.Key, result.Options.Cache.Partition);
        var typo = Load("models:\n  - {name: gpt-4o, provider: mock}\ncache:\n  tll: 5\n");
        Assert.Contains(typo.Errors, e => e.Contains("cache.tll"));
        Assert.False(Load("models:\n  - {name: gpt-4o, provider: mock}\ncache:\n  enabled: false\n").Options!.Cache.Enabled);
        Assert.False(Load("models:\n  - {name: gpt-4o, provider: mock}\n").Options!.Cache.Enabled);
    }
}
