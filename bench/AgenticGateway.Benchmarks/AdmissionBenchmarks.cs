using AgenticGateway.Keys;
using AgenticGateway.Limits;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Pipeline.Middlewares;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;
using AgenticGateway.Services.Llm;

namespace AgenticGateway.Benchmarks;

/// <summary>
/// Admission of one request of a virtual key and its settlement when it ends, on this node's own counters (no Redis):
/// the router's in-flight, rate-limit and budget middlewares around a service that reports the real usage and cost,
/// as the pipeline runs them.
/// </summary>
[MemoryDiagnoser]
public class AdmissionBenchmarks
{
    private static readonly Usage Used = new(120, 380);
    private BenchGateway _gateway = null!;
    private LlmRequest _llm = null!;
    private Caller _caller = null!;
    private IRouterMiddleware[] _chain = [];
    private DefaultHttpContext _http = null!;
    private RequestDelegate _service = null!;

    /// <summary>The limits the key carries: none (the fast path), rate limits alone, or rate limits, max parallel requests and a budget.</summary>
    [Params("none", "rpm+tpm", "rpm+tpm+budget")]
    public string Limits { get; set; } = "";

    [GlobalSetup]
    public async Task Setup()
    {
        _gateway = new BenchGateway("  - {name: gpt-4o, provider: mock}\n");
        _llm = await _gateway.LlmRequestAsync("""{"model":"gpt-4o","max_tokens":500,"messages":[{"role":"user","content":"hello there"}]}"""u8.ToArray(), new Reservation(1_000, 0.01m));
        // Limits far above what a run reaches: every request is admitted, so the benchmark measures the bookkeeping.
        var limits = Limits switch
        {
            "none" => LimitSettings.None,
            "rpm+tpm" => new LimitSettings { RpmLimit = 1_000_000_000, TpmLimit = 1_000_000_000_000 },
            _ => new LimitSettings { RpmLimit = 1_000_000_000, TpmLimit = 1_000_000_000_000, MaxBudget = 1_000_000_000m, MaxParallelRequests = 1_000 },
        };
        var key = new VirtualKey { Token = VirtualKey.HashOf("sk-bench-" + Limits), KeyName = "sk-...nch", Limits = limits, CreatedAt = DateTimeOffset.UtcNow };
        _caller = new Caller(false, new KeyIdentity(key, null, null));
        _chain = [new InFlightMiddleware(_gateway.Get<ParallelRequests>()), new RateLimitMiddleware(_gateway.Get<RateLimits>()), new BudgetMiddleware(_gateway.Get<Budgets>())];
        _http = new DefaultHttpContext();
        // The chat route's metadata, as routing sets it: the limit middlewares act on billable LLM routes only.
        _http.SetEndpoint(new Endpoint(null, new EndpointMetadataCollection(GatewayRoute.Llm("chat", RoutePayload.LlmChat)), "chat"));
        _http.Features.Set(_caller);
        _http.Features.Set(_llm);
        // The service: the answer's usage and cost, which the middlewares settle to on the way out.
        _service = context =>
        {
            var x = new LlmExchange(context, _llm, _caller, "req-bench", 0) { Usage = Used, CostNanos = 4_000_000 };
            // As the LLM service does: the limit middlewares read the outcome through ILlmOutcome.
            context.Features.Set<ILlmOutcome>(x);
            return Task.CompletedTask;
        };
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        _llm.Body.Dispose();
        await _gateway.DisposeAsync();
    }

    [Benchmark]
    public async Task<bool> AdmitAndSettle()
    {
        var refused = await new RouterNext(_chain, 0, _service).InvokeAsync(_http);
        if (refused is not null) throw new InvalidOperationException(refused.Message);
        return true;
    }
}
