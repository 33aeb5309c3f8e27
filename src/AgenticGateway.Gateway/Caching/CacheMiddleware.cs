using System.Buffers;
using System.Text.Json;
using AgenticGateway.Configuration;
using AgenticGateway.Keys;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Services.Llm;
using Microsoft.AspNetCore.Http.Features;

namespace AgenticGateway.Caching;

/// <summary>
/// <c>cache</c>: answers an LLM request from the response cache when an identical one (same tenant partition, model
/// group, request and output guardrails) was answered before, else lets it through and stores its answer when it is
/// a complete 2xx (a JSON body whole, or a stream that ended without an error event). A hit is replayed byte for byte
/// (a stream as the same SSE events), logged in the spend log with cache_hit and no cost, and settles the caller's
/// budget and limits like any answer. Headers: <c>x-agw-cache</c> (hit, semantic-hit, miss, bypass) and LiteLLM's
/// <c>x-litellm-cache-key</c>. Applies only when a cache is configured.
/// </summary>
internal sealed class CacheMiddleware(CacheStores stores, CacheStatistics statistics, CacheWriter writer, SpendRecorder spend, TimeProvider time,
    ISemanticLookup? semantic = null) : IRouterMiddleware
{
    public const string Type = "cache";

    /// <summary>Registers the cache's services (the middleware, its stores, statistics and background writer).</summary>
    public static void AddCache(IServiceCollection services)
    {
        services.AddSingleton(sp => new CacheStores(sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILoggerFactory>(), sp.GetService<Limits.RedisConnection>()));
        services.AddSingleton<CacheStatistics>();
        services.AddSingleton<ICacheStatistics>(sp => sp.GetRequiredService<CacheStatistics>());
        services.AddSingleton<CacheWriter>();
        services.AddHostedService(sp => sp.GetRequiredService<CacheWriter>());
        services.AddSingleton(sp => new CacheMiddleware(sp.GetRequiredService<CacheStores>(), sp.GetRequiredService<CacheStatistics>(), sp.GetRequiredService<CacheWriter>(),
            sp.GetRequiredService<SpendRecorder>(), sp.GetRequiredService<TimeProvider>(), sp.GetService<ISemanticLookup>()));
        services.AddKeyedSingleton<IRouterMiddleware>(Type, (sp, _) => sp.GetRequiredService<CacheMiddleware>());
    }

    public bool AppliesTo(HttpContext context) =>
        context.Features.Get<LlmRequest>() is { Runtime.Options.Cache.Enabled: true } && context.Route().Payload.Operation() is not null;

    public async ValueTask<ApiError?> InvokeAsync(HttpContext context, RouterNext next)
    {
        var llm = context.Features.Get<LlmRequest>()!;
        var options = llm.Runtime.Options.Cache;
        var headers = context.Response.Headers;
        var callType = CacheKeys.CallType(llm.Operation);
        if (callType is null || !CacheKeys.Supports(options, callType)) return await BypassAsync(context, next, llm);
        if (CacheControl.TryRead(llm.Body.Span, context.Request.Headers.CacheControl, out var control) is { } bad) return bad;
        if (!options.DefaultOn && !control.UseCache) return await BypassAsync(context, next, llm);
        if (control.NoCache && control.NoStore) return await BypassAsync(context, next, llm);

        var caller = context.Features.Get<Caller>()!;
        var store = stores.For(options)!;
        var partition = CacheKeys.PartitionOf(caller, options.Partition);
        string key;
        try
        {
            key = CacheKeys.For(control.Namespace ?? options.Namespace, partition, llm.Operation, callType, llm.Group.Name, llm.Body.Memory, llm.Parsed.Stream,
                context.Features.Get<OutputGuardrails>()?.Names ?? []);
        }
        catch (JsonException)
        {
            // The payload step parsed the body already; a body it accepted but a DOM refuses (depth) is just not cached.
            return await BypassAsync(context, next, llm);
        }
        headers["x-litellm-cache-key"] = key;
        // The semantic index is searched per partition too; the output guardrails in effect are part of it, as they are
        // of the exact key, so a request never meets an answer stored under other output guardrails by meaning either.
        var guardrails = context.Features.Get<OutputGuardrails>()?.Names;
        var semanticPartition = guardrails is { Count: > 0 } ? partition + "|post_call:" + string.Join(',', guardrails) : partition;

        SemanticQuery? query = null;
        if (!control.NoCache)
        {
            var now = time.GetUtcNow();
            var entry = await store.GetAsync(key, context.RequestAborted);
            if (Fresh(entry, partition, control, now)) return await ReplayAsync(context, llm, caller, entry!, semanticHit: false);
            if (semantic is not null && options.Semantic is not null && (query = SemanticText.Query(llm, caller, context.RequestId(), semanticPartition)) is not null
                && await semantic.FindAsync(query, context.RequestAborted) is { } match
                && match.Key != key && await store.GetAsync(match.Key, context.RequestAborted) is var similar && Fresh(similar, partition, control, now)
                && similar!.Stream == llm.Parsed.Stream)
                return await ReplayAsync(context, llm, caller, similar, semanticHit: true);
            statistics.Miss(llm.Group.Name);
        }
        else statistics.Bypass(llm.Group.Name);
        headers["x-agw-cache"] = control.NoCache ? "bypass" : "miss";
        if (control.NoStore) return await next.InvokeAsync(context);
        return await ServeAndStoreAsync(context, next, llm, caller, store, key, partition, semanticPartition, callType, control, options, query);
    }

    private async ValueTask<ApiError?> BypassAsync(HttpContext context, RouterNext next, LlmRequest llm)
    {
        statistics.Bypass(llm.Group.Name);
        context.Response.Headers["x-agw-cache"] = "bypass";
        return await next.InvokeAsync(context);
    }

    /// <summary>An entry that may answer: unexpired, of this partition (a key never names another's, but a store is only trusted so far), and as young as the request asks.</summary>
    private static bool Fresh(CacheEntry? entry, string partition, CacheControl control, DateTimeOffset now) =>
        entry is not null && entry.ExpiresAt > now && entry.Partition == partition && (control.MaxAge is not { } age || now - entry.CreatedAt <= age);

    private async ValueTask<ApiError?> ServeAndStoreAsync(HttpContext context, RouterNext next, LlmRequest llm, Caller caller, ICacheStore store, string key,
        string partition, string semanticPartition, string callType, CacheControl control, CacheOptions options, SemanticQuery? query)
    {
        var original = context.Response.Body;
        // The answer is as old as the request: s-maxage and the TTL count from when it was asked.
        var asked = time.GetUtcNow();
        CaptureStream? capture = null;
        capture = new CaptureStream(original, options.MaxEntryBytes, context.Response, () => StoreAsync(capture!));
        context.Response.Body = capture;
        try
        {
            var refused = await next.InvokeAsync(context);
            context.Response.Body = original;
            // A stream (no declared length) is complete only now, once its last event went out.
            if (refused is null && !capture.Completed) await StoreAsync(capture);
            return refused;
        }
        finally
        {
            context.Response.Body = original;
            capture.Dispose();
        }

        async ValueTask StoreAsync(CaptureStream captured)
        {
            if (!Storable(context, llm, captured)) return;
            var x = (LlmExchange)context.Features.Get<ILlmOutcome>()!;
            var index = semantic is not null && options.Semantic is not null ? semantic : null;
            if (index is not null) query ??= SemanticText.Query(llm, caller, context.RequestId(), semanticPartition);
            var entry = new CacheEntry
            {
                Key = key, Partition = partition, ModelGroup = llm.Group.Name, UserId = caller.Key?.UserId, CallType = callType, Stream = llm.Parsed.Stream,
                ContentType = context.Response.ContentType ?? (llm.Parsed.Stream ? "text/event-stream" : "application/json"),
                Body = captured.Captured.ToArray(), PromptTokens = x.Usage?.PromptTokens ?? 0, CompletionTokens = x.Usage?.CompletionTokens ?? 0,
                CostNanos = x.CostNanos, CreatedAt = asked, ExpiresAt = asked + (control.Ttl ?? options.Ttl), PromptText = query?.PromptText,
            };
            if (entry.ExpiresAt <= time.GetUtcNow()) return;
            if (store is LocalCacheStore && index is null) await store.SetAsync(entry, CancellationToken.None);
            else writer.Enqueue(new CacheWriter.Work(store, entry, index, query));
        }
    }

    /// <summary>Only a whole successful answer from a deployment: never an error, a refusal, a cut or failed stream, or an answer too large.</summary>
    private static bool Storable(HttpContext context, LlmRequest llm, CaptureStream capture)
    {
        if (capture.Overflowed || capture.Captured.IsEmpty || context.RequestAborted.IsCancellationRequested) return false;
        // A JSON answer is whole when its declared length is: the stream flag alone does not say so for every body.
        if (context.Response.ContentLength is { } declared && declared != capture.Captured.Length) return false;
        if (context.Features.Get<GatewayRequest>()?.Error is not null) return false;
        // Only the plain call (not a hosted-tool loop, whose answer depends on what its tools did).
        if (context.Features.Get<ILlmOutcome>() is not LlmExchange { Deployment: not null } x) return false;
        if (x.Status is < 200 or > 299 || context.Response.StatusCode is < 200 or > 299) return false;
        if (!llm.Parsed.Stream) return !IsErrorObject(capture.Captured);
        // A clean end of the connection is not a whole answer: a deployment that stopped early without its
        // terminal event closed its stream as cleanly as one that finished.
        return x.StreamFinished && !SseErrors.HasErrorEvent(capture.Captured) && SseErrors.HasTerminalEvent(capture.Captured, llm.Operation);
    }

    /// <summary>
    /// Whether a 2xx JSON body is an error object (<c>{"error": ...}</c>, as some providers and proxies answer with a
    /// 200): never stored, as <c>/cache/store</c> refuses one. A body that is not JSON is not stored either.
    /// </summary>
    internal static bool IsErrorObject(ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 256 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return true;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isError = reader.ValueTextEquals("error"u8);
                reader.Read();
                // "error": null is a field of some successful answers, not an error.
                if (isError && reader.TokenType != JsonTokenType.Null) return true;
                reader.Skip();
            }
            return false;
        }
        catch (JsonException) { return true; }
    }

    /// <summary>Answers from <paramref name="entry"/>: its spend log (cache hit, no cost) first, then the bytes as they were sent.</summary>
    private async ValueTask<ApiError?> ReplayAsync(HttpContext context, LlmRequest llm, Caller caller, CacheEntry entry, bool semanticHit)
    {
        // The stored answer passed another request's guardrails, not this one's: this request's post_call checks (and
        // the during_call verdict they wait for) see the replay as they would a deployment's answer, before any byte.
        ReadOnlyMemory<byte> body = entry.Body;
        if (context.Features.Get<IAnswerFilter>() is { } filter)
        {
            if (!entry.Stream)
            {
                var filtered = await filter.FilterAsync(body, context.RequestAborted);
                if (filtered.Blocked is { } blocked) return blocked;
                body = filtered.Answer;
            }
            else if (filter.ForStream() is { } events)
            {
                // The whole stream is at hand: it is checked before the first event goes out, so a block is a plain error.
                var output = new ArrayBufferWriter<byte>(entry.Body.Length + 256);
                if (await events.FeedAsync(body, output, context.RequestAborted) is { } stopped) return stopped;
                if (await events.CompleteAsync(output, context.RequestAborted) is { } stoppedAtEnd) return stoppedAtEnd;
                body = output.WrittenMemory;
            }
        }
        var request = context.Features.Get<GatewayRequest>()!;
        var x = new LlmExchange(context, llm, caller, request.Id, request.StartTimestamp)
        {
            CacheHit = true,
            Usage = new Usage(entry.PromptTokens, entry.CompletionTokens),
            Status = StatusCodes.Status200OK,
            ResponseId = entry.Stream ? Services.Llm.ResponseIds.ReadFirstEvent(entry.Body) : Services.Llm.ResponseIds.Read(entry.Body),
        };
        context.Features.Set<ILlmOutcome>(x);
        statistics.Hit(llm.Group.Name, semanticHit, entry.PromptTokens, entry.CompletionTokens, entry.CostNanos);
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = entry.ContentType;
        var h = response.Headers;
        h["x-agw-cache"] = semanticHit ? "semantic-hit" : "hit";
        h["x-litellm-cache-key"] = entry.Key;
        h["x-agw-model-group"] = llm.Group.Name;
        if (llm.Runtime.Options.Server.LiteLlmHeaders) h["x-litellm-model-group"] = llm.Group.Name;
        if (entry.Stream)
        {
            h.CacheControl = "no-cache";
            h["x-accel-buffering"] = "no";
            context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        }
        else response.ContentLength = body.Length;
        // Recorded before the answer is released, as for any JSON answer: a client with an answer has its spend log.
        await spend.RecordAsync(x);
        x.OverheadSeconds = Math.Max(0, System.Diagnostics.Stopwatch.GetElapsedTime(request.StartTimestamp).TotalSeconds);
        await response.Body.WriteAsync(body, context.RequestAborted);
        if (entry.Stream) x.StreamFinished = true;
        return null;
    }
}
