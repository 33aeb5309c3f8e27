using System.Threading.Channels;

namespace AgenticGateway.Spend;

/// <summary>
/// Moves spend logs from the bounded queue to the database in batches, off the response path. A failed batch is
/// retried with backoff while requests go on (the queue fills, then records stay only in the write-ahead file and are
/// replayed from it). Segments left by an earlier process are replayed before the gateway starts serving.
/// </summary>
internal sealed class SpendWriter(Channel<(SpendLog Log, long Seq)> queue, SpendWal wal, SpendStore store, ILogger<SpendWriter> logger) : BackgroundService
{
    public const int QueueCapacity = 50_000;
    private const int MaxBatch = 2000;
    // A quarter of a second of logs per transaction: the spend table's ten b-trees (three on random ids) get each dirty
    // page written once per commit, so larger batches write fewer pages per log (and checkpoint less often). Budgets
    // and limits never wait for this: they count in memory (or Redis) at once.
    private static readonly TimeSpan BatchDelay = TimeSpan.FromMilliseconds(250);

    public static Channel<(SpendLog Log, long Seq)> CreateQueue() =>
        Channel.CreateBounded<(SpendLog, long)>(new BoundedChannelOptions(QueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    public int Pending => queue.Reader.Count;

    /// <summary>The sequence number of the last record stored through the queue.</summary>
    public long CommittedSeq => Interlocked.Read(ref _committedSeq);
    private long _committedSeq;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        // What a crashed or killed process acknowledged is stored before this one answers anything.
        // If the database cannot be reached for a while, start anyway: the loop keeps replaying until it can.
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(TimeSpan.FromSeconds(15));
        try { await ReplayAsync(wal.Recovered.ToList(), limit.Token); }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested) { }
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<SpendLog>(MaxBatch);
        var reader = queue.Reader;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (!reader.TryPeek(out _) && !wal.HasDropped && wal.Recovered.Count == 0)
                    await reader.WaitToReadAsync(stoppingToken);
                // Let a batch gather: one transaction for many logs costs far less than one each, and nothing waits on it.
                if (reader.Count < MaxBatch) await Task.Delay(BatchDelay, stoppingToken);
            }
            catch (OperationCanceledException) { break; }
            await DrainOnceAsync(batch, stoppingToken);
        }
        // Shutting down: store what is queued, briefly; the rest stays in the write-ahead file for the next start.
        using var last = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try { while (queue.Reader.Count > 0) await DrainOnceAsync(batch, last.Token); }
        catch (OperationCanceledException) { }
    }

    private async Task DrainOnceAsync(List<SpendLog> batch, CancellationToken ct)
    {
        batch.Clear();
        long lastSeq = 0;
        while (batch.Count < MaxBatch && queue.Reader.TryRead(out var item))
        {
            batch.Add(item.Log);
            lastSeq = item.Seq;
        }
        if (batch.Count > 0)
        {
            await WithRetryAsync(batch.Count, () => store.WriteBatchAsync(batch, ct), ct);
            Interlocked.Exchange(ref _committedSeq, lastSeq);
            wal.Committed(lastSeq);
        }
        // Records the full queue could not take, and segments a replay could not finish earlier, come from the file.
        if (wal.HasDropped || wal.Recovered.Count > 0)
        {
            await ReplayAsync(wal.SealForReplay().Concat(wal.Recovered).Distinct().ToList(), ct);
            wal.ReplayDone();
        }
    }

    private async Task ReplayAsync(IReadOnlyList<string> segments, CancellationToken ct)
    {
        foreach (var segment in segments)
        {
            var count = 0;
            foreach (var chunk in SpendWal.Read(segment).Chunk(MaxBatch))
            {
                await WithRetryAsync(chunk.Length, () => store.WriteBatchAsync(chunk, ct), ct);
                count += chunk.Length;
            }
            wal.Replayed(segment);
            if (count > 0) SpendLogMessages.SpendReplayed(logger, count, Path.GetFileName(segment));
        }
    }

    private async Task WithRetryAsync(int count, Func<Task> write, CancellationToken ct)
    {
        var delay = TimeSpan.FromMilliseconds(200);
        while (true)
        {
            try
            {
                await write();
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                SpendLogMessages.SpendWriteFailed(logger, count, delay.TotalSeconds, ex.Message);
                await Task.Delay(delay, ct);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 5000));
            }
        }
    }
}
