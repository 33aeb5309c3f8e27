namespace AgenticGateway.Observability;

/// <summary>Log messages, defined once with event ids. Never log keys, prompts or completions.</summary>
internal static partial class Log
{
    /// <summary>One line per request: who (key alias and team, never the key), what, where it went, and what it cost.</summary>
    [LoggerMessage(1, LogLevel.Information, "{Method} {Path} {Status} key_alias={KeyAlias} team={Team} model={Model} deployment={Deployment} attempts={Attempts} tokens_in={InputTokens} tokens_out={OutputTokens} cost_usd={CostUsd} duration_ms={DurationMs:F1} overhead_ms={OverheadMs:F2} request_id={RequestId}")]
    public static partial void Access(ILogger logger, string method, string path, int status, string keyAlias, string team, string model, string deployment, int attempts, long inputTokens, long outputTokens, decimal costUsd, double durationMs, double overheadMs, string requestId);

    [LoggerMessage(2, LogLevel.Warning, "Attempt on deployment {Deployment} failed ({ErrorClass}, HTTP {Status}): {Message} request_id={RequestId}")]
    public static partial void AttemptFailed(ILogger logger, string deployment, string errorClass, int status, string message, string requestId);

    [LoggerMessage(3, LogLevel.Warning, "Deployment {Deployment} of {Model} is cooling down for {CooldownSeconds:F0}s after repeated failures")]
    public static partial void CooldownStarted(ILogger logger, string deployment, string model, double cooldownSeconds);

    [LoggerMessage(4, LogLevel.Warning, "Stream from deployment {Deployment} failed after it started: {Message} request_id={RequestId}")]
    public static partial void StreamFailed(ILogger logger, string deployment, string message, string requestId);

    [LoggerMessage(25, LogLevel.Warning, "Stream ended by the gateway: its caller lost access ({Reason}) request_id={RequestId}")]
    public static partial void StreamRevoked(ILogger logger, string reason, string requestId);

    [LoggerMessage(5, LogLevel.Information, "Falling back from {From} to {To} after {ErrorClass} request_id={RequestId}")]
    public static partial void FallingBack(ILogger logger, string from, string to, string errorClass, string requestId);

    [LoggerMessage(10, LogLevel.Information, "Configuration reloaded from {Source}: {Deployments} deployments")]
    public static partial void ConfigReloaded(ILogger logger, string source, int deployments);

    [LoggerMessage(16, LogLevel.Warning, "Configuration change in {Source} to {Settings} needs a restart: those keep their start-up values, the rest of the change is applied")]
    public static partial void ConfigNeedsRestart(ILogger logger, string source, string settings);

    [LoggerMessage(11, LogLevel.Error, "Configuration change in {Source} rejected, keeping the running configuration:\n{Errors}")]
    public static partial void ConfigRejected(ILogger logger, string source, string errors);

    [LoggerMessage(12, LogLevel.Warning, "Configuration warning: {Warning}")]
    public static partial void ConfigWarning(ILogger logger, string warning);

    [LoggerMessage(14, LogLevel.Information, "Agentic Gateway {Version} listening on {Urls} with {Deployments} deployments from {Source}")]
    public static partial void Started(ILogger logger, string version, string urls, int deployments, string source);

    /// <summary>The start line with store_model_in_db: the file's and the database's deployments counted apart.</summary>
    [LoggerMessage(17, LogLevel.Information, "Agentic Gateway {Version} listening on {Urls} with {Deployments} deployments: {FileDeployments} from {Source}, {StoredDeployments} from the database")]
    public static partial void StartedWithStored(ILogger logger, string version, string urls, int deployments, int fileDeployments, string source, int storedDeployments);

    [LoggerMessage(15, LogLevel.Error, "Unhandled error serving {Path} request_id={RequestId}")]
    public static partial void Unhandled(ILogger logger, Exception exception, string path, string requestId);

    [LoggerMessage(22, LogLevel.Warning, "Redis at {Endpoint} is unreachable: limits and budgets fall back to this node's own counters ({Mode}): {Message}")]
    public static partial void RedisDown(ILogger logger, string endpoint, string mode, string message);

    [LoggerMessage(23, LogLevel.Information, "Redis at {Endpoint} is reachable again: limits and budgets are shared again")]
    public static partial void RedisUp(ILogger logger, string endpoint);

    [LoggerMessage(24, LogLevel.Warning, "Budget alert webhook failed: {Message}")]
    public static partial void AlertFailed(ILogger logger, string message);
}
