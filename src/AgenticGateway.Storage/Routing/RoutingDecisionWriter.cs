using System.Diagnostics.Metrics;
using System.Threading.Channels;
using AgenticGateway.Policies;

namespace AgenticGateway.Routing;

/// <summary>
/// Takes routing decisions from the request path and stores them in batches, off it. The queue is bounded and a full
/// queue drops the decision at once (counted in <c>agw_routing_decisions_dropped_total{reason="queue_full"}</c>): unlike
/// spend, a decision is a sample for people to read, and no request may wait for the database because of one. A batch
/// the database refuses is retried a few times, then dropped and counted (<c>reason="write_failed"</c>); meanwhile
/// the queue fills and drops. On stop what is queued is stored, for a bounded time.
/// </summary>
internal sealed class RoutingDecisionWriter : BackgroundService, IRoutingDecisionSink
{
    public const int DefaultCapacity = 10_000;
    private const int MaxBatch = 500;
    private const int Attempts = 4;
    // Decisions come at a sampled rate: a fifth of a second gathers a batch without leaving the admin UI far behind.
    private static readonly TimeSpan BatchDelay = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan ShutdownBudget = TimeSpan.FromSeconds(10);

    private readonly Channel<RoutingDecision> _queue;
    private readonly RoutingDecisionStore _store;
    private readonly ILogger<RoutingDecisionWriter> _logger;
    private readonly Counter<long> _dropped;
    private readonly Counter<long> _written;
    private long _droppedCount;
    private long _writtenCount;

    public RoutingDecisionWriter(RoutingDecisionStore store, IMeterFactory meters, ILogger<RoutingDecisionWriter> logger, int capacity = DefaultCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _store = store;
        _logger = logger;
        Capacity = capacity;
        // Not SingleReader: the stop's flush may read while a loop that outlived the host's stop token still drains.
        _queue = Channel.CreateBounded<RoutingDecision>(new BoundedChannelOptions(capacity) { FullMode = BoundedChannelFullMode.Wait });
        var meter = meters.Create(Telemetry.TelemetryNames.Meter);
        _dropped = meter.CreateCounter<long>("agw.routing_decisions.dropped", "{decision}",
            "Routing decisions not stored: the queue was full (queue_full) or the database refused them (write_failed).");
        _written = meter.CreateCounter<long>("agw.routing_decisions.written", "{decision}", "Routing decisions stored in the routing_decisions table.");
    }

    public int Capacity { get; }

    /// <summary>Decisions waiting for the database.</summary>
    public int Pending => _queue.Reader.Count;

    /// <summary>Decisions dropped since start, for either reason.</summary>
    public long Dropped => Interlocked.Read(ref _droppedCount);

    /// <summary>Decisions stored since start.</summary>
    public long Written => Interlocked.Read(ref _writtenCount);

    /// <summary>Queues a decision; false (and counted) when the queue is full. Never waits.</summary>
    public bool TryWrite(RoutingDecision decision)
    {
        // TryWrite on a bounded channel in Wait mode answers false when full instead of waiting.
        if (_queue.Writer.TryWrite(decision)) return true;
        Drop(1, "queue_full");
        return false;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<RoutingDecision>(MaxBatch);
        var reader = _queue.Reader;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await reader.WaitToReadAsync(stoppingToken);
                // Let a batch gather: one transaction for many decisions costs far less than one each.
                if (reader.Count < MaxBatch) await Task.Delay(BatchDelay, stoppingToken);
            }
            catch (OperationCanceledException) { break; }
            try { await DrainOnceAsync(batch, stoppingToken); }
            catch (OperationCanceledException) { break; }
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        // After the loop has ended (or never ran: a host stopping at once cancels ExecuteAsync before it starts), store
        // what is queued, briefly; what is left then is dropped and counted.
        var batch = new List<RoutingDecision>(MaxBatch);
        using var last = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        last.CancelAfter(ShutdownBudget);
        try { while (_queue.Reader.Count > 0 && !last.IsCancellationRequested) await DrainOnceAsync(batch, last.Token); }
        catch (OperationCanceledException) { }
        var left = 0;
        while (_queue.Reader.TryRead(out _)) left++;
        if (left > 0)
        {
            Drop(left, "write_failed");
            RoutingDecisionMessages.LeftAtShutdown(_logger, left);
        }
    }

    private async Task DrainOnceAsync(List<RoutingDecision> batch, CancellationToken ct)
    {
        batch.Clear();
        while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var item)) batch.Add(item);
        if (batch.Count == 0) return;
        var delay = TimeSpan.FromMilliseconds(200);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                // The write itself is not cancelled (the drivers' timeouts bound it): a batch cut off half way would be
                // neither stored nor known to be lost. Only the wait between attempts ends early at shutdown.
                await _store.WriteBatchAsync(batch, CancellationToken.None);
                Interlocked.Add(ref _writtenCount, batch.Count);
                if (_written.Enabled) _written.Add(batch.Count);
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                if (attempt == Attempts)
                {
                    Drop(batch.Count, "write_failed");
                    RoutingDecisionMessages.BatchDropped(_logger, batch.Count, Attempts, ex.Message);
                    return;
                }
                RoutingDecisionMessages.WriteFailed(_logger, batch.Count, delay.TotalSeconds, ex.Message);
                try { await Task.Delay(delay, ct); }
                catch (OperationCanceledException)
                {
                    Drop(batch.Count, "write_failed");
                    throw;
                }
                delay *= 2;
            }
        }
    }

    private void Drop(int count, string reason)
    {
        Interlocked.Add(ref _droppedCount, count);
        if (_dropped.Enabled) _dropped.Add(count, new KeyValuePair<string, object?>("reason", reason));
    }
}

/// <summary>Log messages of the routing decisions' storage, defined once with their event ids.</summary>
internal static partial class RoutingDecisionMessages
{
    [LoggerMessage(2150, LogLevel.Warning, "Writing {Count} routing decisions failed, retrying in {DelaySeconds:F1}s: {Message}")]
    public static partial void WriteFailed(ILogger logger, int count, double delaySeconds, string message);

    [LoggerMessage(2151, LogLevel.Error, "Dropped {Count} routing decisions after {Attempts} failed writes: {Message}")]
    public static partial void BatchDropped(ILogger logger, int count, int attempts, string message);

    [LoggerMessage(2152, LogLevel.Warning, "Dropped {Count} routing decisions still queued at shutdown")]
    public static partial void LeftAtShutdown(ILogger logger, int count);

    [LoggerMessage(2153, LogLevel.Information, "Deleted {Count} routing decisions older than {Cutoff:O} (routing_policies.decision_retention)")]
    public static partial void Purged(ILogger logger, long count, DateTimeOffset cutoff);

    [LoggerMessage(2154, LogLevel.Warning, "Deleting old routing decisions failed; next try in an hour: {Message}")]
    public static partial void PurgeFailed(ILogger logger, string message);
}
