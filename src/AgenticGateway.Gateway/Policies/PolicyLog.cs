namespace AgenticGateway.Policies;

/// <summary>Log messages of routing policies (event ids 2100-2119). Policy ids and files, never request contents.</summary>
internal static partial class PolicyLog
{
    [LoggerMessage(2100, LogLevel.Information, "Routing policies loaded from {Path}: {Count} policies ({Trigger})")]
    public static partial void Loaded(ILogger logger, string path, int count, string trigger);

    [LoggerMessage(2101, LogLevel.Error, "Routing policies from {Path} were not reloaded ({Trigger}); the {Kept} loaded before stay in force:\n{Errors}")]
    public static partial void ReloadFailed(ILogger logger, string path, string trigger, int kept, string errors);

    [LoggerMessage(2102, LogLevel.Information, "Routing policies denied model group {Group}: every candidate is forbidden by {Policies} request_id={RequestId}")]
    public static partial void Denied(ILogger logger, string group, string policies, string requestId);

    [LoggerMessage(2103, LogLevel.Information, "Routing policies (dry run) would have decided otherwise for model group {Group}: {Outcome} request_id={RequestId}")]
    public static partial void DryRunDisagrees(ILogger logger, string group, string outcome, string requestId);

    [LoggerMessage(2105, LogLevel.Information, "Routing policies are off (routing_policies was removed from the configuration)")]
    public static partial void Disabled(ILogger logger);

    [LoggerMessage(2106, LogLevel.Warning, "Routing policies from {Path} are not watched for changes (reload them with POST /policies/reload): {Reason}")]
    public static partial void NotWatched(ILogger logger, string path, string reason);
}
