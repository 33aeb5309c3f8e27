using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AgenticGateway.Configuration;
using AgenticGateway.Keys;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Routing;
using AgenticGateway.Runtime;
using AgenticGateway.Services.Llm;

namespace AgenticGateway.Caching;

/// <summary>What a semantic lookup found for a question, and why a near match was turned down (the guard's reason).</summary>
internal sealed record SemanticProbe(SemanticMatch? Match, double BestSimilarity, string? Refused);

/// <summary>
/// The semantic cache (<c>type: redis-semantic</c>): the question of a request (<see cref="SemanticText"/>) is embedded
/// by the configured embedding model group, through this gateway (<see cref="LlmService.CallCapturedAsync"/>: routed,
/// priced and logged under the caller, like any call), and looked up in the <see cref="VectorIndex"/> of the request's
/// partition and model group. A match at or above the threshold still has to pass the <see cref="FalseHitGuard"/>; a
/// request with tools or a temperature above the limit is never served semantically. Replicas share the index
/// through Redis (<see cref="SemanticReplication"/>).
/// </summary>
internal sealed partial class SemanticCache : ISemanticLookup, IDisposable
{
    // Candidates above the threshold tried against the guard, best first.
    private const int Candidates = 8;
    private const int MaxRememberedVectors = 4096;
    private const int MaxQuestionChars = 32_768;

    private readonly RuntimeHolder _runtimes;
    private readonly LlmService _llm;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Counter<long> _lookups;
    // Recent embeddings by (model, question): the lookup after an exact miss and the index after the store need the
    // same vector, and a repeated question need not be embedded twice.
    private readonly ConcurrentDictionary<string, float[]> _recent = new(StringComparer.Ordinal);
    private readonly Lock _replicationGate = new();
    private SemanticReplication? _replication;

    public SemanticCache(RuntimeHolder runtimes, LlmService llm, TimeProvider time, IMeterFactory meters, ILogger<SemanticCache> logger)
    {
        _runtimes = runtimes;
        _llm = llm;
        _time = time;
        _logger = logger;
        var meter = meters.Create(Telemetry.TelemetryNames.Meter);
        _lookups = meter.CreateCounter<long>("agw.cache.semantic_lookups", "{lookup}",
            "Semantic cache lookups by result: hit, miss, or refused with the guard's reason (negation, polarity, number, name, literal, tools, temperature).");
        Replicate(runtimes.Current.Options.Cache);
    }

    public VectorIndex Index { get; } = new();

    /// <summary>The Redis replication in use, if the cache is in Redis.</summary>
    public SemanticReplication? Replication => Replicate(_runtimes.Current.Options.Cache);

    public async ValueTask<SemanticMatch?> FindAsync(SemanticQuery query, CancellationToken ct) => (await ProbeAsync(query, ct)).Match;

    /// <summary>The lookup with its reasons (the cache API's /cache/lookup shows them).</summary>
    public async ValueTask<SemanticProbe> ProbeAsync(SemanticQuery query, CancellationToken ct)
    {
        var options = _runtimes.Current.Options.Cache;
        if (options.Semantic is not { } semantic) return new SemanticProbe(null, 0, null);
        Replicate(options);
        if (query.HasTools) return Refuse("tools", 0, query.ModelGroup);
        if (query.Temperature > semantic.MaxTemperature) return Refuse("temperature", 0, query.ModelGroup);
        var (context, question) = SemanticText.Split(query.PromptText);
        var vector = await EmbedAsync(semantic.EmbeddingModel, question, query.Caller, query.RequestId, ct);
        if (vector is null) return Count(new SemanticProbe(null, 0, null), "error", query.ModelGroup);
        var threshold = ThresholdOf(semantic, query.ModelGroup);
        var hits = Index.Search(query.Partition, query.ModelGroup, context, vector, threshold, Candidates, _time.GetUtcNow());
        string? refused = null;
        foreach (var hit in hits)
        {
            if (FalseHitGuard.Difference(question, hit.Prompt.Question) is { } reason)
            {
                refused ??= reason;
                continue;
            }
            return Count(new SemanticProbe(new SemanticMatch(hit.Prompt.Key, hit.Similarity), hit.Similarity, null), "hit", query.ModelGroup);
        }
        var best = hits.Count > 0 ? hits[0].Similarity : 0;
        return refused is null ? Count(new SemanticProbe(null, best, null), "miss", query.ModelGroup) : Refuse(refused, best, query.ModelGroup);
    }

    public async ValueTask IndexAsync(SemanticQuery query, string key, CancellationToken ct)
    {
        var options = _runtimes.Current.Options.Cache;
        if (options.Semantic is not { } semantic || query.HasTools) return;
        var (_, question) = SemanticText.Split(query.PromptText);
        var vector = await EmbedAsync(semantic.EmbeddingModel, question, query.Caller, query.RequestId, ct);
        if (vector is null) return;
        var now = _time.GetUtcNow();
        var prompt = new IndexedPrompt(query.Partition, query.ModelGroup, key, query.PromptText, vector, now + options.Ttl);
        Index.Add(prompt);
        if (Replicate(options) is { } replication) await replication.AddAsync(prompt, now);
    }

    /// <summary>Forgets entries (invalidation); the replicas forget them too.</summary>
    public async Task RemoveAsync(IReadOnlyCollection<string> keys)
    {
        foreach (var k in keys) Index.Remove(k);
        if (Replicate(_runtimes.Current.Options.Cache) is { } replication) await replication.RemoveAsync(keys);
    }

    public Task RemoveModelAsync(string modelGroup) => RemoveAsync(Index.RemoveModel(modelGroup));

    public async Task ClearAsync()
    {
        Index.Clear();
        _recent.Clear();
        if (Replicate(_runtimes.Current.Options.Cache) is { } replication) await replication.FlushAsync();
    }

    /// <summary>
    /// The similarity of two texts as the cache sees it (seed 003's /cache/similarity): the cosine of their embeddings,
    /// the threshold of the model group, and the guard's verdict. Null when no semantic cache is configured or the
    /// embedding failed.
    /// </summary>
    public async ValueTask<(double Similarity, double Threshold, string? Refused)?> CompareAsync(string a, string b, string? modelGroup, Caller caller, string requestId, CancellationToken ct)
    {
        if (_runtimes.Current.Options.Cache.Semantic is not { } semantic) return null;
        var va = await EmbedAsync(semantic.EmbeddingModel, a, caller, requestId, ct);
        var vb = await EmbedAsync(semantic.EmbeddingModel, b, caller, requestId, ct);
        if (va is null || vb is null || va.Length != vb.Length) return null;
        return (VectorIndex.Dot(va, vb), modelGroup is null ? semantic.Threshold : ThresholdOf(semantic, modelGroup), FalseHitGuard.Difference(a, b));
    }

    internal static double ThresholdOf(SemanticCacheOptions semantic, string modelGroup) =>
        semantic.ThresholdByModel.TryGetValue(modelGroup, out var t) ? t : semantic.Threshold;

    private SemanticProbe Refuse(string reason, double best, string model) => Count(new SemanticProbe(null, best, reason), "refused_" + reason, model);

    private SemanticProbe Count(SemanticProbe probe, string result, string model)
    {
        if (_lookups.Enabled) _lookups.Add(1, new KeyValuePair<string, object?>("result", result), new KeyValuePair<string, object?>("model_group", model));
        return probe;
    }

    /// <summary>The question's unit vector from the embedding model group, or null when it cannot be had (logged; the cache then misses).</summary>
    private async ValueTask<float[]?> EmbedAsync(string model, string question, Caller caller, string requestId, CancellationToken ct)
    {
        if (question.Length > MaxQuestionChars) question = question[..MaxQuestionChars];
        var memo = model + "\n" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(question)));
        if (_recent.TryGetValue(memo, out var known)) return known;
        var runtime = _runtimes.Current;
        if (!runtime.Catalog.TryResolve(model, out var group))
        {
            Log.EmbeddingFailed(_logger, model, "no such model group");
            return null;
        }
        var json = new System.Buffers.ArrayBufferWriter<byte>(question.Length + 64);
        using (var w = new Utf8JsonWriter(json))
        {
            w.WriteStartObject();
            w.WriteString("model", model);
            w.WriteString("input", question);
            w.WriteEndObject();
        }
        using var body = RequestBody.Of(json.WrittenSpan);
        if (RequestReader.TryParse(body.Span, LlmOperation.Embeddings, out var parsed) is { } invalid)
        {
            Log.EmbeddingFailed(_logger, model, invalid.Message);
            return null;
        }
        var request = new LlmRequest(runtime, LlmOperation.Embeddings, body, parsed, group, 0, default);
        CapturedAnswer answer;
        try
        {
            answer = await _llm.CallCapturedAsync(null, request, caller, requestId, null, ct);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or InvalidOperationException && !ct.IsCancellationRequested)
        {
            Log.EmbeddingFailed(_logger, model, ex.Message);
            return null;
        }
        if (answer.Error is { } error)
        {
            Log.EmbeddingFailed(_logger, model, error.Message);
            return null;
        }
        var vector = ReadEmbedding(answer.Body);
        if (vector is null)
        {
            Log.EmbeddingFailed(_logger, model, "the answer has no embedding");
            return null;
        }
        VectorIndex.Normalize(vector);
        if (_recent.Count >= MaxRememberedVectors) _recent.Clear();
        _recent[memo] = vector;
        return vector;
    }

    /// <summary>The first <c>data[].embedding</c> of an OpenAI embeddings answer (floats, or base64 little-endian floats).</summary>
    internal static float[]? ReadEmbedding(byte[] body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (!doc.RootElement.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array || data.GetArrayLength() == 0) return null;
            if (!data[0].TryGetProperty("embedding", out var embedding)) return null;
            if (embedding.ValueKind == JsonValueKind.String)
            {
                var raw = Convert.FromBase64String(embedding.GetString()!);
                var floats = new float[raw.Length / 4];
                for (var i = 0; i < floats.Length; i++) floats[i] = System.Buffers.Binary.BinaryPrimitives.ReadSingleLittleEndian(raw.AsSpan(i * 4));
                return floats.Length > 0 ? floats : null;
            }
            if (embedding.ValueKind != JsonValueKind.Array || embedding.GetArrayLength() == 0) return null;
            var vector = new float[embedding.GetArrayLength()];
            var k = 0;
            foreach (var v in embedding.EnumerateArray()) vector[k++] = v.GetSingle();
            return vector;
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>The replication for the cache's Redis (made once per URL: a reload that changes it reconnects); null for a local cache.</summary>
    private SemanticReplication? Replicate(CacheOptions options)
    {
        var url = options.Enabled && options.Type != "local" ? options.RedisUrl : null;
        var current = Volatile.Read(ref _replication);
        if (current?.Url == url) return current;
        lock (_replicationGate)
        {
            if (_replication?.Url == url) return _replication;
            _replication?.Dispose();
            _replication = url is null ? null : new SemanticReplication(url, options.Namespace, Index, _logger);
            return _replication;
        }
    }

    public void Dispose()
    {
        lock (_replicationGate) _replication?.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2200, Level = LogLevel.Warning, Message = "Semantic cache: embedding with {Model} failed ({Reason}); the request is served without the semantic cache")]
        public static partial void EmbeddingFailed(ILogger logger, string model, string reason);
    }
}
