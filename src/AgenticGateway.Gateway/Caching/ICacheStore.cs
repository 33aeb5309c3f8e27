namespace AgenticGateway.Caching;

/// <summary>
/// One cached answer: the bytes the client got (a JSON body, or a whole SSE stream as sent), what it was for, and what
/// it cost when it was made (each hit saves that). Never stored for an error, a cut stream or a blocked answer.
/// </summary>
internal sealed record CacheEntry
{
    public required string Key { get; init; }
    /// <summary>The tenant the entry belongs to ("team:..", "key:..", or "global"): lookups never cross it.</summary>
    public required string Partition { get; init; }
    public required string ModelGroup { get; init; }
    /// <summary>The key's user, for invalidation by user (seed 003's /cache/invalidate-user).</summary>
    public string? UserId { get; init; }
    /// <summary>LiteLLM's call type (acompletion, aembedding, ...).</summary>
    public required string CallType { get; init; }
    public bool Stream { get; init; }
    public required string ContentType { get; init; }
    public required byte[] Body { get; init; }
    public long PromptTokens { get; init; }
    public long CompletionTokens { get; init; }
    public long CostNanos { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset ExpiresAt { get; init; }
    /// <summary>The prompt text the semantic index embedded (kept to check a semantic match for false hits); null for exact-only entries.</summary>
    public string? PromptText { get; init; }
}

/// <summary>Where entries live, chosen by the cache's <c>type</c>: this process (<c>local</c>) or Redis shared by replicas.</summary>
internal interface ICacheStore
{
    ValueTask<CacheEntry?> GetAsync(string key, CancellationToken ct);
    /// <summary>Stores until <see cref="CacheEntry.ExpiresAt"/>.</summary>
    ValueTask SetAsync(CacheEntry entry, CancellationToken ct);
    ValueTask<bool> DeleteAsync(string key, CancellationToken ct);
    /// <summary>Removes every entry of a model group; returns how many.</summary>
    ValueTask<long> InvalidateModelAsync(string modelGroup, CancellationToken ct);
    /// <summary>Removes every entry made for a user; returns how many.</summary>
    ValueTask<long> InvalidateUserAsync(string userId, CancellationToken ct);
    ValueTask FlushAllAsync(CancellationToken ct);
    /// <summary>Whether the backend answers (LiteLLM's /cache/ping).</summary>
    ValueTask<bool> PingAsync(CancellationToken ct);
}

/// <summary>
/// The semantic side of the cache (type <c>redis-semantic</c>): finds an earlier request of the same partition and
/// model group whose prompt means the same, and indexes new ones. Absent (null in DI) when the cache is exact-only.
/// </summary>
internal interface ISemanticLookup
{
    /// <summary>The key of an entry whose prompt matches, or null. Refuses (null) for tool calls, high temperature, or when the guard finds a difference that matters (negation, numbers, names).</summary>
    ValueTask<SemanticMatch?> FindAsync(SemanticQuery query, CancellationToken ct);
    /// <summary>Adds a stored entry's prompt to the index (shared with replicas).</summary>
    ValueTask IndexAsync(SemanticQuery query, string key, CancellationToken ct);
}

/// <summary>A request as the semantic index sees it: its tenant, model group, prompt text and what rules it out.</summary>
internal sealed record SemanticQuery(Keys.Caller Caller, string RequestId, string Partition, string ModelGroup, string PromptText,
    double? Temperature, bool HasTools);

internal sealed record SemanticMatch(string Key, double Similarity);

/// <summary>Hits, misses and savings, per model group; shared by replicas through Redis when the cache is there.</summary>
internal interface ICacheStatistics
{
    void Hit(string modelGroup, bool semantic, long promptTokens, long completionTokens, long costNanos);
    void Miss(string modelGroup);
    ValueTask<CacheStatsSnapshot> SnapshotAsync(CancellationToken ct);
}

internal sealed record CacheStatsSnapshot(long Hits, long SemanticHits, long Misses, long PromptTokensSaved, long CompletionTokensSaved,
    long CostNanosSaved, IReadOnlyDictionary<string, CacheStatsSnapshot>? ByModel = null);
