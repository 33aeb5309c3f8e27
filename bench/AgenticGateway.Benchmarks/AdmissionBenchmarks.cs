using AgenticGateway.Keys;
using AgenticGateway.Limits;
using AgenticGateway.OpenAi;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;

namespace AgenticGateway.Benchmarks;

/// <summary>
/// Admission of one request of a virtual key and its settlement when it ends, on this node's own counters (no Redis):
/// the key's parallel slot, rate limits (rpm, tpm) and budget reservation, then the real usage and cost settled.
/// </summary>
[MemoryDiagnoser]
public class AdmissionBenchmarks
{
    private static readonly Usage Used = new(120, 380);
    private BenchGateway _gateway = null!;
    private Admission _admission = null!;
    private Caller _caller = null!;
    private DefaultHttpContext _http = null!;

    /// <summary>The limits the key carries: none (the fast path), rate limits alone, or rate limits and a budget.</summary>
    [Params("none", "rpm+tpm", "rpm+tpm+budget")]
    public string Limits { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        _gateway = new BenchGateway("  - {name: gpt-4o, provider: mock}\n");
        _admission = _gateway.Get<Admission>();
        // Limits far above what a run reaches: every request is admitted, so the benchmark measures the bookkeeping.
        var limits = Limits switch
        {
            "none" => LimitSettings.None,
            "rpm+tpm" => new LimitSettings { RpmLimit = 1_000_000_000, TpmLimit = 1_000_000_000_000 },
            _ => new LimitSettings { RpmLimit = 1_000_000_000, TpmLimit = 1_000_000_000_000, MaxBudget = 1_000_000_000m, MaxParallelRequests = 1_000 },
        };
        var key = new VirtualKey { Token = VirtualKey.HashOf("sk-bench-" + Limits), KeyName = "sk-...nch", Limits = limits, CreatedAt = DateTimeOffset.UtcNow };
        _caller = new Caller(false, new KeyIdentity(key, null, null));
        _http = new DefaultHttpContext();
    }

    [GlobalCleanup]
    public async Task Cleanup() => await _gateway.DisposeAsync();

    [Benchmark]
    public async Task<bool> AdmitAndSettle()
    {
        var (ticket, error) = await _admission.AdmitAsync(_caller, reservedTokens: 1_000, reservedCost: 0.01m, _http.Response, CancellationToken.None);
        if (error is not null) throw new InvalidOperationException(error.Message);
        if (ticket is null) return false;
        await _admission.SettleAsync(ticket, Used, costNanos: 4_000_000);
        return true;
    }
}
