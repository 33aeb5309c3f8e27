using AgenticGateway.Edge.Middlewares;
using AgenticGateway.Keys;
using AgenticGateway.OpenAi;
using AgenticGateway.Pipeline;
using AgenticGateway.Runtime;

namespace AgenticGateway.Hosting;

/// <summary>The pipeline's client authentication and error writer, lent to the edge's gateway middlewares.</summary>
internal sealed class EdgeGatewayAccess(ClientAuth auth, RuntimeHolder runtimes) : IGatewayEdgeAccess
{
    public ValueTask<(Caller? Caller, ApiError? Error)> AuthenticateAsync(HttpRequest request, CancellationToken cancellationToken) =>
        auth.AuthenticateAsync(request, runtimes.Current, cancellationToken);

    public Task WriteErrorAsync(HttpContext context, ApiError error) => ErrorWriter.WriteAsync(context.Response, error);
}
