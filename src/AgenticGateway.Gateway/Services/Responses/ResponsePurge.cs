using AgenticGateway.Responses;

namespace AgenticGateway.Services.Responses;

/// <summary>
/// Deletes expired stored responses every <see cref="Interval"/>. Reads already treat an expired response as gone, so
/// this only gives the space back; a failed run (the database down) is logged and the next one catches up.
/// </summary>
internal sealed partial class ResponsePurge(IResponseStore store, TimeProvider time, ILogger<ResponsePurge> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(10);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken)) await PurgeAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
    }

    /// <summary>Deletes everything expired by now, one bounded store call after another; returns how many went.</summary>
    public async Task<int> PurgeAsync(CancellationToken ct)
    {
        // A fixed "now": what expires while this runs waits for the next run, so the loop ends.
        var now = time.GetUtcNow();
        var total = 0;
        try
        {
            for (int n; (n = await store.PurgeExpiredAsync(now, ct)) > 0;) total += n;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The gateway keeps serving: a purge that fails costs disk space, never a request.
            PurgeFailed(logger, total, ex.Message);
            return total;
        }
        if (total > 0) Purged(logger, total);
        return total;
    }

    [LoggerMessage(290, LogLevel.Information, "Deleted {Count} expired stored response(s)")]
    private static partial void Purged(ILogger logger, int count);

    [LoggerMessage(291, LogLevel.Warning, "Cannot delete expired stored responses ({Count} deleted before the failure); trying again in the next run: {Reason}")]
    private static partial void PurgeFailed(ILogger logger, int count, string reason);
}
