using System.Threading.Channels;

namespace AgenticGateway.Caching;

/// <summary>
/// Stores answers in a shared cache off the response path: the request enqueues its entry and returns, and this
/// background loop writes it (and indexes its prompt for the semantic cache). The queue is bounded; when it is full
/// the entry is dropped and counted — a store is best effort, a later identical request simply misses and is stored
/// then. Entries in the queue when the gateway stops are written before it exits.
/// </summary>
internal sealed partial class CacheWriter(CacheStores stores, Runtime.RuntimeHolder runtimes, ILogger<CacheWriter> logger) : BackgroundService
{
    internal const int Capacity = 1024;

    internal sealed record Work(ICacheStore Store, CacheEntry Entry, ISemanticLookup? Semantic, SemanticQuery? Query);

    private readonly Channel<Work> _queue = Channel.CreateBounded<Work>(new BoundedChannelOptions(Capacity)
    {
        FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true, SingleWriter = false,
    });
    private long _dropped;

    public long Dropped => Interlocked.Read(ref _dropped);

    public void Enqueue(Work work)
    {
        if (!_queue.Writer.TryWrite(work)) Interlocked.Increment(ref _dropped);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The configured backend is opened at start, so a Redis cache is connected before the first request needs it.
        stores.For(runtimes.Current.Options.Cache);
        // Not stoppingToken for the reads: the queue is drained on shutdown (completed in StopAsync).
        await foreach (var work in _queue.Reader.ReadAllAsync(CancellationToken.None))
        {
            try
            {
                await work.Store.SetAsync(work.Entry, CancellationToken.None);
                if (work.Semantic is not null && work.Query is not null) await work.Semantic.IndexAsync(work.Query, work.Entry.Key, CancellationToken.None);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                StoreFailed(logger, work.Entry.ModelGroup, ex.Message);
            }
        }
    }

    public override Task StopAsync(CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
        return base.StopAsync(cancellationToken);
    }

    [LoggerMessage(1960, LogLevel.Warning, "Storing a cache entry for model group {ModelGroup} failed: {Message}")]
    private static partial void StoreFailed(ILogger logger, string modelGroup, string message);
}
