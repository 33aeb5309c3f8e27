using AgenticGateway.Observability;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.WebUtilities;

namespace AgenticGateway.Pipeline;

/// <summary>
/// Every error response leaves in its API's shape: Anthropic's for <c>/v1/messages</c> and below, OpenAI's for the rest
/// (the OpenAI-compatible routes, key/team/user management, spend and sandboxes). The handlers write their own errors;
/// this catches what they do not: an exception (a bug, or a body Kestrel refused while a handler streamed it) and an
/// error status with an empty body (a path no route serves, a method a route does not take). Kestrel's own refusals,
/// before the application runs, are <see cref="RejectionBodies"/>'s.
/// </summary>
internal static class ErrorShapes
{
    public static bool IsAnthropic(PathString path) => path.StartsWithSegments("/v1/messages", StringComparison.Ordinal);

    /// <summary>MCP clients parse JSON-RPC errors (the pipeline's refusals of /mcp, /mcp/{server} and their SSE paths).</summary>
    public static bool IsJsonRpc(PathString path) => path.StartsWithSegments("/mcp", StringComparison.Ordinal);

    public static void Use(WebApplication app)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("AgenticGateway.Errors");
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            StatusCodeSelector = ex => ex is BadHttpRequestException bad ? bad.StatusCode : StatusCodes.Status500InternalServerError,
            // Logged below, once, with the request id the client sees (or not at all when the client's body was at fault).
            SuppressDiagnosticsCallback = _ => true,
            ExceptionHandler = context => HandleExceptionAsync(context, logger),
        });
        app.UseStatusCodePages(new StatusCodePagesOptions
        {
            HandleAsync = status => IsJsonRpc(status.HttpContext.Request.Path)
                ? ErrorWriter.WriteJsonRpcAsync(status.HttpContext.Response, ForStatus(status.HttpContext.Request, status.HttpContext.Response.StatusCode))
                : ErrorWriter.WriteAsync(status.HttpContext.Response, ForStatus(status.HttpContext.Request, status.HttpContext.Response.StatusCode),
                    IsAnthropic(status.HttpContext.Request.Path)),
        });
    }

    private static Task HandleExceptionAsync(HttpContext context, ILogger logger)
    {
        var exception = context.Features.Get<IExceptionHandlerFeature>()?.Error;
        // The handler cleared the response's headers: the request id the pipeline gave the request goes back on.
        var requestId = context.RequestId();
        context.Response.Headers[RequestIds.Header] = requestId;
        ApiError error;
        if (exception is BadHttpRequestException bad) error = RequestBody.FromKestrel(bad, null);
        else
        {
            Log.Unhandled(logger, exception ?? new InvalidOperationException("unknown error"), context.Request.Path.Value ?? "", requestId);
            error = new ApiError(500, $"Internal gateway error (request id {requestId}).", "server_error", "internal_error");
        }
        return PipelineErrors.WriteAsync(context, error);
    }

    /// <summary>The error for a status set without a body (routing's 404 and 405 among them).</summary>
    private static ApiError ForStatus(HttpRequest request, int status) => status switch
    {
        404 => new ApiError(404, $"Unknown route: {request.Method} {request.Path}", "invalid_request_error", "unknown_url"),
        405 => new ApiError(405, $"Method {request.Method} is not allowed on {request.Path}.", "invalid_request_error", "method_not_allowed"),
        _ => new ApiError(status, ReasonPhrases.GetReasonPhrase(status) is { Length: > 0 } reason ? reason + "." : $"HTTP {status}.",
            status >= 500 ? "server_error" : "invalid_request_error"),
    };
}
