using System.Text;
using System.Text.Json;
using AgenticGateway.Configuration;
using AgenticGateway.Keys;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Routing;
using AgenticGateway.Runtime;
using AgenticGateway.Services.Admin;

namespace AgenticGateway.Caching.Api;

/// <summary>
/// The cache's API: seed 003's (<c>/cache/lookup</c>, <c>/cache/store</c>, <c>/cache/invalidate/{key}</c>,
/// <c>/cache/invalidate-model/{model}</c>, <c>/cache/invalidate-user/{user_id}</c>, <c>/cache/stats</c>,
/// <c>/cache/warmup</c>, <c>/cache/similarity</c>) and LiteLLM's (<c>/cache/ping</c>, <c>/cache/delete</c>,
/// <c>/cache/flushall</c>). Unlike LiteLLM, where any key may delete or flush anything, every call is scoped: the
/// master key (an admin) acts on every tenant; a virtual key looks up and compares only in its own partition (its
/// team's, else its own) and stores, warms up, deletes or invalidates only when that partition is its alone (partition
/// <c>key</c>, or a key without a team), and what touches every tenant (flush, invalidation by model, statistics)
/// is the admin's.
/// </summary>
internal static class CacheApi
{
    private const int MaxWarmupEntries = 1000;
    private const int MaxSimilarityChars = 32_768;

    public static void Map(IEndpointRouteBuilder routes)
    {
        var runtimes = routes.ServiceProvider.GetRequiredService<RuntimeHolder>();
        var services = routes.ServiceProvider;
        // Any authenticated caller; each handler scopes what it touches to the caller's partition.
        var account = routes.MapGroup("/cache").Gateway(GatewayRoute.Account);
        var admin = routes.MapGroup("/cache").Gateway(GatewayRoute.Admin);
        RequestDelegate Call(Func<Context, KeyRequest, CancellationToken, Task<KeyResult>> action) => c => HandleAsync(c, runtimes, services, action);

        account.MapPost("/lookup", Call(LookupAsync));
        account.MapPost("/store", Call(StoreAsync));
        account.MapPost("/warmup", Call(WarmupAsync));
        account.MapPost("/similarity", Call(SimilarityAsync));
        account.MapDelete("/invalidate/{key}", Call(InvalidateAsync));
        account.MapDelete("/invalidate-user/{key}", Call(InvalidateUserAsync));
        account.MapPost("/delete", Call(DeleteAsync));
        account.MapGet("/ping", Call(PingAsync));
        admin.MapDelete("/invalidate-model/{key}", Call(InvalidateModelAsync));
        admin.MapGet("/stats", Call(StatsAsync));
        admin.MapPost("/flushall", Call(FlushAllAsync));
    }

    private static Task HandleAsync(HttpContext c, RuntimeHolder runtimes, IServiceProvider services, Func<Context, KeyRequest, CancellationToken, Task<KeyResult>> action)
    {
        var runtime = runtimes.Current;
        // Without client auth every caller is the admin: the API is refused then, as key management is.
        if (!ClientAuth.IsOn(runtime))
            return PipelineErrors.WriteAsync(c, new ApiError(403, "The cache API needs client authentication (master_key or JWT).", "permission_error", "no_master_key"));
        var options = runtime.Options.Cache;
        if (!options.Enabled || services.GetService<CacheStores>()?.For(options) is not { } store)
            return PipelineErrors.WriteAsync(c, new ApiError(503, "Cache not initialized: configure litellm_settings.cache (or cache:) to use the cache API.", "service_unavailable", "cache_not_configured"));
        var context = new Context(runtime, options, store, services.GetService<ICacheStatistics>(), services.GetService<SemanticCache>(), services.GetService<TimeProvider>() ?? TimeProvider.System, c.RequestId());
        return KeyEndpoints.AdminAsync(c, (r, ct) => action(context, r, ct));
    }

    /// <summary>What every handler needs, taken once per call from the running configuration.</summary>
    private sealed record Context(GatewayRuntime Runtime, CacheOptions Options, ICacheStore Store, ICacheStatistics? Statistics, SemanticCache? Semantic, TimeProvider Time, string RequestId);

    /// <summary>A request the API was given to key: its operation, call type, model group, partition and key.</summary>
    private sealed record Keyed(LlmOperation Operation, string CallType, ModelGroup Group, string Partition, string Key, byte[] Body, bool Stream);

    private static Caller CallerOf(KeyRequest r) => r.Caller ?? Caller.Admin;

    /// <summary>
    /// The partition a call acts in: the caller's own; the admin may name another (<c>partition</c>: "team:..",
    /// "key:..", "global") to act in a tenant's.
    /// </summary>
    private static (string? Partition, ApiError? Error) PartitionFor(Context c, KeyRequest r, JsonElement? named)
    {
        var caller = CallerOf(r);
        var own = CacheKeys.PartitionOf(caller, c.Options.Partition);
        if (named is not { } n || n.ValueKind == JsonValueKind.Null) return (own, null);
        if (n.ValueKind != JsonValueKind.String || n.GetString() is not { Length: > 0 } p)
            return (null, ApiError.BadRequest("'partition' must be a string such as \"team:<team_id>\", \"key:<token>\" or \"global\".", "partition"));
        if (p != own && !caller.IsAdmin)
            return (null, new ApiError(403, "A virtual key acts only in its own cache partition.", "permission_error", "partition_not_allowed", "partition"));
        return (p, null);
    }

    /// <summary>Keys an LLM request body as the cache middleware does (no output guardrails: the API's calls have none).</summary>
    private static (Keyed? Keyed, ApiError? Error) Key(Context c, KeyRequest r, JsonElement? request, string param, JsonElement? partition)
    {
        if (request is not { ValueKind: JsonValueKind.Object } body)
            return (null, ApiError.BadRequest($"'{param}' must be the LLM request as a JSON object (model, messages, ...).", param));
        var bytes = Encoding.UTF8.GetBytes(body.GetRawText());
        var operation = body.TryGetProperty("messages", out _) ? LlmOperation.ChatCompletions
            : body.TryGetProperty("prompt", out _) ? LlmOperation.Completions
            : body.TryGetProperty("input", out _) ? LlmOperation.Embeddings
            : (LlmOperation?)null;
        if (operation is null) return (null, ApiError.BadRequest($"'{param}' has neither messages, prompt nor input: it is not a request the cache keys.", param));
        if (RequestReader.TryParse(bytes, operation.Value, out var parsed) is { } invalid) return (null, invalid with { Param = param + "." + (invalid.Param ?? "") });
        var caller = CallerOf(r);
        if (!c.Runtime.Catalog.TryResolve(parsed.Model, out var group) || !caller.MayUse(parsed.Model, group.Name, group.AccessGroups))
            return (null, new ApiError(404, $"The model '{parsed.Model}' does not exist on this gateway (or this key may not use it).", "invalid_request_error", "model_not_found", param + ".model"));
        var (p, error) = PartitionFor(c, r, partition);
        if (error is not null) return (null, error);
        var callType = CacheKeys.CallType(operation.Value)!;
        string key;
        try { key = CacheKeys.For(c.Options.Namespace, p!, operation.Value, callType, group.Name, bytes, parsed.Stream, []); }
        catch (JsonException) { return (null, ApiError.BadRequest($"'{param}' has a string that is not valid text (a lone UTF-16 surrogate escape).", param)); }
        return (new Keyed(operation.Value, callType, group, p!, key, bytes, parsed.Stream), null);
    }

    /// <summary><c>POST /cache/lookup</c> <c>{"request": {...}, "semantic": true, "partition": ..}</c>: the entry the request would be served, exact first, then semantic.</summary>
    private static async Task<KeyResult> LookupAsync(Context c, KeyRequest r, CancellationToken ct)
    {
        var (keyed, error) = Key(c, r, r.Element("request"), "request", r.Element("partition"));
        if (keyed is null) return KeyResult.Fail(error!);
        var entry = await c.Store.GetAsync(keyed.Key, ct);
        SemanticProbe? probe = null;
        var semanticWanted = r.Element("semantic") is not { ValueKind: JsonValueKind.False };
        if (entry is null && semanticWanted && c.Semantic is not null && c.Options.Semantic is not null
            && SemanticText.Of(keyed.Operation, keyed.Body) is { } text)
        {
            var query = new SemanticQuery(CallerOf(r), c.RequestId, keyed.Partition, keyed.Group.Name, text.PromptText, text.Temperature, text.HasTools);
            probe = await c.Semantic.ProbeAsync(query, ct);
            if (probe.Match is { } match && await c.Store.GetAsync(match.Key, ct) is { } found && found.Partition == keyed.Partition) entry = found;
        }
        return KeyResult.Ok(w =>
        {
            w.WriteStartObject();
            w.WriteBoolean("hit", entry is not null);
            w.WriteString("key", keyed.Key);
            w.WriteString("partition", keyed.Partition);
            w.WriteString("model", keyed.Group.Name);
            if (probe is not null)
            {
                w.WriteStartObject("semantic");
                w.WriteBoolean("hit", probe.Match is not null && entry is not null);
                if (probe.Match is { } m) w.WriteString("key", m.Key);
                w.WriteNumber("best_similarity", Math.Round(probe.BestSimilarity, 6));
                if (probe.Refused is { } why) w.WriteString("refused", why);
                w.WriteEndObject();
            }
            if (entry is not null) WriteEntry(w, "entry", entry, withBody: true);
            w.WriteEndObject();
        });
    }

    /// <summary><c>POST /cache/store</c> <c>{"request": {...}, "response": {...}, "ttl": seconds}</c>: stores an answer for a request, in the caller's partition.</summary>
    private static async Task<KeyResult> StoreAsync(Context c, KeyRequest r, CancellationToken ct)
    {
        if (MayChange(c, r) is { } refused) return KeyResult.Fail(refused);
        var (entry, error) = await StoreOneAsync(c, r, r.Element("request"), r.Element("response"), r.Element("ttl"), "", ct);
        if (entry is null) return KeyResult.Fail(error!);
        return KeyResult.Ok(w =>
        {
            w.WriteStartObject();
            w.WriteString("status", "success");
            WriteEntry(w, "entry", entry, withBody: false);
            w.WriteEndObject();
        });
    }

    /// <summary><c>POST /cache/warmup</c> <c>{"entries": [{"request", "response", "ttl"}, ...]}</c>: stores many (at most 1000), all or none checked first.</summary>
    private static async Task<KeyResult> WarmupAsync(Context c, KeyRequest r, CancellationToken ct)
    {
        if (MayChange(c, r) is { } refused) return KeyResult.Fail(refused);
        if (r.Element("entries") is not { ValueKind: JsonValueKind.Array } entries || entries.GetArrayLength() == 0)
            return KeyResult.Fail(ApiError.BadRequest("'entries' must be a non-empty array of {\"request\": {...}, \"response\": {...}}.", "entries"));
        if (entries.GetArrayLength() > MaxWarmupEntries)
            return KeyResult.Fail(ApiError.BadRequest($"'entries' has {entries.GetArrayLength()} items; at most {MaxWarmupEntries} per call.", "entries"));
        // Every entry is checked before any is stored, so a bad one leaves nothing half-done.
        var i = 0;
        foreach (var e in entries.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.Object) return KeyResult.Fail(ApiError.BadRequest($"entries[{i}] must be an object.", $"entries[{i}]"));
            var (keyed, error) = Key(c, r, Member(e, "request"), $"entries[{i}].request", r.Element("partition"));
            if (keyed is null) return KeyResult.Fail(error!);
            if (CheckResponse(c, Member(e, "response"), $"entries[{i}].response") is { } bad) return KeyResult.Fail(bad);
            i++;
        }
        var stored = new List<CacheEntry>();
        i = 0;
        foreach (var e in entries.EnumerateArray())
        {
            var (entry, error) = await StoreOneAsync(c, r, Member(e, "request"), Member(e, "response"), Member(e, "ttl"), $"entries[{i++}].", ct);
            if (entry is null) return KeyResult.Fail(error!);
            stored.Add(entry);
        }
        return KeyResult.Ok(w =>
        {
            w.WriteStartObject();
            w.WriteString("status", "success");
            w.WriteNumber("stored", stored.Count);
            w.WriteStartArray("keys");
            foreach (var e in stored) w.WriteStringValue(e.Key);
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    private static JsonElement? Member(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    private static ApiError? CheckResponse(Context c, JsonElement? response, string param)
    {
        if (response is not { ValueKind: JsonValueKind.Object } body)
            return ApiError.BadRequest($"'{param}' must be the answer as a JSON object (a chat completion, completion or embeddings list).", param);
        if (Encoding.UTF8.GetByteCount(body.GetRawText()) > c.Options.MaxEntryBytes)
            return ApiError.BadRequest($"'{param}' is larger than the cache's max_entry_bytes ({c.Options.MaxEntryBytes}).", param);
        if (body.TryGetProperty("error", out _)) return ApiError.BadRequest($"'{param}' is an error; only successful answers are cached.", param);
        return null;
    }

    private static async Task<(CacheEntry? Entry, ApiError? Error)> StoreOneAsync(Context c, KeyRequest r, JsonElement? request, JsonElement? response, JsonElement? ttl, string prefix, CancellationToken ct)
    {
        var (keyed, error) = Key(c, r, request, prefix + "request", r.Element("partition"));
        if (keyed is null) return (null, error);
        if (keyed.Stream) return (null, ApiError.BadRequest($"'{prefix}request' asks for a stream; the API stores JSON answers (streams are cached as the gateway relays them).", prefix + "request.stream"));
        if (CheckResponse(c, response, prefix + "response") is { } bad) return (null, bad);
        var lifetime = c.Options.Ttl;
        if (ttl is { } t)
        {
            if (t.ValueKind != JsonValueKind.Number || !t.TryGetDouble(out var seconds) || seconds is <= 0 or > 365 * 86400)
                return (null, ApiError.BadRequest($"'{prefix}ttl' must be a number of seconds between 1 and 31536000.", prefix + "ttl"));
            lifetime = TimeSpan.FromSeconds(seconds);
        }
        var answer = response!.Value;
        long prompt = 0, completion = 0;
        if (answer.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
        {
            if (usage.TryGetProperty("prompt_tokens", out var p) && p.TryGetInt64(out var pv)) prompt = pv;
            if (usage.TryGetProperty("completion_tokens", out var q) && q.TryGetInt64(out var qv)) completion = qv;
        }
        var now = c.Time.GetUtcNow();
        var text = SemanticText.Of(keyed.Operation, keyed.Body);
        var caller = CallerOf(r);
        var entry = new CacheEntry
        {
            Key = keyed.Key,
            Partition = keyed.Partition,
            ModelGroup = keyed.Group.Name,
            UserId = caller.Key?.UserId,
            CallType = keyed.CallType,
            Stream = false,
            ContentType = "application/json",
            Body = Encoding.UTF8.GetBytes(answer.GetRawText()),
            PromptTokens = prompt,
            CompletionTokens = completion,
            CreatedAt = now,
            ExpiresAt = now + lifetime,
            PromptText = text?.PromptText,
        };
        await c.Store.SetAsync(entry, ct);
        if (c.Semantic is not null && c.Options.Semantic is not null && text is { HasTools: false } semantic)
            await c.Semantic.IndexAsync(new SemanticQuery(caller, c.RequestId, keyed.Partition, keyed.Group.Name, semantic.PromptText, semantic.Temperature, false), keyed.Key, ct);
        return (entry, null);
    }

    /// <summary><c>POST /cache/similarity</c> <c>{"a": "...", "b": "...", "model": ".."}</c>: how the semantic cache sees two questions.</summary>
    private static async Task<KeyResult> SimilarityAsync(Context c, KeyRequest r, CancellationToken ct)
    {
        if (c.Semantic is null || c.Options.Semantic is not { } semantic)
            return KeyResult.Fail(ApiError.BadRequest("The semantic cache is not configured (cache type redis-semantic with an embedding model).", null, "semantic_cache_not_configured"));
        string? Text(string name) => r.Element(name) is { ValueKind: JsonValueKind.String } e ? e.GetString() : null;
        var a = Text("a");
        var b = Text("b");
        if (string.IsNullOrWhiteSpace(a)) return KeyResult.Fail(ApiError.BadRequest("'a' must be a non-empty string.", "a"));
        if (string.IsNullOrWhiteSpace(b)) return KeyResult.Fail(ApiError.BadRequest("'b' must be a non-empty string.", "b"));
        if (a.Length > MaxSimilarityChars || b.Length > MaxSimilarityChars)
            return KeyResult.Fail(ApiError.BadRequest($"Texts are at most {MaxSimilarityChars} characters.", a.Length > MaxSimilarityChars ? "a" : "b"));
        var model = r.Element("model") is { ValueKind: JsonValueKind.String } m ? m.GetString() : null;
        if (model is not null && !c.Runtime.Catalog.TryResolve(model, out _))
            return KeyResult.Fail(new ApiError(404, $"The model '{model}' does not exist on this gateway.", "invalid_request_error", "model_not_found", "model"));
        var compared = await c.Semantic.CompareAsync(a, b, model, CallerOf(r), c.RequestId, ct);
        if (compared is not { } result)
            return KeyResult.Fail(new ApiError(502, $"The embedding model '{semantic.EmbeddingModel}' did not answer with an embedding.", "api_error", "embedding_failed"));
        return KeyResult.Ok(w =>
        {
            w.WriteStartObject();
            w.WriteNumber("similarity", Math.Round(result.Similarity, 6));
            w.WriteNumber("threshold", result.Threshold);
            w.WriteBoolean("above_threshold", result.Similarity >= result.Threshold);
            if (result.Refused is { } why) w.WriteString("guard", why);
            else w.WriteNull("guard");
            w.WriteBoolean("would_match", result.Similarity >= result.Threshold && result.Refused is null);
            w.WriteString("embedding_model", semantic.EmbeddingModel);
            w.WriteEndObject();
        });
    }

    /// <summary>
    /// Whether the caller may write to or delete from its partition. A team's or the global partition is served to
    /// others: a virtual key storing there would answer its teammates (or everyone) with what it made up, and deleting
    /// there would remove what others stored. Only a partition that is the key's alone (<c>partition: key</c>, or a key
    /// with no team) is its to change; the master key may change any.
    /// </summary>
    private static ApiError? MayChange(Context c, KeyRequest r)
    {
        var caller = CallerOf(r);
        if (caller.IsAdmin || CacheKeys.PartitionOf(caller, c.Options.Partition).StartsWith("key:", StringComparison.Ordinal)) return null;
        var shared = c.Options.Partition == CachePartition.Global ? "the global partition, whose entries every caller is served" : "its team's partition, whose entries every key of the team is served";
        return new ApiError(403, $"A virtual key may not store, warm up, delete or invalidate cache entries in {shared}; use the master key, or set the cache's partition to 'key'.",
            "permission_error", "cache_partition_shared");
    }

    /// <summary>Whether the caller may touch an entry: the admin any, a virtual key its partition's.</summary>
    private static bool Owns(Context c, KeyRequest r, CacheEntry entry)
    {
        var caller = CallerOf(r);
        return caller.IsAdmin || entry.Partition == CacheKeys.PartitionOf(caller, c.Options.Partition);
    }

    /// <summary><c>DELETE /cache/invalidate/{key}</c>: one entry (the <c>x-litellm-cache-key</c> of an answer).</summary>
    private static async Task<KeyResult> InvalidateAsync(Context c, KeyRequest r, CancellationToken ct)
    {
        if (MayChange(c, r) is { } refused) return KeyResult.Fail(refused);
        var key = r.RouteKey ?? "";
        // Another tenant's entry is "not found" too: a key never learns what others cached.
        if (await c.Store.GetAsync(key, ct) is not { } entry || !Owns(c, r, entry))
            return KeyResult.Fail(new ApiError(404, $"No cache entry '{key}'.", "invalid_request_error", "cache_key_not_found", "key"));
        await c.Store.DeleteAsync(key, ct);
        if (c.Semantic is not null) await c.Semantic.RemoveAsync([key]);
        return Deleted(1);
    }

    /// <summary>LiteLLM's <c>POST /cache/delete</c> <c>{"keys": [...]}</c>; a virtual key's call skips keys of other partitions.</summary>
    private static async Task<KeyResult> DeleteAsync(Context c, KeyRequest r, CancellationToken ct)
    {
        if (MayChange(c, r) is { } refused) return KeyResult.Fail(refused);
        if (r.Element("keys") is not { ValueKind: JsonValueKind.Array } list || list.EnumerateArray().Any(k => k.ValueKind != JsonValueKind.String))
            return KeyResult.Fail(ApiError.BadRequest("'keys' must be an array of cache keys (the x-litellm-cache-key header of answers).", "keys"));
        if (list.GetArrayLength() > 10_000) return KeyResult.Fail(ApiError.BadRequest("At most 10000 keys per call.", "keys"));
        var removed = new List<string>();
        foreach (var k in list.EnumerateArray().Select(k => k.GetString()!).Distinct(StringComparer.Ordinal))
        {
            if (!CallerOf(r).IsAdmin && (await c.Store.GetAsync(k, ct) is not { } entry || !Owns(c, r, entry))) continue;
            if (await c.Store.DeleteAsync(k, ct)) removed.Add(k);
        }
        if (c.Semantic is not null && removed.Count > 0) await c.Semantic.RemoveAsync(removed);
        return KeyResult.Ok(w =>
        {
            w.WriteStartObject();
            w.WriteString("status", "success");
            w.WriteNumber("deleted", removed.Count);
            w.WriteEndObject();
        });
    }

    /// <summary><c>DELETE /cache/invalidate-model/{model}</c> (admin): every tenant's entries of a model group.</summary>
    private static async Task<KeyResult> InvalidateModelAsync(Context c, KeyRequest r, CancellationToken ct)
    {
        var model = r.RouteKey ?? "";
        var group = c.Runtime.Catalog.TryResolve(model, out var g) ? g.Name : model;
        var n = await c.Store.InvalidateModelAsync(group, ct);
        if (c.Semantic is not null) await c.Semantic.RemoveModelAsync(group);
        return Deleted(n);
    }

    /// <summary><c>DELETE /cache/invalidate-user/{user_id}</c>: the admin any user's entries, a virtual key its own user's.</summary>
    private static async Task<KeyResult> InvalidateUserAsync(Context c, KeyRequest r, CancellationToken ct)
    {
        var user = r.RouteKey ?? "";
        var caller = CallerOf(r);
        if (!caller.IsAdmin && caller.Key?.UserId != user)
            return KeyResult.Fail(new ApiError(403, "A virtual key may invalidate only its own user's cache entries.", "permission_error", "user_not_allowed", "user_id"));
        return Deleted(await c.Store.InvalidateUserAsync(user, ct));
    }

    private static KeyResult Deleted(long n) => KeyResult.Ok(w =>
    {
        w.WriteStartObject();
        w.WriteString("status", "success");
        w.WriteNumber("deleted", n);
        w.WriteEndObject();
    });

    /// <summary>LiteLLM's <c>POST /cache/flushall</c> (admin): every entry and the semantic index, on every replica.</summary>
    private static async Task<KeyResult> FlushAllAsync(Context c, KeyRequest r, CancellationToken ct)
    {
        await c.Store.FlushAllAsync(ct);
        if (c.Semantic is not null) await c.Semantic.ClearAsync();
        return KeyResult.Ok(w =>
        {
            w.WriteStartObject();
            w.WriteString("status", "success");
            w.WriteEndObject();
        });
    }

    /// <summary>
    /// LiteLLM's <c>GET /cache/ping</c>: healthy with the cache's type and parameters (never the Redis password), or
    /// 503 when the backend does not answer.
    /// </summary>
    private static async Task<KeyResult> PingAsync(Context c, KeyRequest r, CancellationToken ct)
    {
        var up = await c.Store.PingAsync(ct);
        var type = c.Options.Type;
        if (!up) return KeyResult.Fail(new ApiError(503, $"Service Unhealthy (the {type} cache backend does not answer).", "service_unavailable", "cache_unhealthy"));
        var redis = type != "local";
        return KeyResult.Ok(w =>
        {
            w.WriteStartObject();
            w.WriteString("status", "healthy");
            w.WriteString("cache_type", type);
            if (redis)
            {
                w.WriteBoolean("ping_response", true);
                w.WriteString("set_cache_response", "success");
            }
            w.WriteStartObject("litellm_cache_params");
            w.WriteString("type", type);
            w.WriteString("namespace", c.Options.Namespace);
            w.WriteString("ttl", ((long)c.Options.Ttl.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture));
            w.WriteString("mode", c.Options.DefaultOn ? "default_on" : "default_off");
            w.WriteString("supported_call_types", "[" + string.Join(", ", c.Options.SupportedCallTypes.Select(t => "'" + t + "'")) + "]");
            w.WriteString("partition", c.Options.Partition.ToString().ToLowerInvariant());
            if (c.Options.Semantic is { } s)
            {
                w.WriteString("similarity_threshold", s.Threshold.ToString(System.Globalization.CultureInfo.InvariantCulture));
                w.WriteString("redis_semantic_cache_embedding_model", s.EmbeddingModel);
            }
            w.WriteEndObject();
            if (redis && c.Options.RedisUrl is { } url)
            {
                w.WriteStartObject("redis_cache_params");
                w.WriteString("endpoint", Limits.RedisConnection.Parse(url).EndPoints.FirstOrDefault()?.ToString());
                w.WriteEndObject();
            }
            w.WriteEndObject();
        });
    }

    /// <summary>Seed 003's <c>GET /cache/stats</c> (admin): hits, misses, hit rate, tokens and dollars saved, in total and per model group.</summary>
    private static async Task<KeyResult> StatsAsync(Context c, KeyRequest r, CancellationToken ct)
    {
        var snapshot = c.Statistics is null ? new CacheStatsSnapshot(0, 0, 0, 0, 0, 0) : await c.Statistics.SnapshotAsync(ct);
        var indexed = c.Semantic?.Index.Count ?? 0;
        return KeyResult.Ok(w =>
        {
            w.WriteStartObject();
            w.WriteString("cache_type", c.Options.Type);
            WriteStats(w, snapshot);
            if (c.Options.Semantic is not null) w.WriteNumber("semantic_index_size", indexed);
            w.WriteStartObject("by_model");
            foreach (var (model, s) in (snapshot.ByModel ?? new Dictionary<string, CacheStatsSnapshot>()).OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                w.WriteStartObject(model);
                WriteStats(w, s);
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.WriteEndObject();
        });
    }

    private static void WriteStats(Utf8JsonWriter w, CacheStatsSnapshot s)
    {
        w.WriteNumber("hits", s.Hits);
        w.WriteNumber("semantic_hits", s.SemanticHits);
        w.WriteNumber("misses", s.Misses);
        var lookups = s.Hits + s.Misses;
        w.WriteNumber("hit_rate", lookups == 0 ? 0 : Math.Round((double)s.Hits / lookups, 6));
        w.WriteNumber("prompt_tokens_saved", s.PromptTokensSaved);
        w.WriteNumber("completion_tokens_saved", s.CompletionTokensSaved);
        w.WriteNumber("tokens_saved", s.PromptTokensSaved + s.CompletionTokensSaved);
        w.WriteNumber("cost_saved_usd", Math.Round(s.CostNanosSaved / 1e9, 9));
    }

    private static void WriteEntry(Utf8JsonWriter w, string name, CacheEntry e, bool withBody)
    {
        w.WriteStartObject(name);
        w.WriteString("key", e.Key);
        w.WriteString("model", e.ModelGroup);
        w.WriteString("call_type", e.CallType);
        w.WriteBoolean("stream", e.Stream);
        w.WriteString("created_at", e.CreatedAt);
        w.WriteString("expires_at", e.ExpiresAt);
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", e.PromptTokens);
        w.WriteNumber("completion_tokens", e.CompletionTokens);
        w.WriteEndObject();
        if (withBody)
        {
            // A JSON answer as itself; a stream as the text of its events.
            if (!e.Stream && e.ContentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
            {
                w.WritePropertyName("response");
                try
                {
                    using var doc = JsonDocument.Parse(e.Body);
                    doc.RootElement.WriteTo(w);
                }
                catch (JsonException)
                {
                    w.WriteStringValue(Encoding.UTF8.GetString(e.Body));
                }
            }
            else w.WriteString("response", Encoding.UTF8.GetString(e.Body));
        }
        w.WriteEndObject();
    }
}
