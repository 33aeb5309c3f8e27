namespace AgenticGateway.Routing;

/// <summary>
/// Deletes routing decisions older than <c>routing_policies.decision_retention</c> (default 30 days), at start and then
/// hourly, in bounded batches. The retention is read on every pass, so a config reload changes it. Without routing
/// policies nothing is written and the database is not touched (a gateway that stores nothing creates no database).
/// </summary>
internal sealed class RoutingDecisionRetention(RoutingDecisionStore store, Func<TimeSpan?> retention, TimeProvider time, ILogger<RoutingDecisionRetention> logger)
    : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromHours(1);
    private const int Batch = 5_000;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        try
        {
            do
            {
                try { await PurgeAsync(stoppingToken); }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // The next pass tries again; a database that is down now must not end the service.
                    RoutingDecisionMessages.PurgeFailed(logger, ex.Message);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
    }

    /// <summary>One pass: every decision older than the retention; returns how many were deleted.</summary>
    public async Task<long> PurgeAsync(CancellationToken ct)
    {
        if (retention() is not { } keep) return 0;
        var cutoff = time.GetUtcNow() - keep;
        long total = 0;
        int deleted;
        do
        {
            deleted = await store.PurgeBeforeAsync(cutoff, Batch, ct);
            total += deleted;
        }
        while (deleted == Batch);
        if (total > 0) RoutingDecisionMessages.Purged(logger, total, cutoff);
        return total;
    }
}
