using System.Net.Http.Headers;
using AgenticGateway.Configuration;

namespace AgenticGateway.Providers.Cohere;

/// <summary>
/// Cohere's endpoints under a deployment's api_base: the root (default https://api.cohere.com) plus <c>/v2/chat</c>,
/// <c>/v2/embed</c>, <c>/v2/rerank</c> or <c>/v1/rerank</c>. LiteLLM takes a Cohere chat or embed api_base as the
/// full URL; such an api_base (ending in one of these paths) is cut back to its root, so both spellings work.
/// </summary>
internal static class CohereUrls
{
    private static readonly string[] Endpoints = ["/v2/chat", "/v1/chat", "/v2/embed", "/v1/embed", "/v2/rerank", "/v1/rerank", "/v2", "/v1"];

    public static string Root(DeploymentOptions deployment)
    {
        var root = deployment.ApiBase.ToString().TrimEnd('/');
        foreach (var end in Endpoints)
            if (root.EndsWith(end, StringComparison.Ordinal)) return root[..^end.Length];
        return root;
    }

    /// <summary>The api_base as configured ends in Cohere's v1 rerank path (LiteLLM then uses Cohere's v1 rerank).</summary>
    public static bool AsksForV1Rerank(DeploymentOptions deployment) => deployment.ApiBase.ToString().TrimEnd('/').EndsWith("/v1/rerank", StringComparison.Ordinal);

    public static bool AsksForV2Rerank(DeploymentOptions deployment) => deployment.ApiBase.ToString().TrimEnd('/').EndsWith("/v2/rerank", StringComparison.Ordinal);

    /// <summary>A JSON POST with Cohere's Bearer auth.</summary>
    public static HttpRequestMessage Post(string url, byte[] body, DeploymentOptions deployment)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, url)
        {
            Content = new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
        };
        if (deployment.ApiKey.IsSet) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", deployment.ApiKey.Value);
        return request;
    }

    /// <summary>The model Cohere is asked for: LiteLLM's <c>v2/</c> route prefix is not part of it.</summary>
    public static string Model(string upstream) => upstream.StartsWith("v2/", StringComparison.Ordinal) ? upstream[3..] : upstream;
}
