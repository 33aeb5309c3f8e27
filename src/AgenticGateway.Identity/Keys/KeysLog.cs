namespace AgenticGateway.Keys;

/// <summary>Log messages of identities (JWT signing keys), defined once with their event ids.</summary>
internal static partial class KeysLog
{
    [LoggerMessage(63, LogLevel.Warning, "Fetching JWT signing keys from {Url} failed: {Message}")]
    public static partial void JwksFetchFailed(ILogger logger, string url, string message);

    [LoggerMessage(64, LogLevel.Information, "Loaded {Count} JWT signing keys from {Urls}")]
    public static partial void JwksLoaded(ILogger logger, int count, string urls);
}
