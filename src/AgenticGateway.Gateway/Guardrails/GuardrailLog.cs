namespace AgenticGateway.Guardrails;

/// <summary>Log messages of the guardrails (event ids 2000-2019). They name guardrails and kinds, never the text checked.</summary>
internal static partial class GuardrailLog
{
    [LoggerMessage(2000, LogLevel.Error, "Guardrail {Guardrail} has type {Type}, which no guardrail implementation on this gateway builds: it refuses every request it would check")]
    public static partial void Unavailable(ILogger logger, string guardrail, string type);

    [LoggerMessage(2001, LogLevel.Warning, "Guardrail {Guardrail} failed ({Error}); the request is refused (fail closed) request_id={RequestId}")]
    public static partial void Failed(ILogger logger, string guardrail, string error, string requestId);

    [LoggerMessage(2002, LogLevel.Information, "Guardrail {Guardrail} ({Mode}) blocked the request: {Reason} request_id={RequestId}")]
    public static partial void Blocked(ILogger logger, string guardrail, string mode, string reason, string requestId);
}
