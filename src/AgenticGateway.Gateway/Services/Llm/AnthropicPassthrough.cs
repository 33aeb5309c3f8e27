using AgenticGateway.Providers.Anthropic;
using AgenticGateway.Routing;

namespace AgenticGateway.Services.Llm;

/// <summary>
/// An Anthropic-format request to an Anthropic deployment goes as it came: the client's bytes with only the model
/// replaced, so every field (including ones newer than this gateway) reaches Anthropic. The client's
/// <c>anthropic-version</c> and <c>anthropic-beta</c> headers go along; the key is the deployment's.
/// </summary>
internal static class AnthropicPassthrough
{
    public static HttpRequestMessage Build(LlmExchange x, Deployment d, byte[] modelToken)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, AnthropicTranslator.MessagesUri(d.Options.ApiBase))
        {
            Content = UpstreamContent.WithModel(x.Body.Memory, x.Request, modelToken),
        };
        AnthropicTranslator.AddDirectHeaders(request, d.Options, ClientHeaders(x.Http.Request));
        return request;
    }

    /// <summary>The client's <c>anthropic-version</c> and <c>anthropic-beta</c>, to pass on.</summary>
    public static AnthropicHeaders ClientHeaders(HttpRequest client)
    {
        var version = client.Headers["anthropic-version"];
        var beta = client.Headers["anthropic-beta"];
        return new AnthropicHeaders(version.Count > 0 ? version.ToString() : null, beta.Count > 0 ? beta.ToString() : null);
    }
}
