namespace AgenticGateway.Sandboxes.Egress;

/// <summary>The egress proxy's own log messages (event ids 150-159).</summary>
internal static partial class EgressLog
{
    [LoggerMessage(150, LogLevel.Warning, "Egress from sandbox {Id} to {Host}:{Port} refused: {Reason}")]
    public static partial void Refused(ILogger logger, string id, string host, int port, string reason);
}
