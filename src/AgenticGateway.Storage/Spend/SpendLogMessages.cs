namespace AgenticGateway.Spend;

/// <summary>Log messages of the spend log's storage, defined once with their event ids.</summary>
internal static partial class SpendLogMessages
{
    [LoggerMessage(20, LogLevel.Warning, "Writing {Count} spend logs failed, retrying in {DelaySeconds:F1}s (they are safe in the write-ahead file): {Message}")]
    public static partial void SpendWriteFailed(ILogger logger, int count, double delaySeconds, string message);

    [LoggerMessage(21, LogLevel.Information, "Replayed {Count} spend logs from {Segment}")]
    public static partial void SpendReplayed(ILogger logger, int count, string segment);
}
