using AgenticGateway.Keys;
using AgenticGateway.OpenAi;

namespace AgenticGateway.Edge.Middlewares;

/// <summary>
/// The gateway's own client authentication and error answers, as the edge's gateway middlewares use them. The pipeline
/// owns both (its ClientAuth and error writer) and itself runs the edge, so the edge reaches them through this
/// interface, which the host fills with the pipeline's implementation: one way of authenticating for every front.
/// </summary>
internal interface IGatewayEdgeAccess
{
    /// <summary>The caller the request's credentials name (master key, virtual key or JWT), or why not; anonymous while auth is off.</summary>
    ValueTask<(Caller? Caller, ApiError? Error)> AuthenticateAsync(HttpRequest request, CancellationToken cancellationToken);

    /// <summary>Answers with the error in OpenAI's JSON shape (the clients of these middlewares are API clients).</summary>
    Task WriteErrorAsync(HttpContext context, ApiError error);
}
