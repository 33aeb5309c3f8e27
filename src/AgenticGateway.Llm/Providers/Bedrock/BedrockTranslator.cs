using System.Net.Http.Headers;
using AgenticGateway.Configuration;
using AgenticGateway.OpenAi;
using AgenticGateway.Providers.Translation;

namespace AgenticGateway.Providers.Bedrock;

/// <summary>
/// AWS Bedrock Runtime: chat over Converse (<c>POST /model/{modelId}/converse</c>) and ConverseStream
/// (<c>/converse-stream</c>, AWS event-stream framing), embeddings over InvokeModel (<c>/model/{modelId}/invoke</c>)
/// for Titan and Cohere models. Requests are SigV4-signed (service <c>bedrock</c>) with the deployment's AWS keys,
/// or carry a Bedrock API key as a Bearer token when no AWS keys are set.
/// </summary>
internal sealed class BedrockTranslator(IAwsRequestSigner? signer = null, TimeProvider? time = null) : IProviderTranslator
{
    /// <summary>The SigV4 service name of Bedrock Runtime (its endpoints are bedrock-runtime.{region}.amazonaws.com).</summary>
    public const string SigningService = "bedrock";
    public const string EventStreamContentType = "application/vnd.amazon.eventstream";

    private readonly IAwsRequestSigner _signer = signer ?? new SigV4Signer();
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public ValueTask<TranslatedRequest> BuildChatRequestAsync(ReadOnlyMemory<byte> openAiBody, ProviderCall call, CancellationToken cancellationToken)
    {
        var (body, error) = ConverseRequestWriter.Write(openAiBody.Span, call.UpstreamModel);
        if (error is not null) return ValueTask.FromResult(TranslatedRequest.Fail(error));
        return ValueTask.FromResult(Build(call, call.Stream ? "converse-stream" : "converse", body!, call.Stream ? EventStreamContentType : "application/json"));
    }

    public byte[] TranslateChatResponse(ReadOnlyMemory<byte> providerBody, ProviderCall call, out Usage? usage) =>
        ConverseResponseReader.Translate(providerBody, call, _time.GetUtcNow().ToUnixTimeSeconds(), out usage);

    public IStreamTranslator CreateChatStream(ProviderCall call) => new ConverseStreamTranslator(call, _time.GetUtcNow().ToUnixTimeSeconds());

    public ValueTask<TranslatedRequest> BuildEmbeddingsRequestAsync(ReadOnlyMemory<byte> openAiBody, ProviderCall call, CancellationToken cancellationToken)
    {
        var (body, error) = BedrockEmbeddings.Write(openAiBody.Span, call.UpstreamModel);
        if (error is not null) return ValueTask.FromResult(TranslatedRequest.Fail(error));
        return ValueTask.FromResult(Build(call, "invoke", body!, "application/json"));
    }

    public byte[] TranslateEmbeddingsResponse(ReadOnlyMemory<byte> providerBody, ProviderCall call, out Usage? usage) =>
        BedrockEmbeddings.Translate(providerBody, call.UpstreamModel, call.Base64Embeddings, out usage);

    public ProviderError ReadError(int status, ReadOnlySpan<byte> body) => BedrockErrors.Read(status, body);

    /// <summary>
    /// The operation's URL. The model id is a URI label: every character outside RFC 3986's unreserved set is
    /// percent-encoded, so <c>:</c> in versioned ids and <c>/</c> in ARNs stay inside their one path segment.
    /// </summary>
    public static Uri OperationUri(Uri apiBase, string modelId, string operation) =>
        new(apiBase.AbsoluteUri.TrimEnd('/') + "/model/" + SigV4Signer.UriEncode(modelId) + "/" + operation);

    private TranslatedRequest Build(ProviderCall call, string operation, byte[] body, string accept)
    {
        var deployment = call.Deployment;
        var request = new HttpRequestMessage(HttpMethod.Post, OperationUri(deployment.ApiBase, call.UpstreamModel, operation))
        {
            Content = new ByteArrayContent(body),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Accept.ParseAdd(accept);

        var cloud = deployment.Cloud;
        if (cloud.AwsAccessKeyId.IsSet && cloud.AwsSecretAccessKey.IsSet)
        {
            var region = cloud.AwsRegion ?? RegionFromHost(deployment.ApiBase);
            if (region is null)
            {
                request.Dispose();
                return TranslatedRequest.Fail(new ApiError(500, $"Bedrock deployment '{deployment.Id}' has AWS keys but no region (aws_region_name) to sign for", "server_error", "bedrock_region_missing"));
            }
            var credentials = new AwsCredentials(cloud.AwsAccessKeyId.Value!, cloud.AwsSecretAccessKey.Value!, cloud.AwsSessionToken.IsSet ? cloud.AwsSessionToken.Value : null);
            _signer.Sign(request, body, credentials, region, SigningService, _time.GetUtcNow());
        }
        else if (deployment.ApiKey.IsSet)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", deployment.ApiKey.Value);
        }
        else
        {
            request.Dispose();
            return TranslatedRequest.Fail(new ApiError(500, $"Bedrock deployment '{deployment.Id}' has no credentials: set aws_access_key_id and aws_secret_access_key, or a Bedrock API key as api_key", "server_error", "bedrock_credentials_missing"));
        }
        return new TranslatedRequest(request, null);
    }

    /// <summary><c>bedrock-runtime.us-west-2.amazonaws.com</c> (and its FIPS and VPC-endpoint forms) name their region.</summary>
    internal static string? RegionFromHost(Uri apiBase)
    {
        var labels = apiBase.Host.Split('.');
        for (var i = 0; i + 1 < labels.Length; i++)
            if (labels[i] is "bedrock-runtime" or "bedrock-runtime-fips" && labels[i + 1].Count(c => c == '-') >= 2) return labels[i + 1];
        return null;
    }
}
