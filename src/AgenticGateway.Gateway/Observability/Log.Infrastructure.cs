namespace AgenticGateway.Observability;

/// <summary>Messages of the infrastructure clients (Redis); event ids 190-199.</summary>
internal static partial class Log
{
    [LoggerMessage(190, LogLevel.Information, "Connected to Redis at {Endpoint}: limits and budgets are shared by every replica")]
    public static partial void RedisConnected(ILogger logger, string endpoint);
}
