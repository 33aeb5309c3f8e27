using AgenticGateway.Spend;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Spend;

/// <summary>
/// The spend store's batch insert, on each database: every column comes back as written (nulls, tags, times in the
/// text the time queries compare), and a replayed batch is stored and counted once. SQLite is written through
/// SQLitePCL by position, PostgreSQL through ADO.NET parameters: one mapping of the columns serves both.
/// </summary>
[Trait("Category", "functional")]
public class SpendStoreTests
{
    private const string Config = "models:\n  - {name: m, provider: mock}\n";

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task A_batch_comes_back_column_for_column_and_a_replay_counts_once(string backend)
    {
        await using var gw = await Backends.StartGatewayAsync(Config, backend);
        var store = gw.Services.GetRequiredService<SpendStore>();
        var start = new DateTimeOffset(2026, 12, 6, 15, 4, 5, 123, TimeSpan.FromHours(2)).AddTicks(4567);
        var full = new SpendLog
        {
            LogId = "log-full-" + backend, RequestId = "req_1", ApiKey = "hashed-key-1", KeyAlias = "ci", UserId = "ann", TeamId = "t1", TeamAlias = "research",
            OrganizationId = "org1", ResponseId = "chatcmpl-1", Model = "gpt-x", ModelGroup = "m", Deployment = "d1", Provider = "openai",
            CallType = "chat.completions", PromptTokens = 12, CompletionTokens = 34, CostNanos = 5_000, Status = 200, LatencyMs = 12.5, Stream = true,
            Tags = ["a", "b \"quoted\""], StartTime = start, EndTime = start.AddMilliseconds(12.5),
        };
        var bare = new SpendLog
        {
            // Empty strings are stored as empty strings, not NULL (the NOT NULL columns would refuse the whole batch).
            LogId = "log-bare-" + backend, RequestId = "req_2", ApiKey = "hashed-key-1", Model = "", CallType = "", KeyAlias = "", Status = 429,
            StartTime = start.AddSeconds(1), EndTime = start.AddSeconds(2),
        };

        await store.WriteBatchAsync([full, bare], CancellationToken.None);
        await store.WriteBatchAsync([full, bare], CancellationToken.None);   // a replay of the same logs

        var logs = await store.LogsAsync(new SpendQuery(ApiKey: "hashed-key-1"), CancellationToken.None);
        Assert.Equal(2, logs.Count);
        var gotFull = logs.Single(l => l.LogId == full.LogId);
        var gotBare = logs.Single(l => l.LogId == bare.LogId);
        Assert.Equal(full with { Tags = [] }, gotFull with { Tags = [] });
        Assert.Equal(full.Tags, gotFull.Tags);
        Assert.Equal(bare with { Tags = [] }, gotBare with { Tags = [] });
        Assert.Empty(gotBare.Tags);
        // Times are compared as text by the budget and spend queries: the stored text must order like the times.
        Assert.Equal(5_000, await store.SpendSinceAsync("key", "hashed-key-1", start, CancellationToken.None));
        Assert.Equal(0, await store.SpendSinceAsync("key", "hashed-key-1", start.AddSeconds(3), CancellationToken.None));
        Assert.Equal(5_000, await store.SpendSinceAsync("team", "t1", DateTimeOffset.MinValue, CancellationToken.None));
    }
}
