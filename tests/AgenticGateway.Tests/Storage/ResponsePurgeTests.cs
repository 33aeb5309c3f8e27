using AgenticGateway.Responses;
using AgenticGateway.Services.Responses;
using AgenticGateway.Storage;
using AgenticGateway.Tests.Support;
using Dapper;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace AgenticGateway.Tests.Storage;

/// <summary>
/// The background purge of expired stored responses: one run deletes everything expired, past the store's bound per
/// call; runs come every <see cref="ResponsePurge.Interval"/> of the gateway's clock; a failing store is survived.
/// </summary>
[Trait("Category", "unit")]
public class ResponsePurgeTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 6, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task One_run_deletes_everything_expired_in_bounded_calls_and_keeps_the_rest()
    {
        using var dir = new TempDirectory("agw-purge-");
        var clock = new FakeTimeProvider(Start);
        var db = SqliteDatabase.ForDataDirectory(dir.Path);
        var store = new ResponseStore(db, clock);
        var expired = ResponseStore.PurgeBatchSize * ResponseStore.PurgeBatches * 2 + 3;
        await InsertAsync(db, expired, Start.AddMinutes(-1));
        await store.SaveAsync(new StoredResponse("resp_live", "owner", null, "m", "completed", Start, Start.AddDays(1), null, "[]", "{}"), CancellationToken.None);

        var purge = new ResponsePurge(store, clock, NullLogger<ResponsePurge>.Instance);
        Assert.Equal(expired, await purge.PurgeAsync(CancellationToken.None));
        Assert.Equal(1, await CountAsync(db));
        Assert.NotNull(await store.GetAsync("resp_live", "owner", CancellationToken.None));
        Assert.Equal(0, await purge.PurgeAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Runs_come_on_the_gateways_clock()
    {
        using var dir = new TempDirectory("agw-purge-");
        var clock = new FakeTimeProvider(Start);
        var db = SqliteDatabase.ForDataDirectory(dir.Path);
        var store = new ResponseStore(db, clock);
        await store.SaveAsync(new StoredResponse("resp_short", "owner", null, "m", "completed", Start, Start.AddMinutes(1), null, "[]", "{}"), CancellationToken.None);

        using var purge = new ResponsePurge(store, clock, NullLogger<ResponsePurge>.Instance);
        await purge.StartAsync(CancellationToken.None);
        try
        {
            // Nothing runs before an interval has passed.
            clock.Advance(ResponsePurge.Interval - TimeSpan.FromSeconds(1));
            await Task.Delay(100);
            Assert.Equal(1, await CountAsync(db));
            // The service starts its timer on a thread of its own, perhaps after an advance: the clock moves an
            // interval at a time until the run's effect shows, and the number of intervals it took is not what is tested.
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (await CountAsync(db) > 0 && DateTime.UtcNow < deadline)
            {
                clock.Advance(ResponsePurge.Interval);
                await Task.Delay(20);
            }
            Assert.Equal(0, await CountAsync(db));
        }
        finally
        {
            await purge.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task A_failing_store_is_logged_and_the_next_run_goes_on()
    {
        var store = new FailingOnceStore();
        var purge = new ResponsePurge(store, new FakeTimeProvider(Start), NullLogger<ResponsePurge>.Instance);
        Assert.Equal(0, await purge.PurgeAsync(CancellationToken.None));
        Assert.Equal(5, await purge.PurgeAsync(CancellationToken.None));
    }

    private static async Task InsertAsync(IDatabase db, int count, DateTimeOffset expiresAt)
    {
        await using var c = await db.OpenAsync(CancellationToken.None);
        await using var tx = await c.BeginTransactionAsync();
        var expires = expiresAt.ToUniversalTime().ToString("O");
        for (var i = 0; i < count; i++)
        {
            await c.ExecuteAsync("""
                INSERT INTO responses (id, owner, model, status, created_at, expires_at, input_items, response, updated_at)
                VALUES (@id, 'owner', 'm', 'completed', @expires, @expires, '[]', '{}', @expires)
                """, new { id = $"resp_{i}", expires }, tx);
        }
        await tx.CommitAsync();
    }

    private static async Task<long> CountAsync(IDatabase db)
    {
        await using var c = await db.OpenAsync(CancellationToken.None);
        return await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM responses");
    }

    /// <summary>Fails the first purge as a database that is down would; then has 5 expired responses to delete.</summary>
    private sealed class FailingOnceStore : IResponseStore
    {
        private int _calls;
        private int _left = 5;

        public Task<int> PurgeExpiredAsync(DateTimeOffset now, CancellationToken ct)
        {
            if (_calls++ == 0) throw new Microsoft.Data.Sqlite.SqliteException("database is locked", 5);
            var n = Math.Min(_left, 2);
            _left -= n;
            return Task.FromResult(n);
        }

        public Task SaveAsync(StoredResponse response, CancellationToken ct) => throw new NotSupportedException();
        public Task<StoredResponse?> GetAsync(string id, string owner, CancellationToken ct) => throw new NotSupportedException();
        public Task<IReadOnlyList<StoredResponse>> GetChainAsync(string id, string owner, int maxDepth, CancellationToken ct) => throw new NotSupportedException();
        public Task<bool> DeleteAsync(string id, string owner, CancellationToken ct) => throw new NotSupportedException();
    }
}
