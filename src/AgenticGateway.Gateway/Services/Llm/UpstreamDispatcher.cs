using System.Diagnostics;
using System.Net;
using AgenticGateway.Observability;
using AgenticGateway.OpenAi;
using AgenticGateway.Providers.Translation;
using AgenticGateway.Routing;
using AgenticGateway.Configuration;
using AgenticGateway.Pipeline;

namespace AgenticGateway.Services.Llm;

/// <summary>
/// Sends a request to a deployment of its model group and delivers the answer, with retries inside the group
/// (another deployment when one is free, otherwise exponential backoff with jitter that honours Retry-After),
/// cooldowns for failing deployments, and ordered fallbacks to other groups. Returns the error to send when
/// nothing succeeded, or null when the client got its answer.
/// </summary>
internal sealed class UpstreamDispatcher(ResponseRelay relay, GatewayMetrics metrics, TimeProvider time, ILogger<UpstreamDispatcher> logger, IRoutingPolicyHook? routingPolicies = null)
{
    private const int MaxFallbacks = 5;
    private static readonly byte[] IncludeUsage = ",\"stream_options\":{\"include_usage\":true}"u8.ToArray();
    /// <summary>Upper bound on a provider's Retry-After as we use it (for cooldowns, and passed on to clients).</summary>
    private static readonly TimeSpan MaxRetryAfterHonoured = TimeSpan.FromMinutes(10);

    public async Task<ApiError?> DispatchAsync(LlmExchange x)
    {
        var router = x.Runtime.Router;
        var clientAborted = x.Http.RequestAborted;
        using var overall = CancellationTokenSource.CreateLinkedTokenSource(clientAborted);
        overall.CancelAfter(RequestTimeout(x, router.Timeout));
        x.Overall = overall;

        var group = x.RequestedGroup;
        UpstreamFailure? last = null;
        GroupTarget[]? fallbackList = null;
        var fallbackIndex = 0;
        try
        {
            while (true)
            {
                last = await TryGroupAsync(x, group, overall.Token);
                if (last is null) return null;
                if (last is StreamBrokenFailure broken)
                {
                    await ResponseRelay.FinishBrokenStreamAsync(x, broken);
                    return null;
                }
                if (last.Kind == FailureKind.BadRequest) break;

                fallbackList ??= FallbacksFor(x, last.Kind);
                GroupTarget? next = null;
                while (fallbackIndex < fallbackList.Length && x.Fallbacks < MaxFallbacks)
                {
                    var candidate = fallbackList[fallbackIndex++];
                    // A fallback the caller may not use (its models, or an unpriced model under a budget), or none of whose deployments
                    // its tags allow, is never tried for it.
                    if (candidate.Group != group && candidate.Group != x.RequestedGroup && GroupAccess.MayRunOn(x.Caller, x.Runtime, candidate)
                        && (!router.TagFiltering || TagRouting.Eligible(candidate.Group, RequestTags(x), router.TagMatchAny) != 0)) { next = candidate; break; }
                }
                if (next is not { } target) break;
                Log.FallingBack(logger, group.Name, target.Group.Name, last.ErrorClass, x.RequestId);
                metrics.Fallback(x.RequestedGroup.Name, target.Group.Name);
                x.Fallbacks++;
                group = target.Group;
                x.GroupModel = target.Name;
            }
        }
        catch (OperationCanceledException) when (overall.IsCancellationRequested && !clientAborted.IsCancellationRequested)
        {
            return new ApiError(504, $"The request timed out after {RequestTimeout(x, router.Timeout).TotalSeconds:F0}s" + (last is null ? "." : $"; last error: {last.Message}"), "timeout_error", "request_timeout");
        }
        return ToClientError(x, last!);
    }

    /// <summary>Attempts within one group. Returns null on success, or the failure that ended the group's turn.</summary>
    private async Task<UpstreamFailure?> TryGroupAsync(LlmExchange x, ModelGroup group, CancellationToken cancellationToken)
    {
        var router = x.Runtime.Router;
        ulong tried = 0;
        // Deployments this request has already counted a failure against: one request counts once per deployment,
        // however often it is retried there (a poison request must not cool a deployment down by itself).
        ulong counted = 0;
        var retriesLeft = RetriesFor(group, router);
        var retry = 0;
        UpstreamFailure? lastFailure = null;
        var eligible = ulong.MaxValue;
        if (router.TagFiltering)
        {
            var tags = RequestTags(x);
            eligible = TagRouting.Eligible(group, tags, router.TagMatchAny);
            if (eligible == 0)
            {
                var refusal = ApiError.BadRequest(TagRouting.Refusal(group.Name, tags), code: "no_deployments_with_tag_routing");
                return new UpstreamFailure(FailureKind.BadRequest, refusal.Status, refusal.Message) { ClientError = refusal };
            }
        }
        // Routing policies (routing_policies:): none configured costs this null check. They narrow eligible to the allowed
        // deployments and give a preferred subset, tried first; the strategy still picks within each.
        ulong preferred = 0;
        GroupPolicy decided = default;
        var eligibleBeforePolicies = eligible;
        var judged = routingPolicies is not null && routingPolicies.TryEvaluate(x, group, eligible, out decided);
        if (judged)
        {
            if (decided.Denied is { } denied) return new UpstreamFailure(FailureKind.PolicyDenied, denied.Status, denied.Message) { ClientError = denied };
            eligible = decided.Allowed;
            preferred = decided.Preferred;
        }
        while (true)
        {
            var nowTicks = time.GetUtcNow().UtcTicks;
            int index = -1;
            bool probe = false;
            using (var route = GatewayTracing.Source.StartActivity("route"))
            {
                var input = new RoutingInput(x.Request.Stream, nowTicks / TimeSpan.TicksPerMinute);
                // The preferred deployments not yet tried first; when none of them can take it, the other allowed ones.
                // Only while one of them is under its rpm/tpm: Pick would otherwise fall through to a full one.
                if (preferred != 0 && (preferred & ~tried & group.UnderLimits(input.NowMinute)) != 0) index = group.Pick(tried, preferred & ~tried, input, nowTicks, out probe);
                if (index < 0) index = group.Pick(tried, eligible, input, nowTicks, out probe);
                route?.SetTag("agw.model_group", group.Name);
                route?.SetTag("agw.deployment", index >= 0 ? group.Deployments[index].Id : null);
            }
            if (judged && tried == 0) routingPolicies!.Picked(x, group, decided, eligibleBeforePolicies, index);
            if (index < 0)
            {
                // If this group already failed for this request, that failure is the truth to report.
                if (lastFailure is not null) return lastFailure;
                var wait = TimeSpan.FromTicks(Math.Max(0, group.EarliestAvailableTicks() - nowTicks));
                return new UpstreamFailure(FailureKind.NoDeployment, 503, $"All deployments of '{group.Name}' are cooling down after failures.", RetryAfter: wait);
            }
            tried |= 1UL << index;
            var deployment = group.Deployments[index];
            x.Attempts++;
            UpstreamFailure? failure;
            try
            {
                failure = await AttemptAsync(x, group, deployment, cancellationToken);
                if (failure is not null and not StreamBrokenFailure { EndedByGateway: true })
                {
                    RecordFailure(x, group, deployment, failure is StreamBrokenFailure broken ? broken.Cause : failure, countAgainst: (counted & (1UL << index)) == 0);
                    counted |= 1UL << index;
                }
            }
            finally
            {
                if (probe) deployment.State.EndProbe();
            }
            if (failure is null or StreamBrokenFailure) return failure;
            lastFailure = failure;
            if (!failure.Retryable || retriesLeft-- <= 0) return failure;

            nowTicks = time.GetUtcNow().UtcTicks;
            if (!group.HasUntriedAvailable(tried | ~eligible, nowTicks))
            {
                var delay = Backoff(router, retry, failure.RetryAfter);
                if (delay is null) return failure; // Retry-After longer than we are willing to wait: fall back instead.
                var waitStart = Stopwatch.GetTimestamp();
                await Task.Delay(delay.Value, time, cancellationToken);
                x.UpstreamTicks += Stopwatch.GetTimestamp() - waitStart;
            }
            retry++;
            x.Retries++;
            metrics.Retry(group.Name);
        }
    }

    /// <summary>
    /// The request's tags as LiteLLM reads them: the body's <c>tags</c>, else the <c>x-litellm-tags</c> header (comma
    /// separated), else <c>metadata.tags</c>.
    /// </summary>
    internal static IReadOnlyList<string>? RequestTags(LlmExchange x)
    {
        if (x.Request.Tags is { } tags) return tags;
        if (x.Http.Request.Headers.TryGetValue("x-litellm-tags", out var header) && header.ToString() is { Length: > 0 } text)
            return text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        return x.Request.MetadataTags;
    }

    /// <summary>One attempt on one deployment, in its own GenAI client span when tracing is on.</summary>
    private async Task<UpstreamFailure?> AttemptAsync(LlmExchange x, ModelGroup group, Deployment d, CancellationToken cancellationToken)
    {
        if (!GatewayTracing.Source.HasListeners()) return await AttemptCoreAsync(x, group, d, cancellationToken);
        var operation = LlmOperations.Name(x.Operation);
        var model = d.UpstreamModel(x.GroupModel);
        using var span = GatewayTracing.Source.StartActivity($"{operation} {model}", ActivityKind.Client);
        span?.SetTag("gen_ai.operation.name", operation);
        span?.SetTag("gen_ai.system", d.ProviderName);
        span?.SetTag("gen_ai.provider.name", d.ProviderName);
        span?.SetTag("gen_ai.request.model", model);
        span?.SetTag("server.address", d.Options.ApiBase.Host);
        span?.SetTag("agw.deployment", d.Id);
        var failure = await AttemptCoreAsync(x, group, d, cancellationToken);
        if (failure is not null)
        {
            span?.SetStatus(ActivityStatusCode.Error, failure.Message);
            span?.SetTag("error.type", failure.ErrorClass);
        }
        else if (x.Usage is { } usage)
        {
            span?.SetTag("gen_ai.usage.input_tokens", usage.PromptTokens);
            span?.SetTag("gen_ai.usage.output_tokens", usage.CompletionTokens);
        }
        return failure;
    }

    private async Task<UpstreamFailure?> AttemptCoreAsync(LlmExchange x, ModelGroup group, Deployment d, CancellationToken cancellationToken)
    {
        var router = x.Runtime.Router;
        string? upstreamModel = null;
        var modelToken = d.UpstreamModelJson;
        if (group.WildcardPrefix is not null)
        {
            upstreamModel = d.UpstreamModel(x.GroupModel);
            modelToken = Deployment.QuoteJson(upstreamModel);
        }
        x.UpstreamModel = upstreamModel;
        x.UsageInjected = false;
        var native = AnswerCodec.IsNative(x, d);
        // An Anthropic-format request is converted to OpenAI chat once, the first time a deployment needs it.
        if (!native && !x.HasOpenAiBody && ClientFormats.ToOpenAi(x) is { } conversionError)
            return new UpstreamFailure(FailureKind.BadRequest, conversionError.Status, conversionError.Message) { ClientError = conversionError };
        var call = new ProviderCall(d.Options, upstreamModel ?? d.Options.Model, x.Request.Stream, x.OpenAiRequest.IncludeUsage, x.RequestId)
        {
            Base64Embeddings = x.OpenAiRequest.Base64,
        };
        var codec = AnswerCodec.For(x, d, call);
        HttpRequestMessage request;
        if (native)
        {
            request = x.Operation == LlmOperation.Responses
                ? ResponsesPassthrough.Build(x, d, upstreamModel ?? d.Options.Model)
                : AnthropicPassthrough.Build(x, d, modelToken);
        }
        else
        {
            if (x.Operation == LlmOperation.Rerank && d.Reranker is null)
            {
                var noRerank = ApiError.BadRequest($"The model's deployment {d.Id} (provider '{d.ProviderName}') has no rerank API; rerank is served by cohere, jina_ai and hosted_vllm deployments.", "model", "rerank_not_supported");
                return new UpstreamFailure(FailureKind.BadRequest, 400, noRerank.Message) { ClientError = noRerank };
            }
            var translator = d.TranslatorFor(x.Operation);
            if (x.Operation == LlmOperation.Rerank || translator is not null)
            {
                TranslatedRequest built;
                try
                {
                    built = x.Operation switch
                    {
                        LlmOperation.Rerank => await d.Reranker!.BuildRerankRequestAsync(x.OpenAiBody, call, cancellationToken),
                        LlmOperation.Embeddings => await translator!.BuildEmbeddingsRequestAsync(x.OpenAiBody, call, cancellationToken),
                        _ => await translator!.BuildChatRequestAsync(DefaultParams(x, d) is { } defaults ? UpstreamContent.Apply(x.OpenAiBody.Span, x.OpenAiRequest, defaults) : x.OpenAiBody, call, cancellationToken),
                    };
                }
                catch (HttpRequestException ex)
                {
                    // Credentials the provider needs could not be had (a Vertex token exchange failed): like an unreachable provider.
                    return new UpstreamFailure(FailureKind.Connection, 502, $"could not get credentials for {d.Id}: {ex.Message}");
                }
                catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or FormatException or KeyNotFoundException)
                {
                    // The translator reads the client's body as the provider's format needs it: a field of a type it does not
                    // take (or a name given twice) is the client's error, as the provider itself would say.
                    var untranslatable = ApiError.BadRequest($"The request cannot be translated for {d.ProviderName}: {ex.Message}", code: "invalid_request_for_provider");
                    return new UpstreamFailure(FailureKind.BadRequest, 400, untranslatable.Message) { ClientError = untranslatable };
                }
                if (built.Error is { } refused) return new UpstreamFailure(FailureKind.BadRequest, refused.Status, refused.Message) { ClientError = refused };
                request = built.Request!;
            }
            else
            {
                request = OpenAiRequest(x, d, upstreamModel, modelToken);
            }
        }
        using var _ = request;
        request.Version = HttpVersion.Version11;
        request.VersionPolicy = HttpVersionPolicy.RequestVersionOrHigher;
        foreach (var (name, value) in d.Headers) request.Headers.TryAddWithoutValidation(name, value);
        request.Headers.TryAddWithoutValidation("x-request-id", x.RequestId);

        // With tracing on, HttpClient propagates the attempt span upstream as traceparent; with it off, the caller's own
        // traceparent is passed on as it came.
        if (Activity.Current is null && x.Http.Request.Headers.TryGetValue("traceparent", out var traceparent))
        {
            request.Headers.TryAddWithoutValidation("traceparent", traceparent.ToString());
            if (x.Http.Request.Headers.TryGetValue("tracestate", out var tracestate)) request.Headers.TryAddWithoutValidation("tracestate", tracestate.ToString());
        }

        // A separate timer only when the attempt has its own limit (a deployment timeout, or a stream's idle timeout);
        // otherwise the whole-request timeout is the attempt's too, and one timer per request is enough.
        using var attemptCts = d.Options.Timeout is not null || x.Request.Stream ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken) : null;
        attemptCts?.CancelAfter(d.Options.Timeout ?? router.Timeout);
        var attemptToken = attemptCts?.Token ?? cancellationToken;
        var start = Stopwatch.GetTimestamp();
        d.State.Enter();
        UpstreamFailure? failure;
        try
        {
            HttpResponseMessage response;
            try
            {
                response = await d.Invoker.SendAsync(request, attemptToken);
            }
            catch (HttpRequestException ex)
            {
                x.UpstreamTicks += Stopwatch.GetTimestamp() - start;
                return new UpstreamFailure(FailureKind.Connection, 502, $"could not reach {d.Id}: {ex.Message}");
            }
            catch (OperationCanceledException) when (attemptCts is { IsCancellationRequested: true } && !cancellationToken.IsCancellationRequested)
            {
                x.UpstreamTicks += Stopwatch.GetTimestamp() - start;
                return new UpstreamFailure(FailureKind.Timeout, 504, $"deployment {d.Id} did not answer within {(d.Options.Timeout ?? router.Timeout).TotalSeconds:F0}s");
            }

            using (response)
            {
                try
                {
                    if (!response.IsSuccessStatusCode)
                    {
                        var errorBody = await ResponseRelay.ReadErrorBodyAsync(response.Content, attemptToken);
                        x.UpstreamTicks += Stopwatch.GetTimestamp() - start;
                        var contentType = response.Content.Headers.ContentType?.ToString();
                        var status = (int)response.StatusCode;
                        if (native && x.Operation == LlmOperation.Messages) return UpstreamFailure.FromProviderError(Providers.Anthropic.AnthropicErrors.Read(status, errorBody), errorBody, keepBody: true, contentType, RetryAfter(response));
                        if (x.Operation == LlmOperation.Rerank) return UpstreamFailure.FromProviderError(d.Reranker!.ReadError(status, errorBody), errorBody, keepBody: false, contentType, RetryAfter(response));
                        if (d.TranslatorFor(x.Operation) is { } translator) return UpstreamFailure.FromProviderError(translator.ReadError(status, errorBody), errorBody, keepBody: false, contentType, RetryAfter(response));
                        return UpstreamFailure.FromResponse(status, errorBody, contentType, RetryAfter(response));
                    }
                    if (x.Request.Stream && response.Content.Headers.ContentType?.MediaType is { } media && media != ExpectedStreamMedia(d))
                    {
                        // A stream request answered with something else (a JSON body, an HTML error page) is not a
                        // stream we can forward: treat it as a broken answer and try elsewhere.
                        await ResponseRelay.ReadErrorBodyAsync(response.Content, attemptToken);
                        x.UpstreamTicks += Stopwatch.GetTimestamp() - start;
                        return new UpstreamFailure(FailureKind.InvalidResponse, 502, $"deployment {d.Id} answered a stream request with {media} instead of text/event-stream");
                    }
                    failure = x.Request.Stream
                        ? await relay.StreamAsync(x, d, response, attemptCts!, d.Options.StreamTimeout ?? router.StreamIdleTimeout, start, codec?.CreateStream())
                        : await relay.BufferedAsync(x, d, response, attemptToken, start, codec);
                }
                catch (OperationCanceledException) when (attemptCts is { IsCancellationRequested: true } && !cancellationToken.IsCancellationRequested)
                {
                    x.UpstreamTicks += Stopwatch.GetTimestamp() - start;
                    return new UpstreamFailure(FailureKind.Timeout, 504, $"deployment {d.Id} did not finish within {(d.Options.Timeout ?? router.Timeout).TotalSeconds:F0}s");
                }
            }
        }
        finally
        {
            d.State.Exit();
        }

        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        if (failure is null || failure is StreamBrokenFailure)
        {
            double? ttft = x.FirstByteTimestamp != 0 ? Stopwatch.GetElapsedTime(start, x.FirstByteTimestamp).TotalSeconds : null;
            if (failure is null) d.State.RecordSuccess(seconds, ttft, time.GetUtcNow().UtcTicks);
            d.State.RecordUsage(time.GetUtcNow().UtcTicks / TimeSpan.TicksPerMinute, x.Usage?.TotalTokens ?? 0);
            metrics.ProviderAttempt(d.ProviderName, group.Name, d.Id, seconds, failure is null or StreamBrokenFailure { EndedByGateway: true } ? "success" : "error");
            if (ttft is { } t) metrics.TimeToFirstToken(d.ProviderName, group.Name, t);
            if (x.Usage is { } u) metrics.Tokens(d.ProviderName, group.Name, u.PromptTokens, u.CompletionTokens);
        }
        else
        {
            metrics.ProviderAttempt(d.ProviderName, group.Name, d.Id, seconds, "error");
        }
        return failure;
    }

    /// <summary>The OpenAI-compatible request: the client's bytes with only the model replaced (and usage asked for).</summary>
    private static HttpRequestMessage OpenAiRequest(LlmExchange x, Deployment d, string? upstreamModel, byte[] modelToken)
    {
        ref readonly var parsed = ref x.OpenAiRequest;
        // Streams carry usage only when asked; ask for it (where the provider accepts it) so tokens and cost are
        // known for every stream, and take the extra usage chunk out again before the client sees it.
        x.UsageInjected = parsed.Stream && !parsed.HasStreamOptions && x.Operation is not (LlmOperation.Embeddings or LlmOperation.Rerank) && d.Options.StreamUsage == true;
        var insert = DefaultParams(x, d);
        if (x.UsageInjected) insert = insert is null ? IncludeUsage : [.. insert, .. IncludeUsage];
        return new HttpRequestMessage(HttpMethod.Post, d.EndpointFor(x.Operation, upstreamModel))
        {
            Content = UpstreamContent.WithModel(x.OpenAiBody, parsed, modelToken, insert),
        };
    }

    /// <summary>
    /// The deployment's configured request parameters the client did not send (LiteLLM's litellm_params.temperature,
    /// max_tokens, ...) as JSON members to add, or null: the client's own value wins, as in LiteLLM's router.
    /// </summary>
    private static byte[]? DefaultParams(LlmExchange x, Deployment d)
    {
        var configured = d.Options.DefaultParams;
        if (configured.IsDefaultOrEmpty || x.Operation == LlmOperation.Embeddings) return null;
        var present = RequestReader.PresentParams(x.OpenAiBody.Span);
        var text = new System.Text.StringBuilder();
        foreach (var p in configured)
        {
            if ((present & DefaultParameters.Family(p.Index)) != 0) continue;
            text.Append(",\"").Append(p.Name).Append("\":").Append(p.Json);
            present |= DefaultParameters.Family(p.Index);
        }
        return text.Length == 0 ? null : System.Text.Encoding.UTF8.GetBytes(text.ToString());
    }

    /// <summary>Bedrock streams in AWS's binary event-stream framing; everyone else in SSE.</summary>
    private static string ExpectedStreamMedia(Deployment d) =>
        d.Provider.Wire == ProviderWire.Bedrock ? "application/vnd.amazon.eventstream" : "text/event-stream";

    /// <param name="countAgainst">False when this request already counted a failure against the deployment.</param>
    private void RecordFailure(LlmExchange x, ModelGroup group, Deployment d, UpstreamFailure failure, bool countAgainst)
    {
        metrics.ProviderError(d.ProviderName, group.Name, d.Id, failure.ErrorClass);
        Log.AttemptFailed(logger, d.Id, failure.ErrorClass, failure.Status, failure.Message, x.RequestId);
        if (!failure.CountsAgainstDeployment) return;
        // Through a wildcard the client names the upstream model: a model it may not use (403) or that does not exist
        // (404) is its own mistake, not the deployment's.
        if (group.WildcardPrefix is not null && (failure.Kind == FailureKind.NotFound || failure.Status == 403)) return;
        // The error rate (routing policies' current_error_rate) counts every failed attempt but a rate-limited one (a
        // deployment at its quota is not failing); the cooldown counts one per request.
        if (failure.Kind != FailureKind.RateLimited)
            d.State.RecordOutcome(time.GetUtcNow().UtcTicks, failed: true);
        if (!countAgainst) return;
        // A lone deployment that is rate limited is not failing: the client gets the 429 and its Retry-After
        // instead of a cooldown's 503 (LiteLLM does the same).
        if (failure.Kind == FailureKind.RateLimited && group.Deployments.Length == 1) return;
        var router = x.Runtime.Router;
        // As LiteLLM: a rate limit cools a deployment down at once when the group has others to take the load
        // (for as long as the provider asked); auth and not-found errors do so always; the rest after allowed_fails.
        var immediate = (failure.Kind == FailureKind.RateLimited && group.Deployments.Length > 1) || failure.Kind is FailureKind.Auth or FailureKind.NotFound;
        var cooldown = failure.Kind == FailureKind.RateLimited && failure.RetryAfter is { } ra && ra > router.CooldownTime ? ra : router.CooldownTime;
        if (d.State.RecordFailure(time.GetUtcNow().UtcTicks, router.AllowedFails, router.FailureWindow, cooldown, immediate))
            Log.CooldownStarted(logger, d.Id, group.Name, cooldown.TotalSeconds);
    }

    /// <summary>Retries for a group: the deployments' own max_retries when set (the largest), else the router's.</summary>
    private static int RetriesFor(ModelGroup group, Configuration.RouterOptions router)
    {
        var own = -1;
        foreach (var d in group.Deployments) if (d.Options.MaxRetries is { } r && r > own) own = r;
        return own >= 0 ? own : router.NumRetries;
    }

    private static GroupTarget[] FallbacksFor(LlmExchange x, FailureKind kind)
    {
        var g = x.RequestedGroup;
        var specific = kind switch
        {
            FailureKind.ContextWindow => g.ContextWindowFallbacks,
            FailureKind.ContentPolicy => g.ContentPolicyFallbacks,
            _ => [],
        };
        if (specific.Length > 0) return specific;
        return g.Fallbacks.Length > 0 ? g.Fallbacks : x.Runtime.Catalog.DefaultFallbacks;
    }

    /// <summary>Exponential backoff with jitter, or the provider's Retry-After; null when that is too long to wait.</summary>
    private static TimeSpan? Backoff(Configuration.RouterOptions router, int retry, TimeSpan? retryAfter)
    {
        if (retryAfter is { } ra)
        {
            if (ra > router.MaxRetryAfter) return null;
            if (ra > TimeSpan.Zero) return ra;
        }
        var exp = router.RetryBackoff.TotalMilliseconds * Math.Pow(2, retry);
        var capped = Math.Min(exp, router.MaxRetryBackoff.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(capped * (1 - 0.25 * Random.Shared.NextDouble()));
    }

    private static TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        TimeSpan? value = null;
        if (header?.Delta is { } delta) value = delta;
        else if (header?.Date is { } date) value = date - DateTimeOffset.UtcNow;
        // OpenAI also sends retry-after-ms.
        else if (response.Headers.TryGetValues("retry-after-ms", out var ms) && double.TryParse(ms.FirstOrDefault(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var m) && double.IsFinite(m))
            value = TimeSpan.FromMilliseconds(Math.Clamp(m, 0, MaxRetryAfterHonoured.TotalMilliseconds));
        if (value is null) return null;
        return value < TimeSpan.Zero ? TimeSpan.Zero : value > MaxRetryAfterHonoured ? MaxRetryAfterHonoured : value;
    }

    /// <summary>A per-request timeout from x-agw-timeout or LiteLLM's x-litellm-timeout (seconds), capped by config.</summary>
    private static TimeSpan RequestTimeout(LlmExchange x, TimeSpan configured)
    {
        var headers = x.Http.Request.Headers;
        var value = headers["x-agw-timeout"];
        if (value.Count == 0) value = headers["x-litellm-timeout"];
        // Compared as seconds first: a huge value (1e308) is no TimeSpan. NaN and non-positive values are ignored.
        if (value.Count > 0 && double.TryParse(value[0], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var seconds)
            && seconds > 0 && seconds < configured.TotalSeconds)
            return TimeSpan.FromSeconds(seconds);
        return configured;
    }

    /// <summary>The error the client gets when every attempt failed, in OpenAI's shape with a matching status.</summary>
    private static ApiError ToClientError(LlmExchange x, UpstreamFailure last)
    {
        if (last.ClientError is { } own) return own;
        var attempts = x.Attempts == 1 ? "1 attempt" : $"{x.Attempts} attempts";
        return last.Kind switch
        {
            FailureKind.NoDeployment => new ApiError(503, last.Message, "service_unavailable_error", "no_healthy_deployment") { RetryAfterSeconds = Math.Max(1, (int)Math.Ceiling(last.RetryAfter?.TotalSeconds ?? 1)) },
            FailureKind.Timeout => new ApiError(504, $"The upstream provider timed out ({attempts}): {last.Message}", "timeout_error", "upstream_timeout"),
            FailureKind.RateLimited => PassThrough(last, 429, "rate_limit_error", "rate_limit_exceeded"),
            FailureKind.ServerError when last.Status == 503 => new ApiError(503, $"The upstream provider is unavailable ({attempts}): {last.Message}", "service_unavailable_error", "upstream_unavailable") { RetryAfterSeconds = RetrySeconds(last) },
            FailureKind.ServerError or FailureKind.Connection or FailureKind.InvalidResponse => new ApiError(502, $"The upstream provider failed ({attempts}): {last.Message}", "upstream_error", "upstream_error"),
            // The caller's key was fine: the gateway's provider credentials were refused. Say so, and do not echo the
            // provider's message (it may quote part of that credential).
            FailureKind.Auth => new ApiError(502, $"The upstream provider rejected the gateway's credentials (HTTP {last.Status}); check the deployment's api_key.", "upstream_error", "upstream_auth_error"),
            _ => PassThrough(last, last.Status, "invalid_request_error", last.ErrorClass),
        };
    }

    private static int? RetrySeconds(UpstreamFailure f) => f.RetryAfter is { } r ? Math.Max(1, (int)Math.Ceiling(r.TotalSeconds)) : null;

    /// <summary>Keeps the provider's status, message and code for errors the client should see as they are.</summary>
    private static ApiError PassThrough(UpstreamFailure failure, int status, string type, string code) =>
        new UpstreamApiError(status, failure.Message, type, code, failure.BodyIsOpenAiError || failure.BodyIsAnthropicError ? failure.Body : null)
        {
            RetryAfterSeconds = RetrySeconds(failure),
            RawIsAnthropic = failure.BodyIsAnthropicError,
        };
}
