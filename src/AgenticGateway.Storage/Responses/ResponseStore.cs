using System.Globalization;
using AgenticGateway.Storage;
using Dapper;

namespace AgenticGateway.Responses;

/// <summary>
/// Stored responses in the gateway's database (SQLite or PostgreSQL), one row per response. Times are ISO-8601 UTC
/// text of one width, so comparing the text compares the times (as the spend log's queries do). Expiry is checked by
/// every read against the clock, so an expired row is gone at once; the purge only reclaims the space.
/// </summary>
internal sealed class ResponseStore(IDatabase db, TimeProvider time) : IResponseStore
{
    /// <summary>Rows one purge statement deletes: rows may be megabytes each, and SQLite's other writers wait for the statement.</summary>
    internal const int PurgeBatchSize = 100;
    /// <summary>Statements one purge call runs at most, so a call's work is bounded however much has expired.</summary>
    internal const int PurgeBatches = 10;

    private const string Columns = "id, owner, team_id, model, status, created_at, expires_at, previous_response_id, input_items, response";
    private const string ChainColumns = "r.id, r.owner, r.team_id, r.model, r.status, r.created_at, r.expires_at, r.previous_response_id, r.input_items, r.response";

    public async Task SaveAsync(StoredResponse r, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        // The WHERE keeps another owner's row with the same id untouched (ids are random, so this means a bug or a forgery).
        var changed = await c.ExecuteAsync(new CommandDefinition($"""
            INSERT INTO responses ({Columns}, updated_at)
            VALUES (@Id, @Owner, @TeamId, @Model, @Status, @CreatedAt, @ExpiresAt, @PreviousResponseId, @InputItems, @Response, @UpdatedAt)
            ON CONFLICT (id) DO UPDATE SET team_id = excluded.team_id, model = excluded.model, status = excluded.status,
                created_at = excluded.created_at, expires_at = excluded.expires_at, previous_response_id = excluded.previous_response_id,
                input_items = excluded.input_items, response = excluded.response, updated_at = excluded.updated_at
            WHERE responses.owner = excluded.owner
            """, new
        {
            r.Id, r.Owner, r.TeamId, r.Model, r.Status, CreatedAt = Time(r.CreatedAt), ExpiresAt = Time(r.ExpiresAt), r.PreviousResponseId,
            InputItems = r.InputItemsJson, Response = r.ResponseJson, UpdatedAt = Time(time.GetUtcNow()),
        }, cancellationToken: ct));
        if (changed == 0) throw new InvalidOperationException($"response id {r.Id} is already stored for another owner");
    }

    public async Task<StoredResponse?> GetAsync(string id, string owner, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var row = await c.QuerySingleOrDefaultAsync<Row>(new CommandDefinition(
            $"SELECT {Columns} FROM responses WHERE id = @id AND owner = @owner AND expires_at > @now",
            new { id, owner, now = Time(time.GetUtcNow()) }, cancellationToken: ct));
        return row?.ToResponse();
    }

    public async Task<IReadOnlyList<StoredResponse>> GetChainAsync(string id, string owner, int maxDepth, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDepth, 1);
        await using var c = await db.OpenAsync(ct);
        // The walk carries ids only; the rows (megabytes each, perhaps) are read once, by the join at the end. Every
        // step checks owner and expiry, so a link to a row that fails them ends the walk there.
        var rows = await c.QueryAsync<Row>(new CommandDefinition($"""
            WITH RECURSIVE chain (id, previous_response_id, depth) AS (
                SELECT id, previous_response_id, 1 FROM responses WHERE id = @id AND owner = @owner AND expires_at > @now
                UNION ALL
                SELECT r.id, r.previous_response_id, chain.depth + 1 FROM responses r JOIN chain ON r.id = chain.previous_response_id
                WHERE r.owner = @owner AND r.expires_at > @now AND chain.depth < @maxDepth
            )
            SELECT {ChainColumns}
            FROM chain JOIN responses r ON r.id = chain.id
            ORDER BY chain.depth DESC
            """, new { id, owner, now = Time(time.GetUtcNow()), maxDepth }, cancellationToken: ct));
        return [.. rows.Select(r => r.ToResponse())];
    }

    public async Task<bool> DeleteAsync(string id, string owner, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return await c.ExecuteAsync(new CommandDefinition("DELETE FROM responses WHERE id = @id AND owner = @owner AND expires_at > @now",
            new { id, owner, now = Time(time.GetUtcNow()) }, cancellationToken: ct)) > 0;
    }

    public async Task<int> PurgeExpiredAsync(DateTimeOffset now, CancellationToken ct)
    {
        // A database nothing has opened yet is left alone: opening it would create it, and a gateway that stores nothing
        // writes nothing. What expired in it is invisible already, and goes at the first purge after something opens it.
        if (db is MigratingDatabase { Opened: false }) return 0;
        await using var c = await db.OpenAsync(ct);
        var deleted = 0;
        for (var batch = 0; batch < PurgeBatches; batch++)
        {
            // One statement per batch, each its own transaction: a writer waiting on SQLite's lock waits for one batch at most.
            var n = await c.ExecuteAsync(new CommandDefinition(
                "DELETE FROM responses WHERE id IN (SELECT id FROM responses WHERE expires_at <= @now LIMIT @limit)",
                new { now = Time(now), limit = PurgeBatchSize }, cancellationToken: ct));
            deleted += n;
            if (n < PurgeBatchSize) break;
        }
        return deleted;
    }

    /// <summary>ISO-8601 in UTC: every value has the same width and offset, so text order is time order.</summary>
    private static string Time(DateTimeOffset t) => t.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture);

    private static DateTimeOffset Time(string s) => DateTimeOffset.Parse(s, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);

    // Dapper maps columns to these by name.
#pragma warning disable IDE1006
    private sealed record Row(string id, string owner, string? team_id, string model, string status, string created_at, string expires_at,
        string? previous_response_id, string input_items, string response)
    {
        public StoredResponse ToResponse() =>
            new(id, owner, team_id, model, status, Time(created_at), Time(expires_at), previous_response_id, input_items, response);
    }
#pragma warning restore IDE1006
}
