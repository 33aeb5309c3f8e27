using AgenticGateway.Keys;
using AgenticGateway.OpenAi;
using AgenticGateway.Providers.Anthropic.Inbound;
using AgenticGateway.Routing;
using AgenticGateway.Spend;
using AgenticGateway.Pipeline;
using AgenticGateway.Configuration;

namespace AgenticGateway.Services.Llm;

/// <summary>
/// Step 5 of the LLM routes: the call. It sends the <see cref="LlmRequest"/> to a deployment of its group
/// (<see cref="UpstreamDispatcher"/>: routing, retries, fallbacks; <see cref="ResponseRelay"/>: the answer), and
/// records its spend, once: just before a whole answer is released, else (streams, failures) when the call ends.
/// The outcome is the <see cref="LlmExchange"/> feature.
/// </summary>
/// <summary>What a call the gateway made itself came to: the exchange (usage, cost), its error, or its answer's bytes.</summary>
internal sealed record CapturedAnswer(LlmExchange Exchange, ApiError? Error, byte[] Body);

internal sealed class LlmService(UpstreamDispatcher dispatcher, SpendRecorder spend)
{
    public Task CallAsync(HttpContext context) => CallAsync(context, null, null);

    /// <summary>
    /// The call, for a Responses API request too (<paramref name="responses"/>): <paramref name="beforeAnswer"/> runs
    /// after the spend is recorded and before a JSON answer is released (the Responses service stores it there).
    /// </summary>
    public async Task<LlmExchange> CallAsync(HttpContext context, ResponsesCall? responses, Func<LlmExchange, ValueTask>? beforeAnswer)
    {
        var llm = context.Features.Get<LlmRequest>()!;
        var request = context.Features.Get<GatewayRequest>()!;
        var x = new LlmExchange(context, llm, context.Features.Get<Caller>()!, request.Id, request.StartTimestamp)
        {
            BeforeAnswer = beforeAnswer is null ? _record : async e => { await _record(e); await beforeAnswer(e); },
            Responses = responses,
        };
        context.Features.Set<ILlmOutcome>(x);
        ApiError? error = null;
        try
        {
            error = await dispatcher.DispatchAsync(x);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException && context.RequestAborted.IsCancellationRequested)
        {
            // The client went away (while the answer was written); the upstream call went with it.
            x.Status = StatusCodes.Status499ClientClosedRequest;
        }
        finally
        {
            if (error is not null) x.Status = error.Status;
            await _record(x);
        }
        if (error is not null) await PipelineErrors.WriteAsync(context, error);
        return x;
    }

    /// <summary>
    /// One call made by the gateway itself (a turn of a hosted-tool loop, a background response): routed, retried,
    /// limited by the group's deployments and priced and logged like a client's, but never streamed and with the answer
    /// captured instead of written to a client. <paramref name="origin"/> lends its headers (tags, trace context).
    /// </summary>
    public async Task<CapturedAnswer> CallCapturedAsync(HttpRequest? origin, LlmRequest llm, Caller caller, string requestId, ResponsesCall? responses, CancellationToken ct)
    {
        var http = new DefaultHttpContext { RequestAborted = ct };
        if (origin is not null)
        {
            foreach (var name in (ReadOnlySpan<string>)["x-litellm-tags", "traceparent", "tracestate"])
                if (origin.Headers.TryGetValue(name, out var value)) http.Request.Headers[name] = value;
        }
        var body = new MemoryStream();
        http.Response.Body = body;
        var x = new LlmExchange(http, llm, caller, requestId, System.Diagnostics.Stopwatch.GetTimestamp()) { BeforeAnswer = _record, Responses = responses };
        ApiError? error = null;
        try
        {
            error = await dispatcher.DispatchAsync(x);
        }
        finally
        {
            if (error is not null) x.Status = error.Status;
            await _record(x);
        }
        return new CapturedAnswer(x, error, body.ToArray());
    }

    // One delegate for the service's lifetime: a method group converted per request would allocate one each time.
    private readonly Func<LlmExchange, ValueTask> _record = spend.RecordAsync;

    /// <summary>
    /// <c>POST /v1/messages/count_tokens</c>: Anthropic counts for an Anthropic deployment (the request passed through),
    /// the gateway's estimate for any other. Costs nothing and takes no rate-limit budget, as on Anthropic.
    /// </summary>
    public async Task CountTokensAsync(HttpContext context)
    {
        var llm = context.Features.Get<LlmRequest>()!;
        var anthropic = Array.Find(llm.Group.Deployments, d => d.Provider.Wire == ProviderWire.Anthropic);
        if (anthropic is not null && await CountOnAnthropicAsync(context, llm, anthropic)) return;
        var tokens = AnthropicTokenCounter.Estimate(llm.Body.Span);
        context.Response.ContentType = "application/json";
        context.Response.Headers["x-agw-token-count"] = "estimated";
        await context.Response.WriteAsync($"{{\"input_tokens\":{tokens}}}", context.RequestAborted);
    }

    /// <summary>Asks Anthropic; false (so the estimate answers instead) when it cannot be reached or fails.</summary>
    private static async Task<bool> CountOnAnthropicAsync(HttpContext context, LlmRequest llm, Deployment d)
    {
        var modelToken = d.WildcardPrefix is null ? d.UpstreamModelJson : Deployment.QuoteJson(d.UpstreamModel(llm.Runtime.Catalog.WildcardName(llm.Parsed.Model)));
        using var request = new HttpRequestMessage(HttpMethod.Post, Providers.Anthropic.AnthropicTranslator.CountTokensUri(d.Options.ApiBase))
        {
            Content = UpstreamContent.WithModel(llm.Body.Memory, llm.Parsed, modelToken),
        };
        Providers.Anthropic.AnthropicTranslator.AddDirectHeaders(request, d.Options, AnthropicPassthrough.ClientHeaders(context.Request));
        request.Headers.TryAddWithoutValidation("x-request-id", context.RequestId());
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
}
