using System.Collections.Concurrent;
using StackExchange.Redis;

namespace AgenticGateway.Limits;

/// <summary>
/// Running spend per key, user and team for the current budget period, in nano-dollars. A counter starts from the
/// database (the spend logs of the period) the first time it is needed, then every settled request adds to it.
/// </summary>
internal interface IBudgetCounters
{
    ValueTask<long> SpentAsync(string counter, Func<CancellationToken, Task<long>> load, TimeSpan lifetime, CancellationToken cancellationToken);
    /// <summary>Adds to a counter that exists; returns its new value (null when it does not exist here).</summary>
    ValueTask<long?> AddAsync(string counter, long nanos, CancellationToken cancellationToken);
}

/// <summary>Budget counters in this process.</summary>
internal sealed class MemoryBudgetCounters : IBudgetCounters
{
    private const int MaxCounters = 200_000;
    private readonly ConcurrentDictionary<string, Cell> _cells = new(StringComparer.Ordinal);

    public async ValueTask<long> SpentAsync(string counter, Func<CancellationToken, Task<long>> load, TimeSpan lifetime, CancellationToken cancellationToken)
    {
        if (!_cells.TryGetValue(counter, out var cell))
        {
            if (_cells.Count > MaxCounters) _cells.Clear();
            cell = _cells.GetOrAdd(counter, _ => new Cell());
        }
        var start = cell.Start(load);
        try
        {
            return await start.WaitAsync(cancellationToken) + Interlocked.Read(ref cell.Delta);
        }
        catch (Exception) when (start.IsFaulted)
        {
            // Loading failed (database down): try again next time rather than keep the failure.
            _cells.TryRemove(counter, out _);
            throw;
        }
    }

    public ValueTask<long?> AddAsync(string counter, long nanos, CancellationToken cancellationToken)
    {
        // Only counters that exist are added to: a counter made later loads what the database has by then.
        if (!_cells.TryGetValue(counter, out var cell) || cell.Loaded is not { } loaded) return ValueTask.FromResult<long?>(null);
        return ValueTask.FromResult<long?>(loaded + Interlocked.Add(ref cell.Delta, nanos));
    }

    private sealed class Cell
    {
        private Task<long>? _base;
        public long Delta;

        /// <summary>The loaded starting value, once known.</summary>
        public long? Loaded => _base is { IsCompletedSuccessfully: true } b ? b.Result : null;

        public Task<long> Start(Func<CancellationToken, Task<long>> load)
        {
            if (_base is { } b) return b;
            var started = load(CancellationToken.None);
            return Interlocked.CompareExchange(ref _base, started, null) ?? started;
        }
    }
}

/// <summary>Budget counters in Redis, shared by every replica (INCRBY is atomic).</summary>
internal sealed class RedisBudgetCounters(RedisConnection redis) : IBudgetCounters
{
    private const string Prefix = "agw:budget:";
    private const string AddScript = "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('INCRBY', KEYS[1], ARGV[1]) end return false";

    public async ValueTask<long> SpentAsync(string counter, Func<CancellationToken, Task<long>> load, TimeSpan lifetime, CancellationToken cancellationToken)
    {
        var db = redis.Database;
        var key = (RedisKey)(Prefix + counter);
        var value = await db.StringGetAsync(key).WaitAsync(RedisConnection.CallTimeout, cancellationToken);
        if (value.HasValue) return (long)value;
        // First use anywhere: seed from the database; if another replica seeded it meanwhile, theirs wins.
        var loaded = await load(cancellationToken);
        await db.StringSetAsync(key, loaded, lifetime, When.NotExists).WaitAsync(RedisConnection.CallTimeout, cancellationToken);
        value = await db.StringGetAsync(key).WaitAsync(RedisConnection.CallTimeout, cancellationToken);
        return value.HasValue ? (long)value : loaded;
    }

    public async ValueTask<long?> AddAsync(string counter, long nanos, CancellationToken cancellationToken)
    {
        var result = await redis.Database.ScriptEvaluateAsync(AddScript, [Prefix + counter], [nanos]).WaitAsync(RedisConnection.CallTimeout, cancellationToken);
        return result.IsNull ? null : (long)result;
    }
}
