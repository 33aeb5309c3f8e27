using System.Globalization;
using System.Runtime.CompilerServices;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Pricing;
using AgenticGateway.Routing;
using AgenticGateway.Spend;

namespace AgenticGateway.Services.Llm;

/// <summary>
/// Prices a finished request and records its spend log. For a JSON response this runs before the body is released,
/// so the cost goes out in x-agw-response-cost and a client that got its answer is guaranteed a spend log (the
/// write-ahead append is awaited before the body is released). Streams and failures are recorded when they end.
/// </summary>
internal sealed class SpendRecorder(SpendWal wal, TimeProvider time, Observability.GatewayMetrics metrics)
{
    // Once per request: the pooling builder reuses the state machine instead of allocating one per await.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask RecordAsync(LlmExchange x)
    {
        if (x.SpendRecorded) return;
        x.SpendRecorded = true;
        // A child span of the request: pricing and the write-ahead append of its spend log.
        using var span = Observability.GatewayTracing.Source.StartActivity("spend");
        // A deployment is set once its answer was committed to the client: that answer is charged, even when the
        // client left mid-stream, and a provider that reported no usage is charged the prompt estimate.
        var served = x.Deployment;
        if (served is not null && x.Usage is null && x.Operation is not (LlmOperation.Embeddings or LlmOperation.Rerank))
            x.Usage = new Usage(x.EstimatedPromptTokens > 0 ? x.EstimatedPromptTokens : TokenEstimator.EstimatePromptTokens(x.Body.Span), 0);
        // A stream cut short (the client left, the upstream broke, the gateway ended it) may not have its final usage:
        // what the client received is charged at least, a token an event, so leaving early is never free output.
        if (served is not null && x.Request.Stream && !x.StreamFinished && x.Usage is { } partial && partial.CompletionTokens < x.StreamedEvents)
            x.Usage = partial with { CompletionTokens = x.StreamedEvents };
        var usage = x.Usage;
        var price = served?.PriceFor(x.UpstreamModel ?? served.Options.Model);
        var cost = usage is { } u && price is not null ? price.Cost(u) : 0m;
        x.CostNanos = Money.ToNanos(cost);
        span?.SetTag("agw.cost_usd", (double)cost);
        if (served is not null) metrics.Cost(served.ProviderName, served.GroupName, cost);
        var response = x.Http.Response;
        if (!response.HasStarted)
        {
            var text = cost.ToString("0.##########", CultureInfo.InvariantCulture);
            response.Headers["x-agw-response-cost"] = text;
            if (x.Runtime.Options.Server.LiteLlmHeaders) response.Headers["x-litellm-response-cost"] = text;
        }
        var key = x.Caller?.Key;
        var identity = x.Caller?.Identity;
        var end = time.GetUtcNow();
        var elapsedMs = x.ElapsedMs;
        await wal.AppendAsync(new SpendLog
        {
            LogId = Guid.CreateVersion7().ToString("N"),
            RequestId = x.RequestId,
            ApiKey = key?.Token ?? (x.Caller is { IsAdmin: true } ? "master_key" : "anonymous"),
            KeyAlias = key?.KeyAlias,
            UserId = key?.UserId,
            TeamId = key?.TeamId,
            TeamAlias = identity?.Team?.TeamAlias,
            OrganizationId = identity?.Team?.OrganizationId,
            ResponseId = x.ResponseId,
            Model = x.Request.Model,
            ModelGroup = x.Deployment?.GroupName ?? x.RequestedGroup.Name,
            Deployment = x.Deployment?.Id,
            Provider = x.Deployment?.ProviderName,
            CallType = LlmOperations.Name(x.Operation),
            PromptTokens = usage?.PromptTokens ?? 0,
            CompletionTokens = usage?.CompletionTokens ?? 0,
            CostNanos = x.CostNanos,
            Status = x.Status,
            LatencyMs = Math.Round(elapsedMs, 3),
            Stream = x.Request.Stream,
            CacheHit = x.CacheHit,
            Tags = key?.Tags ?? [],
            StartTime = end - TimeSpan.FromMilliseconds(elapsedMs),
            EndTime = end,
        });
    }
}
