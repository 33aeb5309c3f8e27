using AgenticGateway.Sandboxes.Agent;
using AgenticGateway.Sandboxes.Protocol;

namespace AgenticGateway.Services.E2b.Envd;

/// <summary>
/// A Connect RPC failure: one of the protocol's sixteen codes and a message. Unary calls answer it as
/// <c>{"code", "message"}</c> with the HTTP status the code maps to; streams carry it in their end-of-stream message
/// (connectrpc.com/docs/protocol, "Error Codes").
/// </summary>
internal sealed class ConnectError(string code, string message) : Exception(message)
{
    public const string Canceled = "canceled", Unknown = "unknown", InvalidArgument = "invalid_argument",
        DeadlineExceeded = "deadline_exceeded", NotFound = "not_found", AlreadyExists = "already_exists",
        PermissionDenied = "permission_denied", ResourceExhausted = "resource_exhausted",
        FailedPrecondition = "failed_precondition", Aborted = "aborted", OutOfRange = "out_of_range",
        Unimplemented = "unimplemented", Internal = "internal", Unavailable = "unavailable", DataLoss = "data_loss",
        Unauthenticated = "unauthenticated";

    public string Code { get; } = code;

    /// <summary>The HTTP status of a unary error with this code (the protocol's table).</summary>
    public static int HttpStatus(string code) => code switch
    {
        Canceled => 499,
        InvalidArgument or FailedPrecondition or OutOfRange => 400,
        DeadlineExceeded => 504,
        NotFound => 404,
        AlreadyExists or Aborted => 409,
        PermissionDenied => 403,
        ResourceExhausted => 429,
        Unimplemented => 501,
        Unavailable => 503,
        Unauthenticated => 401,
        _ => 500,
    };

    public static ConnectError Invalid(string message) => new(InvalidArgument, message);

    /// <summary>
    /// The agent's refusal as envd reports it: a path outside the writable roots is envd's permission error, a
    /// missing file not_found (the SDK's files.exists reads that code), a sandbox that ended unavailable.
    /// </summary>
    public static ConnectError FromAgent(AgentException ex) => ex.Code switch
    {
        AgentErrors.Invalid => new(InvalidArgument, ex.Message),
        AgentErrors.NotFound => new(NotFound, ex.Message),
        AgentErrors.Exists => new(AlreadyExists, ex.Message),
        AgentErrors.Busy => new(FailedPrecondition, ex.Message),
        AgentErrors.Denied => new(PermissionDenied, "permission denied: " + ex.Message),
        AgentErrors.TooLarge => new(ResourceExhausted, ex.Message),
        AgentErrors.Limit => new(ResourceExhausted, ex.Message),
        "sandbox_gone" => new(Unavailable, "the sandbox has ended"),
        _ => new(Internal, ex.Message),
    };
}
