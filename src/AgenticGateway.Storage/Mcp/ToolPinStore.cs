using AgenticGateway.Mcp.Pinning;
using AgenticGateway.Storage;
using Dapper;

namespace AgenticGateway.Mcp;

/// <summary>MCP tool pins in the gateway's database (SQLite or PostgreSQL), one row per server and tool.</summary>
internal sealed class ToolPinStore(IDatabase db) : IToolPinStore
{
    public async Task<IReadOnlyList<ToolPin>> LoadAsync(CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var rows = await c.QueryAsync<Row>("SELECT server, tool, approved_hash, pending_hash, pending_definition, reason, approved_by, updated_at FROM mcp_tool_pins");
        return [.. rows.Select(r => new ToolPin(r.server, r.tool, r.approved_hash, r.pending_hash, r.pending_definition, r.reason,
            DateTimeOffset.TryParse(r.updated_at, out var at) ? at : DateTimeOffset.UnixEpoch, r.approved_by))];
    }

    public async Task SaveAsync(ToolPin pin, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        await c.ExecuteAsync("""
            INSERT INTO mcp_tool_pins (server, tool, approved_hash, pending_hash, pending_definition, reason, approved_by, updated_at)
            VALUES (@Server, @Tool, @ApprovedHash, @PendingHash, @PendingDefinition, @Reason, @ApprovedBy, @UpdatedAt)
            ON CONFLICT (server, tool) DO UPDATE SET approved_hash = excluded.approved_hash, pending_hash = excluded.pending_hash,
                pending_definition = excluded.pending_definition, reason = excluded.reason, approved_by = excluded.approved_by, updated_at = excluded.updated_at
            """, new { pin.Server, pin.Tool, pin.ApprovedHash, pin.PendingHash, pin.PendingDefinition, pin.Reason, pin.ApprovedBy, UpdatedAt = pin.UpdatedAt.ToString("O") });
    }

    // Dapper maps columns to these by name.
#pragma warning disable IDE1006
    private sealed record Row(string server, string tool, string? approved_hash, string? pending_hash, string? pending_definition, string? reason, string? approved_by, string updated_at);
#pragma warning restore IDE1006
}
