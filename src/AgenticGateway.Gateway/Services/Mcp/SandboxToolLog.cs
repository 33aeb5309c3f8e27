namespace AgenticGateway.Services.Mcp;

/// <summary>The built-in sandbox MCP server's log messages (event ids 260-269). Never code, output, file contents or session ids.</summary>
internal static partial class SandboxToolLog
{
    [LoggerMessage(260, LogLevel.Information, "MCP sandbox {Id} replaces its caller's earlier sandbox, which ended: {Reason}")]
    public static partial void Replaced(ILogger logger, string id, string reason);

    [LoggerMessage(261, LogLevel.Warning, "Sandbox {Id} did not answer an MCP tool call within {Seconds:F0} s; the call was cancelled")]
    public static partial void Unanswered(ILogger logger, string id, double seconds);
}
