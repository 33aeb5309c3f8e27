using System.Collections.Concurrent;
using StackExchange.Redis;

namespace AgenticGateway.Limits;

/// <summary>What a budget counter said to a reservation.</summary>
internal enum BudgetVerdict
{
    Reserved,
    /// <summary>Spend has reached the budget.</summary>
    Exceeded,
    /// <summary>The budget has room, but not beside what requests in flight have reserved: try again when they end.</summary>
    Busy,
}

/// <summary>A reservation's outcome, with the counter as it stood (nano-dollars) and the minute it was held in.</summary>
internal readonly record struct BudgetReservation(BudgetVerdict Verdict, long SpentNanos, long ReservedNanos, long Minute);

/// <summary>
/// Running spend per key, user and team for the current budget period, in nano-dollars, and what requests in flight
/// have reserved against it. A counter starts from the database (the spend logs of the period) the first time it is
/// needed. A request reserves its worst-case cost at admission and settles to its real cost when it ends.
/// </summary>
/// <remarks>
/// A reservation is admitted when spent + reserved + cost stays within the budget, or, with nothing else in flight,
/// while spent is below it. The second case lets a lone request through whose worst case is larger than what remains
/// (a model with a large maximum output, a small budget), so spend overshoots by at most that one request's real cost,
/// whatever the concurrency.
/// </remarks>
internal interface IBudgetCounters
{
    ValueTask<BudgetReservation> ReserveAsync(string counter, Func<CancellationToken, Task<long>> load, TimeSpan lifetime, long maxNanos, long costNanos, CancellationToken cancellationToken);

    /// <summary>
    /// Gives back a reservation (made in <paramref name="minute"/>) and adds the real cost. Returns the counter's new
    /// spend, or null when the counter does not exist here (it is loaded from the database, which has the cost, when next needed).
    /// </summary>
    ValueTask<long?> SettleAsync(string counter, long minute, long reservedNanos, long costNanos, CancellationToken cancellationToken);
}

/// <summary>Budget counters in this process.</summary>
internal sealed class MemoryBudgetCounters : IBudgetCounters
{
    private const int MaxCounters = 200_000;
    private readonly ConcurrentDictionary<string, Cell> _cells = new(StringComparer.Ordinal);

    public async ValueTask<BudgetReservation> ReserveAsync(string counter, Func<CancellationToken, Task<long>> load, TimeSpan lifetime, long maxNanos, long costNanos, CancellationToken cancellationToken)
    {
        if (!_cells.TryGetValue(counter, out var cell))
        {
            if (_cells.Count > MaxCounters) _cells.Clear();
            cell = _cells.GetOrAdd(counter, _ => new Cell());
        }
        var start = cell.Start(load);
        long loaded;
        try
        {
            loaded = await start.WaitAsync(cancellationToken);
        }
        catch (Exception) when (start.IsFaulted)
        {
            // Loading failed (database down): try again next time rather than keep the failure.
            _cells.TryRemove(counter, out _);
            throw;
        }
        // Lock-free: the reservation is taken only if nothing reserved meanwhile (a settle adds its cost before it
        // gives its reservation back, so a race can only make the check stricter).
        while (true)
        {
            var reserved = Volatile.Read(ref cell.Reserved);
            var spent = loaded + Interlocked.Read(ref cell.Delta);
            var verdict = Judge(spent, reserved, maxNanos, costNanos);
            if (verdict != BudgetVerdict.Reserved) return new BudgetReservation(verdict, spent, reserved, 0);
            if (Interlocked.CompareExchange(ref cell.Reserved, reserved + costNanos, reserved) == reserved)
                return new BudgetReservation(BudgetVerdict.Reserved, spent, reserved, 0);
        }
    }

    public ValueTask<long?> SettleAsync(string counter, long minute, long reservedNanos, long costNanos, CancellationToken cancellationToken)
    {
        if (!_cells.TryGetValue(counter, out var cell) || cell.Loaded is not { } loaded) return ValueTask.FromResult<long?>(null);
        var after = loaded + Interlocked.Add(ref cell.Delta, costNanos);
        if (reservedNanos != 0) Interlocked.Add(ref cell.Reserved, -reservedNanos);
        return ValueTask.FromResult<long?>(after);
    }

    /// <summary>The admission rule of <see cref="IBudgetCounters"/>.</summary>
    internal static BudgetVerdict Judge(long spent, long reserved, long max, long cost) =>
        spent >= max ? BudgetVerdict.Exceeded
        : reserved > 0 && spent + reserved + cost > max ? BudgetVerdict.Busy
        : BudgetVerdict.Reserved;

    private sealed class Cell
    {
        private Task<long>? _base;
        public long Delta;
        public long Reserved;

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

/// <summary>
/// Budget counters in Redis, shared by every replica: one script checks and reserves atomically. Reservations are kept
/// by the minute they were made, so those of a replica that died before settling are dropped after an hour.
/// </summary>
internal sealed class RedisBudgetCounters(RedisConnection redis) : IBudgetCounters
{
    private const string Prefix = "agw:budget:";
    private const string InFlightSuffix = ":inflight";

    // KEYS: the spend counter, its in-flight hash (minute -> nanos). ARGV: max, cost. Returns {verdict, spent, reserved, minute};
    // verdict -1 when the counter does not exist (yet, or any more).
    private const string ReserveScript = """
        local spent = redis.call('GET', KEYS[1])
        if not spent then return {-1, 0, 0, 0} end
        spent = tonumber(spent)
        local t = redis.call('TIME')
        local minute = math.floor(tonumber(t[1]) / 60)
        local reserved = 0
        local p = redis.call('HGETALL', KEYS[2])
        for j = 1, #p, 2 do
          local v = tonumber(p[j + 1])
          if tonumber(p[j]) < minute - 60 or v <= 0 then redis.call('HDEL', KEYS[2], p[j]) else reserved = reserved + v end
        end
        local max = tonumber(ARGV[1])
        local cost = tonumber(ARGV[2])
        if spent >= max then return {1, spent, reserved, minute} end
        if reserved > 0 and spent + reserved + cost > max then return {2, spent, reserved, minute} end
        if cost > 0 then
          redis.call('HINCRBY', KEYS[2], minute, cost)
          redis.call('PEXPIRE', KEYS[2], 3720000)
        end
        return {0, spent, reserved, minute}
        """;

    // KEYS: the spend counter, its in-flight hash. ARGV: minute, reserved, cost. Returns the new spend, or false.
    private const string SettleScript = """
        if tonumber(ARGV[2]) > 0 and redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then
          if redis.call('HINCRBY', KEYS[2], ARGV[1], -tonumber(ARGV[2])) <= 0 then redis.call('HDEL', KEYS[2], ARGV[1]) end
        end
        if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('INCRBY', KEYS[1], ARGV[3]) end
        return false
        """;

    public async ValueTask<BudgetReservation> ReserveAsync(string counter, Func<CancellationToken, Task<long>> load, TimeSpan lifetime, long maxNanos, long costNanos, CancellationToken cancellationToken)
    {
        var db = redis.Database;
        RedisKey[] keys = [Prefix + counter, Prefix + counter + InFlightSuffix];
        long? loaded = null;
        while (true)
        {
            var result = (RedisResult[])(await db.ScriptEvaluateAsync(ReserveScript, keys, [maxNanos, costNanos]).WaitAsync(redis.CallTimeout, cancellationToken))!;
            var verdict = (long)result[0];
            if (verdict >= 0) return new BudgetReservation((BudgetVerdict)verdict, (long)result[1], (long)result[2], (long)result[3]);
            // Evicted again right after seeding: judge by the database's figure alone, holding nothing in Redis.
            if (loaded is { } seeded) return new BudgetReservation(MemoryBudgetCounters.Judge(seeded, 0, maxNanos, costNanos), seeded, 0, 0);
            // First use anywhere: seed from the database; if another replica seeded it meanwhile, theirs wins.
            loaded = await load(cancellationToken);
            await db.StringSetAsync(keys[0], loaded.Value, lifetime, When.NotExists).WaitAsync(redis.CallTimeout, cancellationToken);
        }
    }

    public async ValueTask<long?> SettleAsync(string counter, long minute, long reservedNanos, long costNanos, CancellationToken cancellationToken)
    {
        var result = await redis.Database.ScriptEvaluateAsync(SettleScript, [Prefix + counter, Prefix + counter + InFlightSuffix], [minute, reservedNanos, costNanos])
            .WaitAsync(redis.CallTimeout, cancellationToken);
        return result.IsNull ? null : (long)result;
    }
}
