using System.Diagnostics;
using System.Diagnostics.Metrics;
using AgenticGateway.Policies;
using AgenticGateway.Routing;
using AgenticGateway.Storage;
using AgenticGateway.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using static AgenticGateway.Tests.Policies.Decisions.DecisionSamples;

namespace AgenticGateway.Tests.Policies.Decisions;

/// <summary>
/// The decisions writer's queue: bounded, a full queue refuses at once and counts the drop in
/// agw.routing_decisions.dropped{reason}; nothing is lost below capacity; what is queued at shutdown is stored; a
/// database that refuses every write costs dropped (counted) decisions, never a waiting caller.
/// </summary>
[Trait("Category", "unit")]
public sealed class RoutingDecisionWriterTests : IDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly TempDirectory _dir = new("agw-decisions-");
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly List<(string Instrument, long Value, string? Reason)> _measured = [];
    private readonly MeterListener _listener = new();

    public RoutingDecisionWriterTests()
    {
        var factory = _services.GetRequiredService<IMeterFactory>();
        // Only this test's meter factory: other tests' writers in the same process must not count here.
        _listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter.Scope, factory) && instrument.Name.StartsWith("agw.routing_decisions.", StringComparison.Ordinal))
                l.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string? reason = null;
            foreach (var t in tags) if (t.Key == "reason") reason = t.Value as string;
            lock (_measured) _measured.Add((instrument.Name, value, reason));
        });
        _listener.Start();
    }

    public void Dispose()
    {
        _listener.Dispose();
        _services.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _dir.Dispose();
    }

    private RoutingDecisionWriter Writer(IDatabase db, int capacity) =>
        new(new RoutingDecisionStore(db), _services.GetRequiredService<IMeterFactory>(), NullLogger<RoutingDecisionWriter>.Instance, capacity);

    private long Measured(string instrument, string? reason = null)
    {
        lock (_measured) return _measured.Where(m => m.Instrument == instrument && (reason is null || m.Reason == reason)).Sum(m => m.Value);
    }

    [Fact]
    public async Task A_full_queue_refuses_at_once_and_counts_each_drop_and_what_it_took_is_stored()
    {
        var db = SqliteDatabase.ForDataDirectory(_dir.Path);
        using var writer = Writer(db, capacity: 4);
        // Not started: nothing drains, so the fifth decision on finds the queue full.
        var accepted = Enumerable.Range(0, 10).Select(i => writer.TryWrite(Allow($"req-{i}"))).ToList();
        Assert.Equal([true, true, true, true, false, false, false, false, false, false], accepted);
        Assert.Equal(6, writer.Dropped);
        Assert.Equal(6, Measured("agw.routing_decisions.dropped", "queue_full"));
        Assert.Equal(4, writer.Pending);

        await writer.StartAsync(None);
        await writer.StopAsync(None);
        Assert.Equal(["req-3", "req-2", "req-1", "req-0"], Ids(await new RoutingDecisionStore(db).QueryAsync(new(), None)));
        Assert.Equal(4, writer.Written);
        Assert.Equal(4, Measured("agw.routing_decisions.written"));
        Assert.Equal(6, Measured("agw.routing_decisions.dropped"));
    }

    [Fact]
    public async Task Nothing_is_lost_below_capacity_while_the_writer_runs()
    {
        var db = SqliteDatabase.ForDataDirectory(_dir.Path);
        using var writer = Writer(db, capacity: 2000);
        await writer.StartAsync(None);
        // From several threads at once, as requests write them; more than one batch's worth in all.
        await Task.WhenAll(Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < 300; i++) Assert.True(writer.TryWrite(Allow($"t{t}-{i}", Start.AddMilliseconds(i))));
        })));
        var deadline = Stopwatch.StartNew();
        while (writer.Written < 1200 && deadline.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(20);
        Assert.Equal(1200, writer.Written);
        await writer.StopAsync(None);

        var stored = await new RoutingDecisionStore(db).QueryAsync(new(Limit: RoutingDecisionQuery.MaxLimit), None);
        Assert.Equal(RoutingDecisionQuery.MaxLimit, stored.Count);
        Assert.Equal(0, writer.Dropped);
        Assert.Equal(0, Measured("agw.routing_decisions.dropped"));
        Assert.Equal(1200, Measured("agw.routing_decisions.written"));
    }

    [Fact]
    public async Task What_is_queued_at_shutdown_is_stored()
    {
        var db = SqliteDatabase.ForDataDirectory(_dir.Path);
        using var writer = Writer(db, capacity: 100);
        await writer.StartAsync(None);
        for (var i = 0; i < 50; i++) Assert.True(writer.TryWrite(Deny($"late-{i}", Start.AddSeconds(i))));
        // At once, inside the writer's batching delay: the queue is still full when the host stops.
        await writer.StopAsync(None);

        Assert.Equal(50, writer.Written);
        Assert.Equal(50, (await new RoutingDecisionStore(db).QueryAsync(new(), None)).Count);
        Assert.Equal(0, writer.Dropped);
    }

    [Fact]
    public async Task A_database_that_refuses_every_write_costs_counted_drops_never_a_waiting_caller()
    {
        // Nothing listens on this port: every connection is refused.
        await using var db = new PostgresDatabase($"Host=127.0.0.1;Port={LocalServers.FreePort()};Username=x;Password=y;Database=z;Timeout=2");
        using var writer = Writer(db, capacity: 3);
        await writer.StartAsync(None);
        var elapsed = Stopwatch.StartNew();
        var accepted = 0;
        for (var i = 0; i < 1000; i++) if (writer.TryWrite(Allow($"req-{i}"))) accepted++;
        // A thousand calls take no time at all: none waited for room or for the database.
        Assert.True(elapsed.Elapsed < TimeSpan.FromSeconds(1), $"TryWrite took {elapsed.Elapsed} for 1000 calls");
        Assert.InRange(accepted, 3, 6);
        Assert.Equal(1000 - accepted, Measured("agw.routing_decisions.dropped", "queue_full"));

        // The batch it took is retried, then dropped and counted; the writer goes on (and stops) regardless.
        var deadline = Stopwatch.StartNew();
        while (Measured("agw.routing_decisions.dropped", "write_failed") == 0 && deadline.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(50);
        Assert.True(Measured("agw.routing_decisions.dropped", "write_failed") > 0);
        await writer.StopAsync(None);
        Assert.Equal(1000, writer.Dropped);
        Assert.Equal(0, writer.Written);
        Assert.Equal(1000, Measured("agw.routing_decisions.dropped"));
    }
}
