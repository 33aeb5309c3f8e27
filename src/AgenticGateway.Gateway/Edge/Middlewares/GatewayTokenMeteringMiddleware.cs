using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using AgenticGateway.Keys;
using AgenticGateway.Metering;
using AgenticGateway.OpenAi;
using AgenticGateway.Pricing;
using AgenticGateway.Runtime;
using AgenticGateway.Spend;
using Microsoft.AspNetCore.Http.Features;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// <c>tokenMetering</c>: counts the tokens of LLM traffic passing through a router to any HTTP service (an agent, a
/// model server, a provider): the answer's usage (OpenAI, Anthropic, Gemini, Cohere, Bedrock JSON or SSE) is read from
/// its bytes as they go to the client, never held back. Counted as metrics (<c>edge.tokens</c>, <c>edge.cost</c>,
/// <c>edge.llm_requests</c>) per router, key (alias), agent (the <c>agentHeader</c>, default x-agent-id, else the key's
/// alias) and session (the <c>sessionHeader</c>, default x-session-id); and, when gatewayAuth named a caller, as a
/// spend log row priced by the model the answer names (<c>spend: false</c> turns that off). Options: agentHeader,
/// sessionHeader, spend.
/// </summary>
internal sealed class GatewayTokenMeteringMiddleware : IEdgeMiddlewareType
{
    public string Name => "tokenMetering";
    public const string CallType = "edge";

    public EdgeMiddleware? Build(EdgeOptions options, EdgeBuildContext context)
    {
        var agentHeader = options.String("agentHeader") ?? "x-agent-id";
        var sessionHeader = options.String("sessionHeader") ?? "x-session-id";
        var spend = options.Bool("spend") ?? true;
        options.ReportUnknown();
        var meters = GatewayEdgeMeters.Of(context.Services.GetRequiredService<IMeterFactory>());
        var wal = context.Services.GetRequiredService<SpendWal>();
        var runtimes = context.Services.GetRequiredService<RuntimeHolder>();
        var router = context.Router;
        var time = context.Time;
        return next => async http =>
        {
            var start = Stopwatch.GetTimestamp();
            var original = http.Features.Get<IHttpResponseBodyFeature>()!;
            var tap = new MeteringStream(original.Stream, http.Response);
            var feature = new StreamResponseBodyFeature(tap, original);
            http.Features.Set<IHttpResponseBodyFeature>(feature);
            try
            {
                await next(http);
                await feature.CompleteAsync();
            }
            finally
            {
                http.Features.Set(original);
                tap.Scanner?.Complete();
                if (tap.Scanner?.Usage is { } usage)
                {
                    var caller = http.Features.Get<Caller>();
                    var model = tap.Scanner.Model;
                    var cost = model is not null && PriceOf(runtimes.Current, model) is { } price ? price.Cost(usage) : 0m;
                    if (http.Features.Get<GatewayMeteredUsage>() is { } metered)
                    {
                        metered.Usage = usage;
                        metered.Cost = cost;
                    }
                    var key = caller?.Key?.KeyAlias ?? caller?.Key?.KeyName ?? (caller is { IsAdmin: true } ? "master_key" : "");
                    var agent = Header(http, agentHeader) ?? caller?.Key?.KeyAlias ?? "";
                    var session = Header(http, sessionHeader) ?? "";
                    meters.Record(router, key, agent, session, model ?? "", usage, cost);
                    if (spend && caller is not null)
                    {
                        var requestId = Header(http, "x-request-id") ?? http.TraceIdentifier;
                        await wal.AppendAsync(SpendLog.ForCaller(caller, requestId, model ?? "", CallType, time.GetUtcNow(), Stopwatch.GetElapsedTime(start).TotalMilliseconds) with
                        {
                            ModelGroup = router,
                            Provider = "edge",
                            PromptTokens = usage.PromptTokens,
                            CompletionTokens = usage.CompletionTokens,
                            CostNanos = Money.ToNanos(cost),
                            Status = http.Response.StatusCode,
                            Stream = tap.Streamed,
                        });
                    }
                }
            }
        };
    }

    private static string? Header(HttpContext http, string name)
    {
        var value = http.Request.Headers[name];
        return value.Count > 0 && value[0] is { Length: > 0 } v ? v : null;
    }

    /// <summary>A configured model's price (by its upstream or public name), else the built-in price list's.</summary>
    private static ModelPrice? PriceOf(GatewayRuntime runtime, string model)
    {
        foreach (var d in runtime.AllDeployments)
            if (d.Options.Model == model || d.Options.ModelName == model) return d.PriceFor(model);
        return PriceBook.Find(model);
    }

    /// <summary>
    /// Passes every write straight on to the client and hands the same bytes to a usage scanner, chosen by the answer's
    /// content type once the first byte is written; a failed answer (not 2xx) is not read.
    /// </summary>
    private sealed class MeteringStream(Stream inner, HttpResponse response) : Stream
    {
        private bool _started;
        public UsageScanner? Scanner { get; private set; }
        public bool Streamed { get; private set; }

        private void Observe(ReadOnlySpan<byte> data)
        {
            if (!_started)
            {
                _started = true;
                if (response.StatusCode is >= 200 and < 300 && response.Headers.ContentEncoding.Count == 0)
                {
                    Scanner = UsageScanner.For(response.ContentType);
                    Streamed = response.ContentType?.StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase) == true;
                }
            }
            Scanner?.Feed(data);
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await inner.WriteAsync(buffer, cancellationToken);
            Observe(buffer.Span);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count)
        {
            inner.Write(buffer, offset, count);
            Observe(buffer.AsSpan(offset, count));
        }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            inner.Write(buffer);
            Observe(buffer);
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public override void Flush() => inner.Flush();
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}

/// <summary>
/// The edge's token meters, on the gateway's meter (so /metrics shows them): one set per meter factory, however many
/// routers and reloads build tokenMetering middlewares.
/// </summary>
internal sealed class GatewayEdgeMeters
{
    private static readonly ConditionalWeakTable<IMeterFactory, GatewayEdgeMeters> Instances = new();

    private readonly Counter<long> _tokens;
    private readonly Counter<double> _cost;
    private readonly Counter<long> _requests;

    private GatewayEdgeMeters(IMeterFactory factory)
    {
        var meter = factory.Create(AgenticGateway.Observability.GatewayMetrics.MeterName);
        _tokens = meter.CreateCounter<long>("edge.tokens", "{token}", "Tokens of LLM answers passing through edge routers, by router, key, agent, session and direction.");
        _cost = meter.CreateCounter<double>("edge.cost", "USD", "What the metered LLM answers cost at their models' prices.");
        _requests = meter.CreateCounter<long>("edge.llm_requests", "{request}", "LLM answers metered by edge routers.");
    }

    public static GatewayEdgeMeters Of(IMeterFactory factory) => Instances.GetValue(factory, f => new GatewayEdgeMeters(f));

    public void Record(string router, string key, string agent, string session, string model, Usage usage, decimal cost)
    {
        var tags = new TagList { { "router", router }, { "key", key }, { "agent", agent }, { "session", session }, { "model", model } };
        _requests.Add(1, tags);
        if (cost > 0) _cost.Add((double)cost, tags);
        tags.Add("direction", "input");
        _tokens.Add(usage.PromptTokens, tags);
        tags[5] = new KeyValuePair<string, object?>("direction", "output");
        _tokens.Add(usage.CompletionTokens, tags);
    }
}
