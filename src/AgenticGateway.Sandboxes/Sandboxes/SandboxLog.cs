namespace AgenticGateway.Sandboxes;

/// <summary>The sandbox gateway's log messages (event ids 100-119). Never log code, output or file contents.</summary>
internal static partial class SandboxLog
{
    [LoggerMessage(189, LogLevel.Error, "Sandbox {Id}: usage sampling failed and stops for it (its metrics keep the samples taken)")]
    public static partial void SamplingFailed(ILogger logger, string id, Exception exception);

    [LoggerMessage(100, LogLevel.Information, "Sandboxes enabled: {Driver}, pools {Pools}")]
    public static partial void Enabled(ILogger logger, string driver, string pools);

    [LoggerMessage(101, LogLevel.Warning, "Sandboxes disabled: {Reason}")]
    public static partial void Disabled(ILogger logger, string reason);

    [LoggerMessage(102, LogLevel.Warning, "Reaped {Count} sandboxes left behind by an earlier run")]
    public static partial void Reaped(ILogger logger, int count);

    [LoggerMessage(103, LogLevel.Information, "Sandbox {Id} ({Runtime}) created for {Owner} in {Milliseconds:F1} ms ({Source})")]
    public static partial void Created(ILogger logger, string id, string runtime, string owner, double milliseconds, string source);

    [LoggerMessage(104, LogLevel.Information, "Sandbox {Id} ended: {Reason}")]
    public static partial void Ended(ILogger logger, string id, string reason);

    [LoggerMessage(105, LogLevel.Warning, "Sandbox {Id} failed to start: {Message}")]
    public static partial void StartFailed(ILogger logger, string id, string message);

    [LoggerMessage(106, LogLevel.Warning, "Sandbox {Id} runs without cgroup limits: {Problem}")]
    public static partial void NoCgroup(ILogger logger, string id, string problem);

    [LoggerMessage(107, LogLevel.Debug, "Sandbox {Id} agent: {Line}")]
    public static partial void AgentStderr(ILogger logger, string id, string line);

    [LoggerMessage(108, LogLevel.Warning, "Warm pool for {Runtime} could not start a sandbox: {Message}")]
    public static partial void PoolFillFailed(ILogger logger, string runtime, string message);

    [LoggerMessage(110, LogLevel.Warning, "Sandbox driver {Driver} is offered but unavailable here (creates asking for it get 503, pools on it stay empty): {Reason}")]
    public static partial void DriverUnavailable(ILogger logger, string driver, string reason);

    [LoggerMessage(111, LogLevel.Debug, "Sandbox {Id} start phases (ms since the start): {Phases}")]
    public static partial void StartPhases(ILogger logger, string id, string phases);

    [LoggerMessage(109, LogLevel.Information, "Egress from sandbox {Id} to {Host}:{Port} {Decision}")]
    public static partial void Egress(ILogger logger, string id, string host, int port, string decision);
}
