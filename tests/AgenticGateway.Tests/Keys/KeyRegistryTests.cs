using System.Collections.Concurrent;
using AgenticGateway.Keys;
using AgenticGateway.Storage;

namespace AgenticGateway.Tests.Keys;

/// <summary>
/// The identity cache in front of the key store: hits do not reach the store, entries live 10 s, concurrent misses
/// share one lookup, failures are not cached, and invalidation wins over a lookup that was already under way.
/// </summary>
[Trait("Category", "unit")]
public class KeyRegistryTests
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_hit_does_not_reach_the_store_until_the_entry_is_ten_seconds_old()
    {
        var store = new CountingStore();
        var clock = new ManualClock();
        using var registry = Registry(store, clock);

        Assert.Equal("alpha", (await registry.FindByTokenAsync("t1", default))!.Key.KeyName);
        clock.Advance(Ttl - TimeSpan.FromMilliseconds(1));
        Assert.Equal("alpha", (await registry.FindByTokenAsync("t1", default))!.Key.KeyName);
        Assert.Equal(1, store.Lookups("t1"));

        // Another replica renamed it: seen once the entry expired.
        store.Name = "beta";
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal("beta", (await registry.FindByTokenAsync("t1", default))!.Key.KeyName);
        Assert.Equal(2, store.Lookups("t1"));
    }

    [Fact]
    public async Task Unknown_tokens_are_cached_too()
    {
        var store = new CountingStore { Known = false };
        using var registry = Registry(store, new ManualClock());
        Assert.Null(await registry.FindByTokenAsync("nope", default));
        Assert.Null(await registry.FindByTokenAsync("nope", default));
        Assert.Equal(1, store.Lookups("nope"));
    }

    [Fact]
    public async Task Concurrent_misses_share_one_lookup()
    {
        var store = new CountingStore { Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        using var registry = Registry(store, new ManualClock());
        var callers = Enumerable.Range(0, 20).Select(_ => registry.FindByTokenAsync("t1", default).AsTask()).ToList();
        store.Gate.SetResult();
        var identities = await Task.WhenAll(callers);
        Assert.All(identities, i => Assert.Same(identities[0], i));
        Assert.Equal(1, store.Lookups("t1"));
    }

    [Fact]
    public async Task A_failed_lookup_is_not_cached()
    {
        var store = new CountingStore { Fail = true };
        using var registry = Registry(store, new ManualClock());
        await Assert.ThrowsAsync<InvalidOperationException>(() => registry.FindByTokenAsync("t1", default).AsTask());
        store.Fail = false;
        Assert.NotNull(await registry.FindByTokenAsync("t1", default));
        Assert.Equal(2, store.Lookups("t1"));
    }

    [Fact]
    public async Task A_caller_that_gives_up_does_not_cancel_the_lookup_others_wait_for()
    {
        var store = new CountingStore { Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        using var registry = Registry(store, new ManualClock());
        using var impatient = new CancellationTokenSource();
        var first = registry.FindByTokenAsync("t1", impatient.Token).AsTask();
        var second = registry.FindByTokenAsync("t1", default).AsTask();
        await impatient.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);
        store.Gate.SetResult();
        Assert.NotNull(await second);
        Assert.Equal(1, store.Lookups("t1"));
    }

    [Fact]
    public async Task Invalidate_drops_one_entry_and_InvalidateAll_every_entry()
    {
        var store = new CountingStore();
        using var registry = Registry(store, new ManualClock());
        await registry.FindByTokenAsync("t1", default);
        await registry.FindByTokenAsync("t2", default);

        registry.Invalidate("t1");
        await registry.FindByTokenAsync("t1", default);
        await registry.FindByTokenAsync("t2", default);
        Assert.Equal((2, 1), (store.Lookups("t1"), store.Lookups("t2")));

        registry.InvalidateAll();
        await registry.FindByTokenAsync("t1", default);
        await registry.FindByTokenAsync("t2", default);
        Assert.Equal((3, 2), (store.Lookups("t1"), store.Lookups("t2")));
    }

    [Fact]
    public async Task A_lookup_under_way_when_its_key_is_invalidated_is_not_kept()
    {
        var store = new CountingStore { Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        using var registry = Registry(store, new ManualClock());
        var before = registry.FindByTokenAsync("t1", default).AsTask();
        // The key changes (this node wrote it) while the lookup that read the old row is still running.
        registry.Invalidate("t1");
        store.Gate.SetResult();
        Assert.Equal("alpha", (await before)!.Key.KeyName);

        store.Name = "beta";
        Assert.Equal("beta", (await registry.FindByTokenAsync("t1", default))!.Key.KeyName);
        Assert.Equal(2, store.Lookups("t1"));
    }

    [Fact]
    public async Task The_cache_is_bounded()
    {
        var store = new CountingStore();
        using var registry = Registry(store, new ManualClock());
        for (var i = 0; i < KeyRegistry.MaxCached + 1000; i++) Assert.NotNull(await registry.FindByTokenAsync("t" + i, default));
        // Past the bound new entries are refused and the cache compacts (in the background), never holding more.
        Assert.InRange(registry.CachedCount, 1, KeyRegistry.MaxCached);
    }

    private static KeyRegistry Registry(IKeyStore store, TimeProvider clock) => new(store, new IdentityStore(new NoDatabase()), clock);

    /// <summary>A key store that counts lookups per token; it can hold them at a gate, fail, or know no key.</summary>
    private sealed class CountingStore : IKeyStore
    {
        private readonly ConcurrentDictionary<string, int> _lookups = new();
        public string Name { get; set; } = "alpha";
        public bool Known { get; init; } = true;
        public bool Fail { get; set; }
        public TaskCompletionSource? Gate { get; init; }

        public int Lookups(string token) => _lookups.GetValueOrDefault(token);

        public async Task<VirtualKey?> FindAsync(string token, CancellationToken cancellationToken)
        {
            _lookups.AddOrUpdate(token, 1, (_, n) => n + 1);
            var name = Name;
            if (Gate is not null) await Gate.Task;
            if (Fail) throw new InvalidOperationException("database down");
            return Known ? new VirtualKey { Token = token, KeyName = name } : null;
        }

        public Task<VirtualKey?> FindByAliasAsync(string alias, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task InsertAsync(VirtualKey key, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<bool> UpdateAsync(VirtualKey key, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<bool> ReplaceTokenAsync(string oldToken, VirtualKey renewed, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<IReadOnlyList<string>> DeleteAsync(IReadOnlyList<string> tokens, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<(IReadOnlyList<VirtualKey> Keys, int Total)> ListAsync(KeyQuery query, CancellationToken cancellationToken) => throw new NotSupportedException();
    }

    /// <summary>Keys without a user or team never reach the identity store's database.</summary>
    private sealed class NoDatabase : IDatabase
    {
        public SqlDialect Dialect => throw new NotSupportedException();
        public Task<System.Data.Common.DbConnection> OpenAsync(CancellationToken cancellationToken) => throw new NotSupportedException();
    }

    private sealed class ManualClock : TimeProvider
    {
        private DateTimeOffset _now = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
        public override DateTimeOffset GetUtcNow() => _now;
        public void Advance(TimeSpan by) => _now += by;
    }
}
