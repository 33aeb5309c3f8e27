using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.Configuration;
using AgenticGateway.OpenAi;
using AgenticGateway.Providers.Translation;

namespace AgenticGateway.Providers.Google;

/// <summary>
/// Google's Gemini models, over either front door:
/// <list type="bullet">
/// <item>AI Studio (Gemini API): <c>{api_base}/v1beta/models/{model}:generateContent</c> and
/// <c>:streamGenerateContent?alt=sse</c>, authenticated with <c>x-goog-api-key</c>.</item>
/// <item>Vertex AI: <c>{api_base}/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:…</c>,
/// authenticated with an OAuth access token (<c>Authorization: Bearer</c>) from the token delegate.</item>
/// </list>
/// Both speak the same GenerateContent JSON, so one translation serves both.
/// </summary>
internal sealed class GeminiTranslator : IProviderTranslator
{
    private readonly bool _vertex;
    private readonly Func<DeploymentOptions, CancellationToken, ValueTask<string>>? _token;
    private readonly TimeProvider _time;

    /// <summary>AI Studio: the deployment's api_key goes in <c>x-goog-api-key</c>.</summary>
    public GeminiTranslator(TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
    }

    /// <summary>
    /// AI Studio (<paramref name="vertex"/> false) or Vertex AI with <paramref name="token"/> giving the bearer token
    /// for this translator's deployment (e.g. <see cref="VertexTokenSource.ForDeployment"/>).
    /// </summary>
    public GeminiTranslator(bool vertex, Func<CancellationToken, ValueTask<string>>? token, TimeProvider? time = null)
        : this(vertex, token is null ? null : (_, ct) => token(ct), time)
    {
    }

    /// <summary>Vertex AI shared by many deployments: <paramref name="token"/> gives each deployment's token (<see cref="VertexTokenSource.GetTokenAsync"/>).</summary>
    public GeminiTranslator(bool vertex, Func<DeploymentOptions, CancellationToken, ValueTask<string>>? token, TimeProvider? time = null)
    {
        if (vertex && token is null) throw new ArgumentNullException(nameof(token), "Vertex AI needs a token source.");
        _vertex = vertex;
        _token = token;
        _time = time ?? TimeProvider.System;
    }

    public bool IsVertex => _vertex;

    public async ValueTask<TranslatedRequest> BuildChatRequestAsync(ReadOnlyMemory<byte> openAiBody, ProviderCall call, CancellationToken cancellationToken)
    {
        if (!TryParse(openAiBody, out var body, out var parseError)) return TranslatedRequest.Fail(parseError!);
        var content = GeminiRequestWriter.Write(body!, out var error);
        if (content is null) return TranslatedRequest.Fail(error!);
        var method = call.Stream ? "streamGenerateContent?alt=sse" : "generateContent";
        var request = new HttpRequestMessage(HttpMethod.Post, ModelUrl(call, method)) { Content = Json(content) };
        await AuthorizeAsync(request, call.Deployment, cancellationToken);
        return new TranslatedRequest(request, null);
    }

    public byte[] TranslateChatResponse(ReadOnlyMemory<byte> providerBody, ProviderCall call, out Usage? usage) =>
        GeminiResponseReader.Translate(providerBody, call, _time.GetUtcNow().ToUnixTimeSeconds(), out usage);

    public IStreamTranslator CreateChatStream(ProviderCall call) => new GeminiStreamTranslator(call, _time.GetUtcNow().ToUnixTimeSeconds());

    public async ValueTask<TranslatedRequest> BuildEmbeddingsRequestAsync(ReadOnlyMemory<byte> openAiBody, ProviderCall call, CancellationToken cancellationToken)
    {
        if (!TryParse(openAiBody, out var body, out var parseError)) return TranslatedRequest.Fail(parseError!);
        if (GeminiEmbeddings.Parse(body!, out var error) is not { } parsed) return TranslatedRequest.Fail(error!);
        byte[] content;
        string url;
        if (_vertex)
        {
            content = GeminiEmbeddings.WriteVertex(parsed);
            url = ModelUrl(call, "predict");
        }
        else
        {
            content = GeminiEmbeddings.WriteStudio(parsed, call.UpstreamModel);
            url = ModelUrl(call, parsed.Single ? "embedContent" : "batchEmbedContents");
        }
        var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = Json(content) };
        await AuthorizeAsync(request, call.Deployment, cancellationToken);
        return new TranslatedRequest(request, null);
    }

    public byte[] TranslateEmbeddingsResponse(ReadOnlyMemory<byte> providerBody, ProviderCall call, out Usage? usage) =>
        GeminiEmbeddings.Translate(providerBody, call.UpstreamModel, call.Base64Embeddings, out usage);

    public ProviderError ReadError(int status, ReadOnlySpan<byte> body) => GoogleErrors.Read(status, body);

    /// <summary>
    /// <c>{base}/v1beta/models/{model}:{method}</c> for AI Studio, <c>{base}/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:{method}</c>
    /// for Vertex. An api_base that already ends in the version segment is used as is.
    /// </summary>
    public string ModelUrl(ProviderCall call, string method)
    {
        var root = call.Deployment.ApiBase.ToString().TrimEnd('/');
        var model = Uri.EscapeDataString(call.UpstreamModel);
        if (!_vertex)
        {
            if (!root.EndsWith("/v1beta", StringComparison.Ordinal) && !root.EndsWith("/v1", StringComparison.Ordinal)) root += "/v1beta";
            return $"{root}/models/{model}:{method}";
        }
        if (!root.EndsWith("/v1", StringComparison.Ordinal) && !root.EndsWith("/v1beta1", StringComparison.Ordinal)) root += "/v1";
        var cloud = call.Deployment.Cloud;
        var project = Uri.EscapeDataString(cloud.VertexProject ?? throw new InvalidOperationException($"Deployment {call.Deployment.Id} has no vertex_project."));
        var location = Uri.EscapeDataString(cloud.VertexLocation ?? "us-central1");
        return $"{root}/projects/{project}/locations/{location}/publishers/google/models/{model}:{method}";
    }

    private async ValueTask AuthorizeAsync(HttpRequestMessage request, DeploymentOptions deployment, CancellationToken cancellationToken)
    {
        if (_vertex)
        {
            var token = await _token!(deployment, cancellationToken);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        else if (deployment.ApiKey.IsSet)
        {
            request.Headers.TryAddWithoutValidation("x-goog-api-key", deployment.ApiKey.Value);
        }
    }

    private static ByteArrayContent Json(byte[] content)
    {
        var body = new ByteArrayContent(content);
        body.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return body;
    }

    private static bool TryParse(ReadOnlyMemory<byte> body, out JsonObject? json, out ApiError? error)
    {
        error = null;
        json = null;
        try { json = JsonNode.Parse(body.Span) as JsonObject; }
        catch (JsonException) { }
        if (json is null) error = ApiError.BadRequest("The request body must be a JSON object.");
        return json is not null;
    }

}
