using System.Collections.Concurrent;
using AgenticGateway.Safety;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Protocol;

namespace AgenticGateway.Mcp.Pinning;

/// <summary>
/// Tool pinning against rug pulls and tool poisoning. Every definition an upstream lists is hashed and compared with its
/// pin. The first sight of a tool is approved (trust on first use) unless new tools wait for an admin or the injection
/// scanner flags its description; a definition that differs from the approved one is quarantined: not listed, calls
/// refused, until an admin approves that exact definition (by its hash, so a second change is not approved by accident).
/// Pins live in the database; this holds them in memory for the request path and re-reads them so every replica sees
/// an approval made on another.
/// </summary>
internal sealed partial class ToolPins(IToolPinStore store, bool approveNewTools, ILogger<ToolPins> log, TimeProvider? time = null)
{
    private readonly ConcurrentDictionary<(string Server, string Tool), ToolPin> _pins = new();
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    private Task? _firstLoad;

    public IEnumerable<ToolPin> All => _pins.Values;

    /// <summary>Reads the pins again (every replica's approvals).</summary>
    public async Task LoadAsync(CancellationToken ct)
    {
        foreach (var pin in await store.LoadAsync(ct)) _pins[(pin.Server, pin.Tool)] = pin;
    }

    /// <summary>
    /// The pins are read when first needed, not at start: a gateway that serves no MCP server touches no database for
    /// them. A failed first read is tried again by the next check.
    /// </summary>
    public Task EnsureLoadedAsync(CancellationToken ct)
    {
        var load = Volatile.Read(ref _firstLoad);
        if (load is null || load.IsFaulted || load.IsCanceled)
        {
            var next = LoadAsync(CancellationToken.None);
            load = Interlocked.CompareExchange(ref _firstLoad, next, load) == load ? next : _firstLoad!;
        }
        return load.IsCompletedSuccessfully ? Task.CompletedTask : load.WaitAsync(ct);
    }

    /// <summary>The pin a definition meets: approved when its hash is the approved one; otherwise it is held and the pin says why.</summary>
    public async ValueTask<ToolPin> CheckAsync(string server, Tool tool, CancellationToken ct)
    {
        await EnsureLoadedAsync(ct);
        var (hash, json) = ToolDefinition.Of(tool);
        var key = (server, tool.Name);
        if (_pins.TryGetValue(key, out var pin))
        {
            if (pin.ApprovedHash == hash)
            {
                // Back to the approved definition (a change undone upstream): nothing is held any more.
                if (pin.Quarantined) await SaveAsync(pin with { PendingHash = null, PendingDefinition = null, Reason = null, UpdatedAt = _time.GetUtcNow() }, ct);
                return _pins[key];
            }
            if (pin.PendingHash == hash) return pin;
            var why = pin.ApprovedHash is null ? "new tool awaiting approval" : "definition changed since it was approved";
            if (Flags(tool) is { } flagged) why += "; " + flagged;
            LogQuarantined(log, server, tool.Name, why);
            return await SaveAsync(pin with { PendingHash = hash, PendingDefinition = json, Reason = why, UpdatedAt = _time.GetUtcNow() }, ct);
        }
        var flags = Flags(tool);
        if (approveNewTools && flags is null)
            return await SaveAsync(new ToolPin(server, tool.Name, hash, null, null, null, _time.GetUtcNow(), "first sight"), ct);
        var reason = flags ?? "new tool awaiting approval";
        LogQuarantined(log, server, tool.Name, reason);
        return await SaveAsync(new ToolPin(server, tool.Name, null, hash, json, reason, _time.GetUtcNow(), null), ct);
    }

    /// <summary>
    /// Approves the held definition of a tool, named by its hash (what the admin read). False when no such definition
    /// is held (approved already, or changed again since the admin looked).
    /// </summary>
    public async Task<ToolPin?> ApproveAsync(string server, string tool, string hash, string by, CancellationToken ct)
    {
        await EnsureLoadedAsync(ct);
        if (!_pins.TryGetValue((server, tool), out var pin) || pin.PendingHash != hash) return null;
        var approved = pin with { ApprovedHash = hash, PendingHash = null, PendingDefinition = null, Reason = null, UpdatedAt = _time.GetUtcNow(), ApprovedBy = by };
        LogApproved(log, server, tool, hash, by);
        return await SaveAsync(approved, ct);
    }

    public ToolPin? Find(string server, string tool) => _pins.GetValueOrDefault((server, tool));

    private async ValueTask<ToolPin> SaveAsync(ToolPin pin, CancellationToken ct)
    {
        await store.SaveAsync(pin, ct);
        _pins[(pin.Server, pin.Tool)] = pin;
        return pin;
    }

    private static string? Flags(Tool tool)
    {
        var hits = InjectionScanner.Scan(tool.Description);
        if (hits.Count == 0 && tool.InputSchema.ValueKind != System.Text.Json.JsonValueKind.Undefined) hits = InjectionScanner.Scan(tool.InputSchema.GetRawText());
        return hits.Count == 0 ? null : "description flagged: " + string.Join("; ", hits);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "MCP tool {Server}/{Tool} quarantined: {Reason}")]
    private static partial void LogQuarantined(ILogger logger, string server, string tool, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "MCP tool {Server}/{Tool} definition {Hash} approved by {By}")]
    private static partial void LogApproved(ILogger logger, string server, string tool, string hash, string by);
}
