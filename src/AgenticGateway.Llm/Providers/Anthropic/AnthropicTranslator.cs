using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.Configuration;
using AgenticGateway.OpenAi;
using AgenticGateway.Providers.Translation;

namespace AgenticGateway.Providers.Anthropic;

/// <summary>
/// The client's own Anthropic headers, passed through to Anthropic: <c>anthropic-version</c> (default
/// <see cref="AnthropicTranslator.DefaultVersion"/>) and <c>anthropic-beta</c> (opt-in features such as
/// extended cache TTLs or interleaved thinking). Null values are not sent.
/// </summary>
internal sealed record AnthropicHeaders(string? Version = null, string? Beta = null)
{
    public static readonly AnthropicHeaders None = new();
}

/// <summary>
/// OpenAI chat completions over Anthropic's Messages API, either direct (<c>POST {api_base}/v1/messages</c>,
/// <c>x-api-key</c> and <c>anthropic-version</c> headers) or Claude on Vertex AI (<see cref="ForVertex"/>:
/// <c>{api_base}/v1/projects/{project}/locations/{location}/publishers/anthropic/models/{model}:rawPredict</c> or
/// <c>:streamRawPredict</c>, the version in the body as <c>anthropic_version</c>, no <c>model</c> in the body, and
/// a Google OAuth bearer token). Both speak the same bodies and stream events, so one class serves both.
/// </summary>
internal sealed class AnthropicTranslator : IProviderTranslator
{
    /// <summary>The Messages API version sent when the client names none.</summary>
    public const string DefaultVersion = "2023-06-01";

    /// <summary>The body's <c>anthropic_version</c> that Vertex AI requires for Claude.</summary>
    public const string VertexVersion = "vertex-2023-10-16";

    /// <summary>Vertex's location when neither the deployment nor the environment names one.</summary>
    public const string DefaultVertexLocation = "us-central1";

    private readonly Func<CancellationToken, ValueTask<string>>? _vertexToken;
    private readonly TimeProvider _time;

    /// <summary>A translator for Anthropic's own API.</summary>
    /// <param name="headers">The client's anthropic-version and anthropic-beta headers to pass through (per request).</param>
    /// <param name="time">Clock for the OpenAI <c>created</c> field.</param>
    public AnthropicTranslator(AnthropicHeaders? headers = null, TimeProvider? time = null)
        : this(null, headers, time)
    {
    }

    private AnthropicTranslator(Func<CancellationToken, ValueTask<string>>? vertexToken, AnthropicHeaders? headers, TimeProvider? time)
    {
        _vertexToken = vertexToken;
        Headers = headers ?? AnthropicHeaders.None;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>A translator for Claude on Vertex AI.</summary>
    /// <param name="accessToken">Returns a current Google OAuth access token (cached and refreshed by its owner).</param>
    /// <param name="headers">The client's anthropic-beta header to pass through (Vertex takes the version in the body).</param>
    public static AnthropicTranslator ForVertex(Func<CancellationToken, ValueTask<string>> accessToken, AnthropicHeaders? headers = null, TimeProvider? time = null) =>
        new(accessToken ?? throw new ArgumentNullException(nameof(accessToken)), headers, time);

    /// <summary>The client headers this translator passes through.</summary>
    public AnthropicHeaders Headers { get; }

    /// <summary>True for Claude on Vertex AI.</summary>
    public bool IsVertex => _vertexToken is not null;

    public ValueTask<TranslatedRequest> BuildChatRequestAsync(ReadOnlyMemory<byte> openAiBody, ProviderCall call, CancellationToken cancellationToken) =>
        BuildChatRequestAsync(openAiBody, call, Headers, cancellationToken);

    /// <summary>As <see cref="BuildChatRequestAsync(ReadOnlyMemory{byte}, ProviderCall, CancellationToken)"/>, with this request's client headers.</summary>
    public async ValueTask<TranslatedRequest> BuildChatRequestAsync(ReadOnlyMemory<byte> openAiBody, ProviderCall call, AnthropicHeaders headers, CancellationToken cancellationToken)
    {
        byte[] body;
        try
        {
            using var document = JsonDocument.Parse(openAiBody);
            body = AnthropicRequestWriter.Write(document.RootElement, IsVertex ? null : call.UpstreamModel, IsVertex ? VertexVersion : null, call.Stream);
        }
        catch (JsonException ex)
        {
            return TranslatedRequest.Fail(ApiError.BadRequest("The request body is not valid JSON: " + ex.Message));
        }
        catch (AnthropicRequestException ex)
        {
            return TranslatedRequest.Fail(ex.Error);
        }

        if (!TryBuildUri(call, call.Stream ? "streamRawPredict" : "rawPredict", out var uri, out var error)) return TranslatedRequest.Fail(error!);
        var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = JsonContent(body) };
        await AddAuthAsync(request, call.Deployment, headers, cancellationToken);
        return new TranslatedRequest(request, null);
    }

    /// <summary>
    /// Builds a token-counting request for the same conversation (<c>POST /v1/messages/count_tokens</c>, or Vertex's
    /// <c>count-tokens:rawPredict</c>): the answer is <c>{"input_tokens": N}</c>.
    /// </summary>
    public async ValueTask<TranslatedRequest> BuildCountTokensRequestAsync(ReadOnlyMemory<byte> openAiBody, ProviderCall call, AnthropicHeaders? headers, CancellationToken cancellationToken)
    {
        byte[] body;
        try
        {
            using var document = JsonDocument.Parse(openAiBody);
            var full = JsonNode.Parse(AnthropicRequestWriter.Write(document.RootElement, call.UpstreamModel, null, stream: false))!.AsObject();
            var counted = new JsonObject();
            // count_tokens takes the prompt-shaping fields only; sampling and output limits are refused there.
            foreach (var name in (string[])["model", "system", "messages", "tools", "tool_choice", "thinking"])
                if (full[name] is { } value) counted[name] = value.DeepClone();
            body = System.Text.Encoding.UTF8.GetBytes(counted.ToJsonString());
        }
        catch (JsonException ex)
        {
            return TranslatedRequest.Fail(ApiError.BadRequest("The request body is not valid JSON: " + ex.Message));
        }
        catch (AnthropicRequestException ex)
        {
            return TranslatedRequest.Fail(ex.Error);
        }
        Uri uri;
        if (IsVertex)
        {
            if (!TryBuildVertexUri(call.Deployment, "count-tokens", "rawPredict", out uri, out var error)) return TranslatedRequest.Fail(error!);
        }
        else uri = CountTokensUri(call.Deployment.ApiBase);
        var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = JsonContent(body) };
        await AddAuthAsync(request, call.Deployment, headers ?? Headers, cancellationToken);
        return new TranslatedRequest(request, null);
    }

    /// <summary>The Messages endpoint under an api_base given with or without <c>/v1</c> or <c>/v1/messages</c> (LiteLLM accepts all three).</summary>
    public static Uri MessagesUri(Uri apiBase)
    {
        var root = apiBase.ToString().TrimEnd('/');
        if (root.EndsWith("/v1/messages", StringComparison.Ordinal)) return new Uri(root);
        return new Uri(root.EndsWith("/v1", StringComparison.Ordinal) ? root + "/messages" : root + "/v1/messages");
    }

    /// <summary>The token counting endpoint, <c>{api_base}/v1/messages/count_tokens</c>.</summary>
    public static Uri CountTokensUri(Uri apiBase) => new(MessagesUri(apiBase) + "/count_tokens");

    public byte[] TranslateChatResponse(ReadOnlyMemory<byte> providerBody, ProviderCall call, out Usage? usage) =>
        AnthropicResponseReader.Translate(providerBody, call.RequestId, call.UpstreamModel, _time.GetUtcNow().ToUnixTimeSeconds(), out usage);

    public IStreamTranslator CreateChatStream(ProviderCall call) => new AnthropicStreamTranslator(call, _time.GetUtcNow().ToUnixTimeSeconds());

    public ValueTask<TranslatedRequest> BuildEmbeddingsRequestAsync(ReadOnlyMemory<byte> openAiBody, ProviderCall call, CancellationToken cancellationToken) =>
        ValueTask.FromResult(TranslatedRequest.Fail(ApiError.BadRequest(
            $"Anthropic has no embeddings API; '{call.UpstreamModel}' cannot create embeddings (Anthropic recommends Voyage AI).", "model", "model_not_supported")));

    public byte[] TranslateEmbeddingsResponse(ReadOnlyMemory<byte> providerBody, ProviderCall call, out Usage? usage) =>
        throw new NotSupportedException("Anthropic has no embeddings API.");

    public ProviderError ReadError(int status, ReadOnlySpan<byte> body) => AnthropicErrors.Read(status, body);

    private bool TryBuildUri(ProviderCall call, string vertexMethod, out Uri uri, out ApiError? error)
    {
        if (IsVertex) return TryBuildVertexUri(call.Deployment, call.UpstreamModel, vertexMethod, out uri, out error);
        uri = MessagesUri(call.Deployment.ApiBase);
        error = null;
        return true;
    }

    /// <summary><c>{api_base}/v1/projects/{project}/locations/{location}/publishers/anthropic/models/{model}:{method}</c>.</summary>
    private static bool TryBuildVertexUri(DeploymentOptions deployment, string model, string method, out Uri uri, out ApiError? error)
    {
        uri = null!;
        var project = deployment.Cloud.VertexProject;
        if (string.IsNullOrEmpty(project))
        {
            error = new ApiError(500, $"Deployment '{deployment.Id}' has no Vertex AI project (vertex_project).", "server_error");
            return false;
        }
        var location = deployment.Cloud.VertexLocation is { Length: > 0 } l ? l : DefaultVertexLocation;
        var root = deployment.ApiBase.ToString().TrimEnd('/');
        if (root.EndsWith("/v1", StringComparison.Ordinal)) root = root[..^3];
        uri = new Uri($"{root}/v1/projects/{Uri.EscapeDataString(project)}/locations/{Uri.EscapeDataString(location)}/publishers/anthropic/models/{model}:{method}");
        error = null;
        return true;
    }

    private async ValueTask AddAuthAsync(HttpRequestMessage request, DeploymentOptions deployment, AnthropicHeaders headers, CancellationToken cancellationToken)
    {
        if (_vertexToken is not null)
        {
            var token = await _vertexToken(cancellationToken);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        else
        {
            AddDirectHeaders(request, deployment, headers with { Beta = null });
        }
        if (headers.Beta is { Length: > 0 } beta) request.Headers.TryAddWithoutValidation("anthropic-beta", beta);
    }

    /// <summary>Anthropic's own API: the deployment's key as <c>x-api-key</c>, the client's (or the default) version, its beta features.</summary>
    public static void AddDirectHeaders(HttpRequestMessage request, DeploymentOptions deployment, AnthropicHeaders headers)
    {
        if (deployment.ApiKey.IsSet) request.Headers.TryAddWithoutValidation("x-api-key", deployment.ApiKey.Value);
        request.Headers.TryAddWithoutValidation("anthropic-version", headers.Version is { Length: > 0 } v ? v : DefaultVersion);
        if (headers.Beta is { Length: > 0 } beta) request.Headers.TryAddWithoutValidation("anthropic-beta", beta);
    }

    private static ByteArrayContent JsonContent(byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }
}
