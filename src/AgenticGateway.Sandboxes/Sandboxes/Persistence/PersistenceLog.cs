namespace AgenticGateway.Sandboxes.Persistence;

internal static partial class PersistenceLog
{
    [LoggerMessage(160, LogLevel.Information, "Sandbox {Id} saved as {Kind} {StateId}: {Bytes} bytes in {Milliseconds:F0} ms")]
    public static partial void Saved(ILogger logger, string id, string kind, string stateId, long bytes, double milliseconds);

    [LoggerMessage(161, LogLevel.Warning, "Sandbox {Id} could not be saved: {Message}")]
    public static partial void SaveFailed(ILogger logger, string id, string message);

    [LoggerMessage(162, LogLevel.Information, "Sandbox {Id} resumed on {Isolation}")]
    public static partial void Resumed(ILogger logger, string id, string isolation);

    [LoggerMessage(163, LogLevel.Information, "Sandbox {Id} forked from snapshot {SnapshotId}")]
    public static partial void Forked(ILogger logger, string id, string snapshotId);

    [LoggerMessage(164, LogLevel.Warning, "Saved sandbox state {Id} refused: {Message}")]
    public static partial void Corrupt(ILogger logger, string id, string message);

    [LoggerMessage(165, LogLevel.Warning, "Saved sandbox state in {Directory} is not loaded (left on disk): {Problem}")]
    public static partial void Unreadable(ILogger logger, string directory, string problem);

    [LoggerMessage(166, LogLevel.Information, "Sandbox persistence: {Paused} paused sandboxes and {Snapshots} snapshots kept from an earlier run")]
    public static partial void Loaded(ILogger logger, int paused, int snapshots);

    [LoggerMessage(167, LogLevel.Information, "Saved sandbox state {Id} deleted: older than sandboxes.persistence.ttl")]
    public static partial void Expired(ILogger logger, string id);

    [LoggerMessage(168, LogLevel.Warning, "Sandbox {Id} could not be auto-paused and ends: {Message}")]
    public static partial void AutoPauseFailed(ILogger logger, string id, string message);
}
