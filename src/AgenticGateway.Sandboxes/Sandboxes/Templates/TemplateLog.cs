namespace AgenticGateway.Sandboxes.Templates;

internal static partial class TemplateLog
{
    [LoggerMessage(185, LogLevel.Information, "Template {Name} ({Id}) of {Owner}: build {BuildId} started (layer {Digest})")]
    public static partial void BuildStarted(ILogger logger, string name, string id, string owner, string buildId, string digest);

    [LoggerMessage(186, LogLevel.Information, "Template build {BuildId} ready in {Milliseconds:0} ms ({Source})")]
    public static partial void BuildReady(ILogger logger, string buildId, double milliseconds, string source);

    [LoggerMessage(187, LogLevel.Information, "Template build {BuildId} failed: {Reason}")]
    public static partial void BuildFailed(ILogger logger, string buildId, string reason);

    [LoggerMessage(188, LogLevel.Warning, "Template record {File} is unreadable and was skipped: {Reason}")]
    public static partial void RecordUnreadable(ILogger logger, string file, string reason);

    [LoggerMessage(2310, LogLevel.Information, "Template {Name}: boot image made in {Directory} ({Bytes} bytes)")]
    public static partial void ImageBuilt(ILogger logger, string name, string directory, long bytes);

    [LoggerMessage(2311, LogLevel.Debug, "Template {Name}: boot image {Directory} reused (checksum verified)")]
    public static partial void ImageReused(ILogger logger, string name, string directory);

    [LoggerMessage(2312, LogLevel.Warning, "Template {Name}: boot image {Directory} does not match its checksum or its layer: made again, not booted")]
    public static partial void ImageDamaged(ILogger logger, string name, string directory);
}
