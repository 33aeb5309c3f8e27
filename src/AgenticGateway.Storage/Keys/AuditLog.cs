using AgenticGateway.Storage;
using Dapper;

namespace AgenticGateway.Keys;

/// <summary>One management action: who did what to which object, with the object before and after (JSON; secrets never included).</summary>
internal sealed record AuditEntry(long Id, string At, string Actor, string Action, string ObjectType, string ObjectId, string? BeforeValue, string? AfterValue);

/// <summary>The audit log of management actions, in the gateway's database.</summary>
internal sealed class AuditLog(IDatabase db, TimeProvider time)
{
    public async Task RecordAsync(string actor, string action, string objectType, string objectId, string? before, string? after, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        await c.ExecuteAsync("""
            INSERT INTO audit_log (at, actor, action, object_type, object_id, before_value, after_value)
            VALUES (@at, @actor, @action, @objectType, @objectId, @before, @after)
            """, new { at = time.GetUtcNow().ToString("O"), actor, action, objectType, objectId, before, after });
    }

    public async Task<IReadOnlyList<AuditEntry>> ListAsync(string? objectType, string? objectId, int limit, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var rows = await c.QueryAsync<(long, string, string, string, string, string, string?, string?)>("""
            SELECT id, at, actor, action, object_type, object_id, before_value, after_value FROM audit_log
            WHERE (@objectType IS NULL OR object_type = @objectType) AND (@objectId IS NULL OR object_id = @objectId)
            ORDER BY id DESC LIMIT @limit
            """, new { objectType, objectId, limit });
        return rows.Select(r => new AuditEntry(r.Item1, r.Item2, r.Item3, r.Item4, r.Item5, r.Item6, r.Item7, r.Item8)).ToList();
    }
}
