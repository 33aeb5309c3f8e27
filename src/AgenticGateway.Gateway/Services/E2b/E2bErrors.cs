using System.Buffers;
using System.Text.Json;
using AgenticGateway.OpenAi;

namespace AgenticGateway.Services.E2b;

/// <summary>The error bodies E2B's clients parse, by the API they called.</summary>
internal enum E2bErrorShape
{
    /// <summary>E2B's REST API: <c>{"code": 404, "message": "..."}</c>.</summary>
    Rest,
    /// <summary>envd's HTTP API (/files, /envs) and the code interpreter: the same <c>{"code", "message"}</c> body.</summary>
    Envd,
    /// <summary>Connect-RPC (process.Process, filesystem.Filesystem): <c>{"code": "not_found", "message": "..."}</c>.</summary>
    Connect,
}

/// <summary>An E2B error as a result: the status and the body in the shape its caller parses.</summary>
internal sealed class E2bError(int status, string message, E2bErrorShape shape) : IResult
{
    public int Status { get; } = status;
    public string Message { get; } = message;
    public E2bErrorShape Shape { get; } = shape;

    /// <summary>The sandbox named is not running (unknown, ended, paused): Connect's unavailable, as the SDKs read it.</summary>
    public bool SandboxNotRunning { get; init; }

    /// <summary>Seconds for a Retry-After header (a full gateway, a quota).</summary>
    public int? RetryAfterSeconds { get; init; }

    public static E2bError From(ApiError error, E2bErrorShape shape) => new(error.Status, error.Message, shape) { RetryAfterSeconds = error.RetryAfterSeconds };

    /// <summary>Connect's code for an HTTP status (connectrpc.com/docs/protocol, "Error Codes").</summary>
    public static string ConnectCode(int status) => status switch
    {
        400 => "invalid_argument",
        401 => "unauthenticated",
        403 => "permission_denied",
        404 => "not_found",
        408 => "deadline_exceeded",
        409 => "already_exists",
        412 => "failed_precondition",
        413 => "resource_exhausted",
        429 => "resource_exhausted",
        499 => "canceled",
        501 => "unimplemented",
        // 502: the sandbox is not running (see E2bAccess); connect clients read an HTTP 502 as unavailable too.
        502 or 503 => "unavailable",
        504 => "deadline_exceeded",
        _ => status >= 500 ? "internal" : "unknown",
    };

    public Task ExecuteAsync(HttpContext context)
    {
        var response = context.Response;
        if (response.HasStarted) return Task.CompletedTask;
        response.StatusCode = Status;
        response.ContentType = "application/json";
        if (RetryAfterSeconds is { } retry) response.Headers.RetryAfter = retry.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            if (Shape == E2bErrorShape.Connect) w.WriteString("code", ConnectCode(Status));
            else w.WriteNumber("code", Status);
            w.WriteString("message", Message);
            w.WriteEndObject();
        }
        response.ContentLength = buffer.WrittenCount;
        return response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted).AsTask();
    }
}
