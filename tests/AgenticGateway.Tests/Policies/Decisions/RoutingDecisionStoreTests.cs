using AgenticGateway.Policies;
using AgenticGateway.Routing;
using AgenticGateway.Storage;
using AgenticGateway.Tests.Support;
using Dapper;
using static AgenticGateway.Tests.Policies.Decisions.DecisionSamples;

namespace AgenticGateway.Tests.Policies.Decisions;

/// <summary>
/// The routing_decisions table on each database: a decision comes back field for field (candidates and their reasons
/// included), newest first, filtered by model (group or requested name), decision and time, bounded by the limit; a
/// request may have several (a fallback group gets its own); and a database of the previous schema gains the table.
/// </summary>
[Trait("Category", "integration")]
public class RoutingDecisionStoreTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task A_stored_decision_comes_back_field_for_field(string backend)
    {
        await using var b = await Backend.StartAsync(backend);
        var allow = Allow();
        var deny = Deny(at: Start.AddSeconds(1));
        var dry = DryRun(at: Start.AddSeconds(2));
        await b.Store.WriteBatchAsync([allow, deny, dry], None);

        var all = await b.Store.QueryAsync(new RoutingDecisionQuery(), None);
        Assert.Equal(["req-dry", "req-deny", "req-allow"], Ids(all));
        AssertSame(dry, all[0]);
        AssertSame(deny, all[1]);
        AssertSame(allow, all[2]);
        // The columns hold what the design names, readable without the gateway (JSON arrays, the request's id).
        await using var c = await b.Database.OpenAsync(None);
        var row = await c.QuerySingleAsync<(string candidates, string policies, string chosen_deployment, long latency_us)>(
            "SELECT candidates, policies, chosen_deployment, latency_us FROM routing_decisions WHERE id = 'req-allow'");
        Assert.StartsWith("""[{"index":0,"deployment":"gpt-4o-openai","provider":"openai","allowed":false,"preferred":false,"reasons":["forbid: slow_for_sla",""", row.candidates);
        Assert.Equal("""["prefer_vllm"]""", row.policies);
        Assert.Equal(("llama-vllm", 17L), (row.chosen_deployment, row.latency_us));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Retention_deletes_only_decisions_older_than_the_cutoff_in_batches(string backend)
    {
        await using var b = await Backend.StartAsync(backend);
        await b.Store.WriteBatchAsync([
            Allow("old0", Start), Deny("old1", Start.AddMinutes(1)), Allow("old2", Start.AddMinutes(2)),
            Allow("new3", Start.AddMinutes(3)), DryRun("new4", Start.AddDays(40)),
        ], None);
        // A batch smaller than what is due: the first call deletes the oldest two, the next the third, then nothing.
        Assert.Equal(2, await b.Store.PurgeBeforeAsync(Start.AddMinutes(3), 2, None));
        Assert.Equal(["new4", "new3", "old2"], Ids(await b.Store.QueryAsync(new RoutingDecisionQuery(), None)));
        Assert.Equal(1, await b.Store.PurgeBeforeAsync(Start.AddMinutes(3), 2, None));
        Assert.Equal(0, await b.Store.PurgeBeforeAsync(Start.AddMinutes(3), 2, None));
        Assert.Equal(["new4", "new3"], Ids(await b.Store.QueryAsync(new RoutingDecisionQuery(), None)));

        // The service: the configured retention back from the clock's now.
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(Start.AddDays(40).AddMinutes(1));
        var retention = new RoutingDecisionRetention(b.Store, () => TimeSpan.FromDays(30), clock,
            Microsoft.Extensions.Logging.Abstractions.NullLogger<RoutingDecisionRetention>.Instance);
        Assert.Equal(1, await retention.PurgeAsync(None));
        Assert.Equal(["new4"], Ids(await b.Store.QueryAsync(new RoutingDecisionQuery(), None)));
        // Without routing policies it touches nothing.
        var off = new RoutingDecisionRetention(b.Store, () => null, new Microsoft.Extensions.Time.Testing.FakeTimeProvider(Start.AddYears(5)),
            Microsoft.Extensions.Logging.Abstractions.NullLogger<RoutingDecisionRetention>.Instance);
        Assert.Equal(0, await off.PurgeAsync(None));
        Assert.Equal(["new4"], Ids(await b.Store.QueryAsync(new RoutingDecisionQuery(), None)));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Filters_combine_and_the_newest_come_first_up_to_the_limit(string backend)
    {
        await using var b = await Backend.StartAsync(backend);
        // Written out of time order, so the order read cannot come from insertion order.
        await b.Store.WriteBatchAsync([
            Allow("a2", Start.AddMinutes(2)),
            Deny("d1", Start.AddMinutes(1), group: "smart"),
            Allow("a0", Start),
            Allow("alias3", Start.AddMinutes(3), group: "smart", requested: "my-alias"),
            Deny("fast4", Start.AddMinutes(4)),
            DryRun("dry5", Start.AddMinutes(5)),
        ], None);

        Assert.Equal(["dry5", "fast4", "alias3", "a2", "d1", "a0"], Ids(await b.Store.QueryAsync(new(), None)));
        Assert.Equal(["dry5", "fast4"], Ids(await b.Store.QueryAsync(new(Limit: 2), None)));
        // model= matches the group and the name the client asked for.
        Assert.Equal(["dry5", "alias3", "a2", "d1", "a0"], Ids(await b.Store.QueryAsync(new(Model: "smart"), None)));
        Assert.Equal(["alias3"], Ids(await b.Store.QueryAsync(new(Model: "my-alias"), None)));
        Assert.Equal(["fast4", "d1"], Ids(await b.Store.QueryAsync(new(Decision: RoutingDecision.Deny), None)));
        Assert.Equal(["dry5"], Ids(await b.Store.QueryAsync(new(Decision: RoutingDecision.DryRunDecision), None)));
        Assert.Equal(["d1"], Ids(await b.Store.QueryAsync(new(Model: "smart", Decision: RoutingDecision.Deny), None)));
        // since= includes the instant itself, whatever offset it is given in.
        Assert.Equal(["dry5", "fast4", "alias3", "a2"], Ids(await b.Store.QueryAsync(new(Since: Start.AddMinutes(2).ToOffset(TimeSpan.FromHours(-5))), None)));
        Assert.Equal(["alias3", "a2"], Ids(await b.Store.QueryAsync(new(Model: "smart", Decision: RoutingDecision.Allow, Since: Start.AddMinutes(1)), None)));
        Assert.Empty(await b.Store.QueryAsync(new(Model: "nothing-like-it"), None));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => b.Store.QueryAsync(new(Limit: 0), None));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => b.Store.QueryAsync(new(Limit: RoutingDecisionQuery.MaxLimit + 1), None));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task A_request_keeps_a_decision_per_group_tried_and_ties_in_time_read_newest_written_first(string backend)
    {
        await using var b = await Backend.StartAsync(backend);
        // The primary group denied, its fallback allowed, in the same instant and across two batches.
        await b.Store.WriteBatchAsync([Deny("req-1", Start, group: "smart")], None);
        await b.Store.WriteBatchAsync([Allow("req-1", Start, group: "fast", requested: "smart")], None);

        var both = await b.Store.QueryAsync(new(Model: "smart"), None);
        Assert.Equal([("req-1", "fast"), ("req-1", "smart")], both.Select(d => (d.RequestId, d.ModelGroup)));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task A_database_of_the_previous_schema_version_gains_the_table_and_keeps_its_data(string backend)
    {
        var location = await Backend.CreateAsync(backend);
        await using (var previous = new Backend(backend, location) { KeepDatabase = true })
        {
            await using var c = await previous.Database.OpenAsync(None);
            await c.ExecuteAsync("DROP TABLE routing_decisions; DELETE FROM schema_migrations WHERE version > 8");
            await c.ExecuteAsync("INSERT INTO mcp_tool_pins (server, tool, approved_hash, updated_at) VALUES ('srv', 'tool', 'h1', '2026-12-01T00:00:00.0000000+00:00')");
        }
        await using var upgraded = new Backend(backend, location);
        await upgraded.Store.WriteBatchAsync([Allow()], None);
        AssertSame(Allow(), Assert.Single(await upgraded.Store.QueryAsync(new(), None)));
        await using var check = await upgraded.Database.OpenAsync(None);
        Assert.Equal(Schema.Version, await check.ExecuteScalarAsync<int>("SELECT MAX(version) FROM schema_migrations"));
        Assert.Equal("h1", await check.ExecuteScalarAsync<string>("SELECT approved_hash FROM mcp_tool_pins WHERE server = 'srv'"));
    }

    internal sealed class Backend : IAsyncDisposable
    {
        private readonly string _backend;
        private readonly string _location;

        public Backend(string backend, string location)
        {
            _backend = backend;
            _location = location;
            Database = backend == "postgres" ? new PostgresDatabase(location) : SqliteDatabase.ForDataDirectory(location);
            Store = new RoutingDecisionStore(Database);
        }

        public IDatabase Database { get; }
        public RoutingDecisionStore Store { get; }
        public bool KeepDatabase { get; set; }

        public static async Task<Backend> StartAsync(string backend) => new(backend, await CreateAsync(backend));

        /// <summary>A fresh, empty database: a SQLite data directory or a PostgreSQL connection string.</summary>
        public static async Task<string> CreateAsync(string backend) => backend switch
        {
            "sqlite" => Directory.CreateTempSubdirectory("agw-decisions-").FullName,
            "postgres" => await (await PostgresInstance.SharedAsync()).CreateDatabaseAsync("decisions"),
            _ => throw new ArgumentOutOfRangeException(nameof(backend)),
        };

        public async ValueTask DisposeAsync()
        {
            if (Database is PostgresDatabase pg) await pg.DisposeAsync();
            if (!KeepDatabase && _backend == "sqlite" && Directory.Exists(_location))
            {
                Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
                Directory.Delete(_location, recursive: true);
            }
        }
    }
}
