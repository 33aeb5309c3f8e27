using System.Diagnostics;
using AgenticGateway.Keys;
using AgenticGateway.Observability;
using AgenticGateway.OpenAi;
using AgenticGateway.Routing;
using AgenticGateway.Spend;
using AgenticGateway.Ui;
using AgenticGateway.Pricing;

namespace AgenticGateway.Pipeline;

/// <summary>The request as the pipeline knows it, for every step: its id, when it began, its route and span, and the error it ended with.</summary>
internal sealed class GatewayRequest(string id, long startTimestamp, GatewayRoute route, Activity? span)
{
    public string Id { get; } = id;
    public long StartTimestamp { get; } = startTimestamp;
    public GatewayRoute Route { get; } = route;
    public Activity? Span { get; } = span;
    /// <summary>The error the request was answered with, once one was written (by <see cref="PipelineErrors"/>).</summary>
    public ApiError? Error { get; set; }
}

/// <summary>
/// Step 1, every route: accepts or mints the request id (echoed as x-request-id), opens the request's span, and when
/// the response is done writes the access log line, the span's outcome, and, for LLM calls, the admin UI's live log
/// entry and the overhead metric. What the later steps learned comes from their features: the caller
/// (<see cref="Caller"/>), the LLM request and its outcome (<see cref="ILlmOutcome"/>).
/// </summary>
internal sealed class RequestContextStep(RequestDelegate next, GatewayMetrics metrics, RecentRequests recent, ILogger<RequestContextStep> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var start = Stopwatch.GetTimestamp();
        var route = context.Route();
        var id = RequestIds.AcceptOrMint(context);
        using var span = GatewayTracing.StartRequest(context, route.Operation);
        span?.SetTag("agw.request_id", id);
        var request = new GatewayRequest(id, start, route, span);
        context.Features.Set(request);
        try
        {
            await next(context);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException && context.RequestAborted.IsCancellationRequested)
        {
            // The client went away (while its body was read or the answer written): nobody is left to answer.
            if (!context.Response.HasStarted) context.Response.StatusCode = StatusCodes.Status499ClientClosedRequest;
        }
        finally
        {
            Finish(context, request);
        }
    }

    private void Finish(HttpContext context, GatewayRequest request)
    {
        var x = context.Features.Get<ILlmOutcome>();
        var llm = context.Features.Get<LlmRequest>();
        var caller = context.Features.Get<Caller>();
        var error = request.Error;
        var status = error?.Status ?? (x?.Status is > 0 and var s ? s : context.Response.StatusCode);
        var elapsed = Stopwatch.GetElapsedTime(request.StartTimestamp);
        var model = llm?.Group.Name ?? "-";
        if (request.Span is { } span)
        {
            span.SetTag("http.response.status_code", status);
            if (llm is not null) span.SetTag("gen_ai.request.model", model);
            if (x is not null)
            {
                span.SetTag("agw.attempts", x.Attempts);
                span.SetTag("agw.fallbacks", x.Fallbacks);
                if (x.Deployment is { } d) { span.SetTag("agw.deployment", d.Id); span.SetTag("gen_ai.system", d.ProviderName); }
                if (x.Usage is { } u) { span.SetTag("gen_ai.usage.input_tokens", u.PromptTokens); span.SetTag("gen_ai.usage.output_tokens", u.CompletionTokens); }
            }
            if (error is not null) { span.SetStatus(ActivityStatusCode.Error, error.Message); span.SetTag("error.type", error.Code ?? error.Type); }
        }
        if (request.Route.Payload.Operation() is { } operation)
        {
            if (x?.Deployment is not null) metrics.Overhead(LlmOperations.Label(operation), x.OverheadSeconds);
            recent.Add(new RequestRecord
            {
                Time = DateTimeOffset.UtcNow, RequestId = request.Id, Operation = LlmOperations.Label(operation),
                KeyAlias = caller?.Key?.KeyAlias, KeyName = caller is null ? null : caller.Key?.KeyName ?? (caller.IsAdmin ? "master_key" : null),
                TeamId = caller?.Key?.TeamId, UserId = caller?.Key?.UserId,
                Model = model, Deployment = x?.Deployment?.Id, Provider = x?.Deployment?.ProviderName,
                Status = status, ErrorCode = error?.Code ?? error?.Type, LatencyMs = elapsed.TotalMilliseconds,
                PromptTokens = x?.Usage?.PromptTokens ?? 0, CompletionTokens = x?.Usage?.CompletionTokens ?? 0, CostNanos = x?.CostNanos ?? 0,
                Stream = llm?.Parsed.Stream ?? false,
            });
        }
        if (logger.IsEnabled(LogLevel.Information))
        {
            var key = caller?.Key;
            Log.Access(logger, context.Request.Method, context.Request.Path.Value ?? "", status, key?.KeyAlias ?? (caller?.IsAdmin == true ? "master_key" : "-"), key?.TeamId ?? "-",
                model, x?.Deployment?.Id ?? "-", x?.Attempts ?? 0, x?.Usage?.PromptTokens ?? 0, x?.Usage?.CompletionTokens ?? 0, Money.FromNanos(x?.CostNanos ?? 0),
                elapsed.TotalMilliseconds, (x?.OverheadSeconds ?? 0) * 1000, request.Id);
        }
    }
}
