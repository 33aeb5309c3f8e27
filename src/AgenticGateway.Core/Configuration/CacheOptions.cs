using System.Collections.Immutable;

namespace AgenticGateway.Configuration;

/// <summary>
/// The response cache (LiteLLM's <c>litellm_settings.cache</c> and <c>cache_params</c>; ours: <c>cache:</c>). Off
/// unless configured. Entries are partitioned per tenant by default, so one tenant's answers never reach another.
/// </summary>
internal sealed record CacheOptions
{
    public static readonly CacheOptions Off = new();

    public bool Enabled { get; init; }
    /// <summary><c>local</c> (this process), <c>redis</c>, or <c>redis-semantic</c> (exact entries in Redis plus the semantic index).</summary>
    public string Type { get; init; } = "local";
    /// <summary>LiteLLM's cache mode: <c>default_on</c>, or <c>default_off</c> (only requests that ask, with <c>cache: {"use-cache": true}</c>).</summary>
    public bool DefaultOn { get; init; } = true;
    /// <summary>How long an entry lives unless a request says otherwise (<c>ttl</c>, seconds). LiteLLM's default: 10 minutes for local, none for Redis; ours: 10 minutes for both unless set.</summary>
    public TimeSpan Ttl { get; init; } = TimeSpan.FromMinutes(10);
    /// <summary>Prefix of every key (<c>namespace</c>), so several gateways can share a Redis.</summary>
    public string? Namespace { get; init; }
    /// <summary>The call types cached (LiteLLM's names: acompletion, completion, atext_completion, text_completion, aembedding, embedding, ...).</summary>
    public ImmutableArray<string> SupportedCallTypes { get; init; } = ["acompletion", "atext_completion", "aembedding", "atranscription"];
    /// <summary>Whose answers a request may be served: the key's team (else the key), the key, or everyone (<c>global</c>, only when configured).</summary>
    public CachePartition Partition { get; init; } = CachePartition.Team;
    /// <summary>Largest answer stored, in bytes; a larger one is served but not cached.</summary>
    public int MaxEntryBytes { get; init; } = 1024 * 1024;
    /// <summary>Entries the local cache keeps at most (least recently used first out).</summary>
    public int MaxLocalEntries { get; init; } = 10_000;
    /// <summary>Redis for <c>redis</c> and <c>redis-semantic</c>: <c>cache_params</c>' host/port/password/url, else <c>storage.redis_url</c>.</summary>
    public string? RedisUrl { get; init; }
    /// <summary>The semantic cache; null unless <c>type</c> is semantic.</summary>
    public SemanticCacheOptions? Semantic { get; init; }
}

/// <summary>Who shares cached answers.</summary>
internal enum CachePartition { Team, Key, Global }

/// <summary>
/// The semantic cache (LiteLLM's <c>similarity_threshold</c> and <c>redis_semantic_cache_embedding_model</c>): a
/// request whose prompt means what an earlier one in its partition and model group meant gets that answer.
/// </summary>
internal sealed record SemanticCacheOptions
{
    /// <summary>The model group (a deployment of this gateway) that embeds prompts; its calls are metered like any other.</summary>
    public required string EmbeddingModel { get; init; }
    /// <summary>Cosine similarity at or above which prompts count as the same (LiteLLM: similarity_threshold).</summary>
    public double Threshold { get; init; } = 0.92;
    /// <summary>Thresholds per model group, overriding <see cref="Threshold"/>.</summary>
    public ImmutableDictionary<string, double> ThresholdByModel { get; init; } = ImmutableDictionary<string, double>.Empty;
    /// <summary>Requests with a temperature above this are not served semantically (their answers vary anyway) unless allowed.</summary>
    public double MaxTemperature { get; init; } = 1.0;
}
