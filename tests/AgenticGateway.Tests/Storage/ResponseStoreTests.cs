using System.Text;
using System.Text.Json.Nodes;
using AgenticGateway.Responses;
using AgenticGateway.Storage;
using AgenticGateway.Tests.Support;
using Dapper;
using Microsoft.Extensions.Time.Testing;

namespace AgenticGateway.Tests.Storage;

/// <summary>
/// Stored Responses on each database: what is saved comes back whole, to its owner only and only until it expires;
/// a chain of previous_response_id links comes back oldest first, bounded and cut at a gap; the purge deletes what
/// expired, a bounded amount per call; and a database made by the previous schema version upgrades in place.
/// </summary>
[Trait("Category", "integration")]
public class ResponseStoreTests
{
    private static readonly DateTimeOffset Start = new DateTimeOffset(2026, 12, 6, 15, 4, 5, 123, TimeSpan.FromHours(2)).AddTicks(4567);
    private static readonly CancellationToken None = CancellationToken.None;

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task A_saved_response_comes_back_field_for_field(string backend)
    {
        await using var b = await Backend.StartAsync(backend);
        var full = Response("resp_full", "owner-a") with { TeamId = "team-1", PreviousResponseId = "resp_earlier", Status = "incomplete" };
        var bare = Response("resp_bare", "owner-a") with { TeamId = null, PreviousResponseId = null, InputItemsJson = "[]" };
        await b.Store.SaveAsync(full, None);
        await b.Store.SaveAsync(bare, None);

        Assert.Equal(full, await b.Store.GetAsync("resp_full", "owner-a", None));
        Assert.Equal(bare, await b.Store.GetAsync("resp_bare", "owner-a", None));
        // The times keep their ticks (the offset is normalised to UTC; the instant is the same).
        Assert.Equal(Start.UtcTicks, (await b.Store.GetAsync("resp_full", "owner-a", None))!.CreatedAt.UtcTicks);
        Assert.Null(await b.Store.GetAsync("resp_missing", "owner-a", None));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Another_owner_can_neither_read_nor_delete_nor_overwrite_a_response(string backend)
    {
        await using var b = await Backend.StartAsync(backend);
        var mine = Response("resp_1", "owner-a");
        await b.Store.SaveAsync(mine, None);

        Assert.Null(await b.Store.GetAsync("resp_1", "owner-b", None));
        Assert.Empty(await b.Store.GetChainAsync("resp_1", "owner-b", 10, None));
        Assert.False(await b.Store.DeleteAsync("resp_1", "owner-b", None));
        await Assert.ThrowsAsync<InvalidOperationException>(() => b.Store.SaveAsync(mine with { Owner = "owner-b", ResponseJson = """{"stolen":true}""" }, None));

        Assert.Equal(mine, await b.Store.GetAsync("resp_1", "owner-a", None));
        Assert.True(await b.Store.DeleteAsync("resp_1", "owner-a", None));
        Assert.Null(await b.Store.GetAsync("resp_1", "owner-a", None));
        Assert.False(await b.Store.DeleteAsync("resp_1", "owner-a", None));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Saving_a_response_again_replaces_it(string backend)
    {
        await using var b = await Backend.StartAsync(backend);
        var running = Response("resp_bg", "owner-a") with { Status = "in_progress", ResponseJson = """{"id":"resp_bg","status":"in_progress","output":[]}""" };
        await b.Store.SaveAsync(running, None);
        var done = running with
        {
            Status = "completed", ExpiresAt = Start.AddDays(31),
            ResponseJson = """{"id":"resp_bg","status":"completed","output":[{"type":"message","content":[{"type":"output_text","text":"done"}]}]}""",
        };
        await b.Store.SaveAsync(done, None);

        Assert.Equal(done, await b.Store.GetAsync("resp_bg", "owner-a", None));
        Assert.Equal(1, await b.CountAsync());
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task A_chain_comes_back_oldest_first_and_at_most_max_depth_long(string backend)
    {
        await using var b = await Backend.StartAsync(backend);
        // Saved newest first, so the order returned cannot come from insertion order.
        await b.Store.SaveAsync(Response("resp_d", "owner-a") with { PreviousResponseId = "resp_c" }, None);
        await b.Store.SaveAsync(Response("resp_c", "owner-a") with { PreviousResponseId = "resp_b" }, None);
        await b.Store.SaveAsync(Response("resp_b", "owner-a") with { PreviousResponseId = "resp_a" }, None);
        await b.Store.SaveAsync(Response("resp_a", "owner-a"), None);

        Assert.Equal(["resp_a", "resp_b", "resp_c", "resp_d"], Ids(await b.Store.GetChainAsync("resp_d", "owner-a", 100, None)));
        Assert.Equal(["resp_a", "resp_b"], Ids(await b.Store.GetChainAsync("resp_b", "owner-a", 100, None)));
        Assert.Equal(["resp_a"], Ids(await b.Store.GetChainAsync("resp_a", "owner-a", 1, None)));
        // The bound keeps the newest; the oldest returned still names its predecessor, so the cut shows.
        var bounded = await b.Store.GetChainAsync("resp_d", "owner-a", 2, None);
        Assert.Equal(["resp_c", "resp_d"], Ids(bounded));
        Assert.Equal("resp_b", bounded[0].PreviousResponseId);
        Assert.Equal(Response("resp_c", "owner-a") with { PreviousResponseId = "resp_b" }, bounded[0]);
        Assert.Equal(["resp_d"], Ids(await b.Store.GetChainAsync("resp_d", "owner-a", 1, None)));
        Assert.Empty(await b.Store.GetChainAsync("resp_missing", "owner-a", 100, None));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => b.Store.GetChainAsync("resp_d", "owner-a", 0, None));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task A_chain_ends_after_an_ancestor_that_is_missing_expired_or_another_owners(string backend)
    {
        await using var b = await Backend.StartAsync(backend);
        // a <- b <- c <- d <- e, then b is deleted: the walk from e stops at the gap and never reaches a.
        foreach (var (id, previous) in new[] { ("resp_a", (string?)null), ("resp_b", "resp_a"), ("resp_c", "resp_b"), ("resp_d", "resp_c"), ("resp_e", "resp_d") })
            await b.Store.SaveAsync(Response(id, "owner-a") with { PreviousResponseId = previous }, None);
        Assert.True(await b.Store.DeleteAsync("resp_b", "owner-a", None));
        var chain = await b.Store.GetChainAsync("resp_e", "owner-a", 100, None);
        Assert.Equal(["resp_c", "resp_d", "resp_e"], Ids(chain));
        Assert.Equal("resp_b", chain[0].PreviousResponseId);

        // Another owner's response in the middle ends the walk as a missing one does.
        await b.Store.SaveAsync(Response("resp_x", "owner-b"), None);
        await b.Store.SaveAsync(Response("resp_y", "owner-a") with { PreviousResponseId = "resp_x" }, None);
        Assert.Equal(["resp_y"], Ids(await b.Store.GetChainAsync("resp_y", "owner-a", 100, None)));

        // So does an expired one.
        await b.Store.SaveAsync(Response("resp_old", "owner-a") with { ExpiresAt = Start.AddHours(1) }, None);
        await b.Store.SaveAsync(Response("resp_new", "owner-a") with { PreviousResponseId = "resp_old", ExpiresAt = Start.AddDays(2) }, None);
        Assert.Equal(["resp_old", "resp_new"], Ids(await b.Store.GetChainAsync("resp_new", "owner-a", 100, None)));
        b.Clock.Advance(TimeSpan.FromHours(1));
        Assert.Equal(["resp_new"], Ids(await b.Store.GetChainAsync("resp_new", "owner-a", 100, None)));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task An_expired_response_is_invisible_and_the_purge_deletes_it(string backend)
    {
        await using var b = await Backend.StartAsync(backend);
        var expiring = Response("resp_expiring", "owner-a") with { ExpiresAt = Start.AddHours(1) };
        var lasting = Response("resp_lasting", "owner-a") with { ExpiresAt = Start.AddHours(2) };
        await b.Store.SaveAsync(expiring, None);
        await b.Store.SaveAsync(lasting, None);
        Assert.Equal(expiring, await b.Store.GetAsync("resp_expiring", "owner-a", None));

        b.Clock.Advance(TimeSpan.FromHours(1));   // expires_at is the first instant it is gone
        Assert.Null(await b.Store.GetAsync("resp_expiring", "owner-a", None));
        Assert.Empty(await b.Store.GetChainAsync("resp_expiring", "owner-a", 10, None));
        Assert.False(await b.Store.DeleteAsync("resp_expiring", "owner-a", None));
        Assert.Equal(lasting, await b.Store.GetAsync("resp_lasting", "owner-a", None));
        Assert.Equal(2, await b.CountAsync());   // invisible, but still there until the purge

        Assert.Equal(0, await b.Store.PurgeExpiredAsync(Start.AddMinutes(59), None));
        Assert.Equal(1, await b.Store.PurgeExpiredAsync(b.Clock.GetUtcNow(), None));
        Assert.Equal(0, await b.Store.PurgeExpiredAsync(b.Clock.GetUtcNow(), None));
        Assert.Equal(1, await b.CountAsync());
        Assert.Equal(lasting, await b.Store.GetAsync("resp_lasting", "owner-a", None));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task One_purge_call_deletes_a_bounded_number_and_the_next_call_goes_on(string backend)
    {
        await using var b = await Backend.StartAsync(backend);
        const int perCall = ResponseStore.PurgeBatchSize * ResponseStore.PurgeBatches;
        await b.InsertExpiredAsync(perCall + 7, Start.AddSeconds(-1));

        Assert.Equal(perCall, await b.Store.PurgeExpiredAsync(Start, None));
        Assert.Equal(7, await b.Store.PurgeExpiredAsync(Start, None));
        Assert.Equal(0, await b.Store.PurgeExpiredAsync(Start, None));
        Assert.Equal(0, await b.CountAsync());
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Four_megabytes_of_json_round_trip(string backend)
    {
        await using var b = await Backend.StartAsync(backend);
        var text = new StringBuilder();
        // Escapes, quotes, non-ASCII and a character outside the BMP, repeated past 4 MB.
        while (text.Length < 4 * 1024 * 1024) text.Append("line \"quoted\" \\ tab\t é 日本 😀 ").Append(text.Length).Append('\n');
        var items = new JsonArray(new JsonObject
        {
            ["type"] = "message", ["id"] = "msg_1", ["role"] = "user",
            ["content"] = new JsonArray(new JsonObject { ["type"] = "input_text", ["text"] = text.ToString() }),
        }).ToJsonString();
        var response = new JsonObject { ["id"] = "resp_big", ["object"] = "response", ["output_text"] = text.ToString() }.ToJsonString();
        Assert.True(Encoding.UTF8.GetByteCount(items) > 4 * 1024 * 1024);
        var big = Response("resp_big", "owner-a") with { InputItemsJson = items, ResponseJson = response };
        await b.Store.SaveAsync(big, None);

        var got = await b.Store.GetAsync("resp_big", "owner-a", None);
        Assert.NotNull(got);
        Assert.Equal(items, got.InputItemsJson);
        Assert.Equal(response, got.ResponseJson);
        Assert.Equal(big, Assert.Single(await b.Store.GetChainAsync("resp_big", "owner-a", 10, None)));
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task A_database_of_the_previous_schema_version_upgrades_and_keeps_its_data(string backend)
    {
        // A database as the previous version left it: every migration up to the MCP tool pins, with data in it.
        var location = await Backend.CreateAsync(backend);
        await using (var previous = new Backend(backend, location) { KeepDatabase = true })
        {
            await using var c = await previous.Database.OpenAsync(None);
            await c.ExecuteAsync("ALTER TABLE spend_logs DROP COLUMN cache_hit; ALTER TABLE spend_logs DROP COLUMN guardrail_information");
            await c.ExecuteAsync("DROP TABLE edge_acme_accounts; DROP TABLE edge_certificates; DROP TABLE edge_acme_challenges; DROP TABLE edge_acme_leases");
            await c.ExecuteAsync("DROP TABLE routing_decisions");
            await c.ExecuteAsync("DROP TABLE response_items; DROP TABLE responses; DELETE FROM schema_migrations WHERE version > 5");
            await c.ExecuteAsync("INSERT INTO mcp_tool_pins (server, tool, approved_hash, updated_at) VALUES ('srv', 'tool', 'h1', '2026-12-01T00:00:00.0000000+00:00')");
            Assert.Equal(5, await c.ExecuteScalarAsync<int>("SELECT MAX(version) FROM schema_migrations"));
        }

        // The next gateway process opens it: the responses table is added, and what was there stays.
        await using var upgraded = new Backend(backend, location);
        var saved = Response("resp_after_upgrade", "owner-a");
        await upgraded.Store.SaveAsync(saved, None);
        Assert.Equal(saved, await upgraded.Store.GetAsync("resp_after_upgrade", "owner-a", None));
        await using var check = await upgraded.Database.OpenAsync(None);
        Assert.Equal(Schema.Version, await check.ExecuteScalarAsync<int>("SELECT MAX(version) FROM schema_migrations"));
        Assert.Equal("h1", await check.ExecuteScalarAsync<string>("SELECT approved_hash FROM mcp_tool_pins WHERE server = 'srv' AND tool = 'tool'"));
    }

    [Fact]
    public async Task The_purge_leaves_a_database_nothing_has_opened_alone()
    {
        using var dir = new TempDirectory("agw-responses-");
        var store = new ResponseStore(SqliteDatabase.ForDataDirectory(dir.Path), new FakeTimeProvider(Start));
        Assert.Equal(0, await store.PurgeExpiredAsync(Start.AddYears(1), None));
        Assert.False(File.Exists(Path.Combine(dir.Path, "gateway.db")));
    }

    private static StoredResponse Response(string id, string owner) => new(
        id, owner, "team-1", "gpt-x", "completed", Start, Start.AddDays(30), null,
        $$"""[{"type":"message","id":"msg_{{id}}","role":"user","content":[{"type":"input_text","text":"hi"}]}]""",
        $$"""{"id":"{{id}}","object":"response","status":"completed","output":[]}""");

    private static string[] Ids(IReadOnlyList<StoredResponse> chain) => [.. chain.Select(r => r.Id)];

    /// <summary>A store on a database of one backend, its clock at <see cref="Start"/>.</summary>
    private sealed class Backend : IAsyncDisposable
    {
        private readonly string _backend;
        private readonly string _location;

        /// <param name="location">The SQLite data directory or the PostgreSQL connection string, from <see cref="CreateAsync"/>.</param>
        public Backend(string backend, string location)
        {
            _backend = backend;
            _location = location;
            Database = backend == "postgres" ? new PostgresDatabase(location) : SqliteDatabase.ForDataDirectory(location);
            Store = new ResponseStore(Database, Clock);
        }

        public IDatabase Database { get; }
        public FakeTimeProvider Clock { get; } = new(Start);
        public ResponseStore Store { get; }
        public bool KeepDatabase { get; set; }

        public static async Task<Backend> StartAsync(string backend) => new(backend, await CreateAsync(backend));

        /// <summary>Where a fresh, empty database of the backend lives.</summary>
        public static async Task<string> CreateAsync(string backend) => backend switch
        {
            "sqlite" => Directory.CreateTempSubdirectory("agw-responses-").FullName,
            "postgres" => await (await PostgresInstance.SharedAsync()).CreateDatabaseAsync("responses"),
            _ => throw new ArgumentOutOfRangeException(nameof(backend)),
        };

        public async Task<long> CountAsync()
        {
            await using var c = await Database.OpenAsync(None);
            return await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM responses");
        }

        /// <summary>Expired rows, written in one transaction (saving them one by one would take seconds on SQLite).</summary>
        public async Task InsertExpiredAsync(int count, DateTimeOffset expiresAt)
        {
            await using var c = await Database.OpenAsync(None);
            await using var tx = await c.BeginTransactionAsync();
            var expires = expiresAt.ToUniversalTime().ToString("O");
            for (var i = 0; i < count; i++)
            {
                await c.ExecuteAsync("""
                    INSERT INTO responses (id, owner, model, status, created_at, expires_at, input_items, response, updated_at)
                    VALUES (@id, 'owner-a', 'gpt-x', 'completed', @expires, @expires, '[]', '{}', @expires)
                    """, new { id = $"resp_{i}", expires }, tx);
            }
            await tx.CommitAsync();
        }

        public async ValueTask DisposeAsync()
        {
            if (Database is PostgresDatabase pg) await pg.DisposeAsync();
            if (!KeepDatabase && _backend == "sqlite" && Directory.Exists(_location)) Directory.Delete(_location, recursive: true);
        }
    }
}
