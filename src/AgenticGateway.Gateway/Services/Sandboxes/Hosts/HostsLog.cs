namespace AgenticGateway.Services.Sandboxes.Hosts;

/// <summary>The sandbox hosts' log messages (event ids 175-179). Never a secret, a signature or a caller's credentials.</summary>
internal static partial class HostsLog
{
    [LoggerMessage(175, LogLevel.Information, "Sandbox host {Host} registers at {Url} (heartbeat {Heartbeat}, entries lapse after {Ttl})")]
    public static partial void Registering(ILogger logger, string host, string url, TimeSpan heartbeat, TimeSpan ttl);

    [LoggerMessage(176, LogLevel.Warning, "Sandbox host registry: {What} failed: {Message}")]
    public static partial void RegistryWriteFailed(ILogger logger, string what, string message);

    [LoggerMessage(177, LogLevel.Warning, "Sandbox call {Method} {Path} could not reach host {Host} at {Url}: {Error}")]
    public static partial void ForwardFailed(ILogger logger, string method, string path, string host, string url, string error);

    [LoggerMessage(178, LogLevel.Warning, "Refused a sandbox call with an invalid {Header} header from {Remote}")]
    public static partial void ForgedCall(ILogger logger, string header, string? remote);

    [LoggerMessage(179, LogLevel.Information, "Sandbox create sent to host {Host} ({Active} running there): this host runs its maximum of {Max} (0: it runs none)")]
    public static partial void Placed(ILogger logger, string host, int active, int max);
}
