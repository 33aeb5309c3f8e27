using AgenticGateway.OpenAi;

namespace AgenticGateway.Pipeline;

/// <summary>
/// Errors are values: a step or service that refuses a request returns an <see cref="ApiError"/>, and this writes it
/// once, in the route's shape (Anthropic's for /v1/messages, OpenAI's elsewhere), and notes it for the access log and span.
/// </summary>
internal static class PipelineErrors
{
    public static async Task WriteAsync(HttpContext context, ApiError error)
    {
        var request = context.Features.Get<GatewayRequest>();
        if (request is not null) request.Error = error;
        try
        {
            // By route, and by path for what no route serves (an unknown path under /v1/messages is an Anthropic client's).
            var route = request?.Route ?? context.Route();
            if (route.Router == GatewayRoute.McpRouter || ErrorShapes.IsJsonRpc(context.Request.Path)) await ErrorWriter.WriteJsonRpcAsync(context.Response, error);
            else if (route.Operation.StartsWith(GatewayRoute.E2bOperationPrefix, StringComparison.Ordinal)) await ErrorWriter.WriteCodeMessageAsync(context.Response, error);
            else await ErrorWriter.WriteAsync(context.Response, error, route.AnthropicErrors || ErrorShapes.IsAnthropic(context.Request.Path));
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
            // The client left; there is nobody to tell.
        }
    }

    /// <summary>The request id the pipeline gave this request.</summary>
    public static string RequestId(this HttpContext context) => context.Features.Get<GatewayRequest>()?.Id ?? RequestIds.AcceptOrMint(context);
}
