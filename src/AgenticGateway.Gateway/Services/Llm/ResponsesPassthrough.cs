using System.Net.Http.Headers;
using AgenticGateway.Routing;

namespace AgenticGateway.Services.Llm;

/// <summary>
/// A Responses request to a deployment that serves the Responses API itself (OpenAI, Azure): the client's body with the
/// upstream model and the stored conversation written out (<see cref="ResponsesCall.NativeBody"/>), to the deployment's
/// Responses endpoint with its own credentials.
/// </summary>
internal static class ResponsesPassthrough
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");

    public static HttpRequestMessage Build(LlmExchange x, Deployment d, string upstreamModel)
    {
        var content = new ByteArrayContent(x.Responses!.NativeBody(x.Body.Span, upstreamModel, x.Request.Stream));
        content.Headers.ContentType = Json;
        return new HttpRequestMessage(HttpMethod.Post, d.ResponsesUri) { Content = content };
    }
}
