using System.Diagnostics;
using AgenticGateway.Keys;
using AgenticGateway.Limits;
using AgenticGateway.Observability;
using AgenticGateway.Pricing;
using AgenticGateway.Spend;
using AgenticGateway.OpenAi;
using AgenticGateway.Routing;
using AgenticGateway.Runtime;
using AgenticGateway.Ui;

namespace AgenticGateway.Pipeline;

/// <summary>
/// The request path of the LLM API, in order: request id, auth, body, parse and validate, model resolution and
/// access, admission (parallel requests, budgets, rate limits), dispatch (routing, retries, fallbacks, forwarding),
/// then spend (cost, spend log, settling limits and budgets), metrics, the access log and the admin UI's live log.
/// </summary>
internal sealed class LlmProxyHandler(RuntimeHolder runtimes, ClientAuth auth, Admission admission, UpstreamDispatcher dispatcher, SpendRecorder spend,
    GatewayMetrics metrics, RecentRequests recent, ILogger<LlmProxyHandler> logger)
{
    public async Task HandleAsync(HttpContext context, LlmOperation operation)
    {
        var start = Stopwatch.GetTimestamp();
        var requestId = RequestIds.AcceptOrMint(context);
        using var span = GatewayTracing.StartRequest(context, OperationName(operation));
        span?.SetTag("agw.request_id", requestId);
        try
        {
            await HandleCoreAsync(context, operation, requestId, start);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException && context.RequestAborted.IsCancellationRequested)
        {
            // The client went away (while we read its body or wrote the answer); the upstream call went with it.
        }
        catch (Exception ex)
        {
            // A bug, not bad input: log it and still answer in the API's error shape.
            Log.Unhandled(logger, ex, context.Request.Path.Value ?? "", requestId);
            await FinishAsync(context, null, new ApiError(500, $"Internal gateway error (request id {requestId}).", "server_error", "internal_error"), "-", operation, requestId, start);
        }
    }

    private async Task HandleCoreAsync(HttpContext context, LlmOperation operation, string requestId, long start)
    {
        var runtime = runtimes.Current;
        Caller? caller;
        ApiError? authError;
        using (GatewayTracing.Source.StartActivity("auth")) (caller, authError) = await auth.AuthenticateAsync(context.Request, runtime, context.RequestAborted);
        if (authError is not null)
        {
            await FinishAsync(context, null, authError, "-", operation, requestId, start);
            return;
        }

        var (body, bodyError) = await RequestBody.ReadAsync(context.Request, runtime.Options.Server.MaxRequestBodyBytes, context.RequestAborted);
        if (body is null)
        {
            await FinishAsync(context, null, bodyError!, "-", operation, requestId, start, caller);
            return;
        }
        using (body)
        {
            if (RequestReader.TryParse(body.Span, operation, out var parsed) is { } parseError)
            {
                await FinishAsync(context, null, parseError, "-", operation, requestId, start, caller);
                return;
            }
            if (!runtime.Catalog.TryResolve(parsed.Model, out var group))
            {
                // The label is not the client's string: metric labels must stay bounded.
                await FinishAsync(context, null, ModelNotFound(runtime, parsed.Model, caller!), "-", operation, requestId, start, caller);
                return;
            }
            if (!caller!.MayUse(parsed.Model, group.Name))
            {
                await FinishAsync(context, null, new ApiError(403, $"This key may not use the model '{parsed.Model}'.",
                    "permission_error", "model_not_allowed", "model"), "-", operation, requestId, start, caller);
                return;
            }

            if (caller.HasBudget && !runtime.Options.Budgets.AllowUnpricedModels && !GroupAccess.IsPriced(group, runtime.Catalog.WildcardName(parsed.Model)))
            {
                await FinishAsync(context, null, GroupAccess.Unpriced(parsed.Model), "-", operation, requestId, start, caller);
                return;
            }

            // Limits and budgets apply to virtual keys: a request reserves its worst case until its usage is known.
            AdmissionTicket? ticket = null;
            long promptEstimate = 0;
            if (caller.Identity is not null)
            {
                promptEstimate = TokenEstimator.EstimatePromptTokens(body.Span);
                var reserve = Reservation.For(runtime, caller, group, parsed, operation, promptEstimate);
                ApiError? refused;
                (ticket, refused) = await admission.AdmitAsync(caller, reserve.Tokens, reserve.Cost, context.Response, context.RequestAborted);
                if (refused is not null)
                {
                    metrics.Refused(refused.Code ?? refused.Type);
                    if (refused is Limits.RateLimitRefusal limited) metrics.RateLimited(limited.Scope, limited.Limit);
                    await FinishAsync(context, null, refused, group.Name, operation, requestId, start, caller);
                    return;
                }
            }

            var exchange = new LlmExchange(context, runtime, operation, body, parsed, group, requestId, start)
            {
                Caller = caller, EstimatedPromptTokens = promptEstimate,
            };
            ApiError? error = null;
            try
            {
                error = await dispatcher.DispatchAsync(exchange);
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException && context.RequestAborted.IsCancellationRequested)
            {
                // The client went away; the upstream call was cancelled with it.
                exchange.Status = StatusCodes.Status499ClientClosedRequest;
            }
            finally
            {
                if (error is not null) exchange.Status = error.Status;
                try { spend.Record(exchange); }
                finally
                {
                    // Whatever happened, the request gives back its parallel slot and settles its reservations.
                    if (ticket is not null) await admission.SettleAsync(ticket, exchange.Usage, exchange.CostNanos);
                }
            }
            await FinishAsync(context, exchange, error, group.Name, operation, requestId, start);
        }
    }

    /// <summary>
    /// <c>POST /v1/messages/count_tokens</c>: Anthropic counts for an Anthropic deployment (the request passed through),
    /// the gateway's estimate for any other. Costs nothing and takes no rate-limit budget, as on Anthropic.
    /// </summary>
    public async Task CountTokensAsync(HttpContext context)
    {
        var requestId = RequestIds.AcceptOrMint(context);
        var runtime = runtimes.Current;
        var (caller, authError) = await auth.AuthenticateAsync(context.Request, runtime, context.RequestAborted);
        if (authError is not null) { await ErrorWriter.WriteAsync(context.Response, authError, anthropic: true); return; }
        var (body, bodyError) = await RequestBody.ReadAsync(context.Request, runtime.Options.Server.MaxRequestBodyBytes, context.RequestAborted);
        if (body is null) { await ErrorWriter.WriteAsync(context.Response, bodyError!, anthropic: true); return; }
        using (body)
        {
            ApiError? error = RequestReader.TryParse(body.Span, LlmOperation.Messages, out var parsed);
            ModelGroup? group = null;
            if (error is null && !runtime.Catalog.TryResolve(parsed.Model, out group)) error = ModelNotFound(runtime, parsed.Model, caller!);
            if (error is null && !caller!.MayUse(parsed.Model, group!.Name)) error = new ApiError(403, $"This key may not use the model '{parsed.Model}'.", "permission_error", "model_not_allowed", "model");
            if (error is not null) { await ErrorWriter.WriteAsync(context.Response, error, anthropic: true); return; }

            var anthropic = Array.Find(group!.Deployments, d => d.Provider.Wire == Providers.ProviderWire.Anthropic);
            if (anthropic is not null && await CountOnAnthropicAsync(context, anthropic, body, parsed, requestId)) return;
            var tokens = Providers.Anthropic.Inbound.AnthropicTokenCounter.Estimate(body.Span);
            context.Response.ContentType = "application/json";
            context.Response.Headers["x-agw-token-count"] = "estimated";
            await context.Response.WriteAsync($"{{\"input_tokens\":{tokens}}}", context.RequestAborted);
        }
    }

    /// <summary>Asks Anthropic; false (so the estimate answers instead) when it cannot be reached or fails.</summary>
    private async Task<bool> CountOnAnthropicAsync(HttpContext context, Deployment d, RequestBody body, ParsedRequest parsed, string requestId)
    {
        var modelToken = d.WildcardPrefix is null ? d.UpstreamModelJson : Deployment.QuoteJson(d.UpstreamModel(runtimes.Current.Catalog.WildcardName(parsed.Model)));
        using var request = new HttpRequestMessage(HttpMethod.Post, Providers.Anthropic.AnthropicTranslator.CountTokensUri(d.Options.ApiBase))
        {
            Content = UpstreamContent.WithModel(body.Memory, parsed, modelToken),
        };
        Providers.Anthropic.AnthropicTranslator.AddDirectHeaders(request, d.Options, AnthropicPassthrough.ClientHeaders(context.Request));
        request.Headers.TryAddWithoutValidation("x-request-id", requestId);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        timeout.CancelAfter(d.Options.Timeout ?? TimeSpan.FromSeconds(30));
        try
        {
            using var response = await d.Invoker.SendAsync(request, timeout.Token);
            if (!response.IsSuccessStatusCode) return false;
            var answer = await response.Content.ReadAsByteArrayAsync(timeout.Token);
            context.Response.ContentType = "application/json";
            await context.Response.Body.WriteAsync(answer, context.RequestAborted);
            return true;
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException && !context.RequestAborted.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <param name="refusedCaller">Who was refused before an exchange existed (a bad body, a model not allowed, a limit), for the live log.</param>
    private async Task FinishAsync(HttpContext context, LlmExchange? x, ApiError? error, string model, LlmOperation operation, string requestId, long start, Caller? refusedCaller = null)
    {
        if (error is not null)
        {
            try
            {
                await ErrorWriter.WriteAsync(context.Response, error, anthropic: operation == LlmOperation.Messages);
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException) { }
        }
        var status = error?.Status ?? x?.Status ?? context.Response.StatusCode;
        var elapsed = Stopwatch.GetElapsedTime(start);
        if (Activity.Current is { Source.Name: GatewayTracing.SourceName } span)
        {
            span.SetTag("gen_ai.request.model", model);
            span.SetTag("http.response.status_code", status);
            if (x is not null)
            {
                span.SetTag("agw.attempts", x.Attempts);
                span.SetTag("agw.fallbacks", x.Fallbacks);
                if (x.Deployment is { } d) { span.SetTag("agw.deployment", d.Id); span.SetTag("gen_ai.system", d.ProviderName); }
                if (x.Usage is { } u) { span.SetTag("gen_ai.usage.input_tokens", u.PromptTokens); span.SetTag("gen_ai.usage.output_tokens", u.CompletionTokens); }
            }
            if (error is not null) { span.SetStatus(ActivityStatusCode.Error, error.Message); span.SetTag("error.type", error.Code ?? error.Type); }
        }
        if (x?.Deployment is not null) metrics.Overhead(OperationLabel(operation), x.OverheadSeconds);
        var caller = x?.Caller ?? refusedCaller;
        recent.Add(new RequestRecord
        {
            Time = DateTimeOffset.UtcNow, RequestId = requestId, Operation = OperationLabel(operation),
            KeyAlias = caller?.Key?.KeyAlias, KeyName = caller is null ? null : caller.Key?.KeyName ?? (caller.IsAdmin ? "master_key" : null),
            TeamId = caller?.Key?.TeamId, UserId = caller?.Key?.UserId,
            Model = model, Deployment = x?.Deployment?.Id, Provider = x?.Deployment?.ProviderName,
            Status = status, ErrorCode = error?.Code ?? error?.Type, LatencyMs = elapsed.TotalMilliseconds,
            PromptTokens = x?.Usage?.PromptTokens ?? 0, CompletionTokens = x?.Usage?.CompletionTokens ?? 0, CostNanos = x?.CostNanos ?? 0,
            Stream = x?.Request.Stream ?? false,
        });
        if (logger.IsEnabled(LogLevel.Information))
        {
            var key = x?.Caller?.Key;
            Log.Access(logger, context.Request.Method, context.Request.Path.Value ?? "", status, key?.KeyAlias ?? (x?.Caller?.IsAdmin == true ? "master_key" : "-"), key?.TeamId ?? "-",
                model, x?.Deployment?.Id ?? "-", x?.Attempts ?? 0, x?.Usage?.PromptTokens ?? 0, x?.Usage?.CompletionTokens ?? 0, Money.FromNanos(x?.CostNanos ?? 0),
                elapsed.TotalMilliseconds, (x?.OverheadSeconds ?? 0) * 1000, requestId);
        }
    }

    /// <summary>gen_ai.operation.name values.</summary>
    internal static string OperationName(LlmOperation operation) => operation switch
    {
        LlmOperation.ChatCompletions or LlmOperation.Messages => "chat",
        LlmOperation.Completions => "text_completion",
        _ => "embeddings",
    };

    private static string OperationLabel(LlmOperation operation) => operation switch
    {
        LlmOperation.ChatCompletions => "chat_completions",
        LlmOperation.Completions => "completions",
        LlmOperation.Messages => "messages",
        _ => "embeddings",
    };

    /// <summary>The 404 for an unknown model, naming only the models this caller may use (as GET /v1/models does).</summary>
    private static ApiError ModelNotFound(GatewayRuntime runtime, string model, Caller caller)
    {
        var available = string.Join(", ", runtime.Catalog.PublicModels().Where(m => caller.MayUse(m.Id, m.Id)).Select(m => m.Id).Order(StringComparer.Ordinal));
        return new ApiError(404, $"The model '{model}' does not exist on this gateway. Available models: {available}.", "invalid_request_error", "model_not_found", "model");
    }
}
