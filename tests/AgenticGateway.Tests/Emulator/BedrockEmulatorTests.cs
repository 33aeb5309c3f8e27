using System.Buffers;
using System.Net;
using System.Text;
using System.Text.Json;
using AgenticGateway.Configuration;
using AgenticGateway.Providers.Bedrock;
using AgenticGateway.Providers.Translation;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Emulator;

/// <summary>The emulator's Bedrock dialect, round-tripped through the Bedrock translator over a real Kestrel server.</summary>
[Trait("Category", "functional")]
public class BedrockEmulatorTests : IAsyncLifetime
{
    private const string Secret = "emulator-secret-access-key";
    private const string Model = "anthropic.claude-3-5-sonnet-20240620-v1:0";
    private EmulatorServer _mock = null!;
    private HttpClient _client = null!;
    private readonly BedrockTranslator _translator = new();

    public async Task InitializeAsync()
    {
        _mock = await EmulatorServer.StartAsync(apiKey: Secret);
        _client = new HttpClient();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _mock.DisposeAsync();
    }

    private ProviderCall Call(string model = Model, bool stream = false, bool includeUsage = false, string secret = Secret, string? apiKey = null) => new(
        new DeploymentOptions
        {
            Id = "bedrock-emulated", ModelName = "claude", Provider = "bedrock", Model = model, ApiBase = new Uri(_mock.Url),
            ApiKey = new Secret(apiKey),
            Cloud = apiKey is not null ? new CloudOptions { AwsRegion = "us-west-2" } : new CloudOptions
            {
                AwsRegion = "us-west-2", AwsAccessKeyId = new Secret("AKIDANYTHING"), AwsSecretAccessKey = new Secret(secret),
            },
        }, model, stream, includeUsage, "emu-1");

    private async Task<HttpResponseMessage> SendChat(string openAi, ProviderCall call, string? fault = null)
    {
        var built = await _translator.BuildChatRequestAsync(Encoding.UTF8.GetBytes(openAi), call, CancellationToken.None);
        Assert.Null(built.Error?.Message);
        if (fault is not null) built.Request!.Headers.Add("x-mock-fault", fault);
        return await _client.SendAsync(built.Request!, HttpCompletionOption.ResponseHeadersRead);
    }

    private async Task<(List<JsonElement> Chunks, ProviderError? Error, AgenticGateway.OpenAi.Usage? Usage)> Stream(HttpResponseMessage response, ProviderCall call)
    {
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(BedrockTranslator.EventStreamContentType, response.Content.Headers.ContentType!.MediaType);
        var translator = _translator.CreateChatStream(call);
        var output = new ArrayBufferWriter<byte>();
        ProviderError? error = null;
        await using var body = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[7]; // small reads: frames arrive split
        try
        {
            int read;
            while ((read = await body.ReadAsync(buffer)) > 0) translator.Feed(buffer.AsSpan(0, read), output);
            translator.Complete(output);
        }
        catch (ProviderStreamException ex) { error = ex.Error; }
        var chunks = Encoding.UTF8.GetString(output.WrittenSpan).Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(e => e["data: ".Length..]).Where(e => e != "[DONE]").Select(e => JsonDocument.Parse(e).RootElement.Clone()).ToList();
        return (chunks, error, translator.Usage);
    }

    [Fact]
    public async Task Signed_converse_round_trips_to_an_openai_completion()
    {
        var call = Call();
        using var response = await SendChat("""{"model":"c","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"What is a gateway?"}]}""", call);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadAsByteArrayAsync();
        using var doc = JsonDocument.Parse(_translator.TranslateChatResponse(body, call, out var usage));
        var choice = doc.RootElement.GetProperty("choices")[0];
        var text = choice.GetProperty("message").GetProperty("content").GetString()!;
        Assert.False(string.IsNullOrWhiteSpace(text));
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(text.Split(' ').Length, usage!.Value.CompletionTokens);
        Assert.True(usage.Value.PromptTokens > 0);
        Assert.Equal("chatcmpl-emu-1", doc.RootElement.GetProperty("id").GetString());
    }

    [Fact]
    public async Task Streamed_tool_call_arrives_in_several_argument_deltas()
    {
        var call = Call(stream: true, includeUsage: true);
        using var response = await SendChat("""{"model":"c","stream":true,"messages":[{"role":"user","content":"Weather?"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}},"required":["city","days"]}}}],"tool_choice":"required"}""", call);
        var (chunks, error, usage) = await Stream(response, call);
        Assert.Null(error);
        var toolDeltas = chunks.Where(c => c.GetProperty("choices").GetArrayLength() > 0 && c.GetProperty("choices")[0].GetProperty("delta").TryGetProperty("tool_calls", out _)).ToList();
        Assert.True(toolDeltas.Count > 3, "tool arguments should come in several deltas");
        var first = toolDeltas[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("tool_calls")[0];
        Assert.Equal("get_weather", first.GetProperty("function").GetProperty("name").GetString());
        var args = string.Concat(toolDeltas.Select(c => c.GetProperty("choices")[0].GetProperty("delta").GetProperty("tool_calls")[0].GetProperty("function").GetProperty("arguments").GetString()));
        using var parsed = JsonDocument.Parse(args);
        Assert.Equal(42, parsed.RootElement.GetProperty("days").GetInt32());
        Assert.Equal("tool_calls", chunks.Single(c => c.GetProperty("choices").GetArrayLength() > 0 && c.GetProperty("choices")[0].GetProperty("finish_reason").ValueKind == JsonValueKind.String)
            .GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        var usageChunk = chunks[^1];
        Assert.Equal(0, usageChunk.GetProperty("choices").GetArrayLength());
        Assert.Equal(usage!.Value.CompletionTokens, usageChunk.GetProperty("usage").GetProperty("completion_tokens").GetInt64());
        Assert.Equal(toolDeltas.Count - 1, usage.Value.CompletionTokens);
    }

    [Fact]
    public async Task Tool_results_round_trip_and_reasoning_streams_as_reasoning_content()
    {
        var call = Call(stream: true);
        using var response = await SendChat("""
            {"model":"c","stream":true,"reasoning_effort":"low","max_tokens":4000,"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],
             "messages":[{"role":"user","content":"go"},{"role":"assistant","content":null,"tool_calls":[{"id":"t1","type":"function","function":{"name":"f","arguments":"{}"}}]},
                         {"role":"tool","tool_call_id":"t1","content":"done"}]}
            """, call);
        var (chunks, error, _) = await Stream(response, call);
        Assert.Null(error);
        var deltas = chunks.Select(c => c.GetProperty("choices")[0].GetProperty("delta")).ToList();
        Assert.Contains(deltas, d => d.TryGetProperty("reasoning_content", out _));
        Assert.Contains(deltas, d => d.TryGetProperty("thinking_blocks", out var b) && b[0].GetProperty("signature").GetString()!.StartsWith("mock-signature-", StringComparison.Ordinal));
        Assert.Contains(deltas, d => d.TryGetProperty("content", out var c) && c.GetString()!.Length > 0);
    }

    [Fact]
    public async Task Model_arns_are_signed_and_routed_through_their_escaped_path()
    {
        const string arn = "arn:aws:bedrock:us-west-2:123456789012:application-inference-profile/abc123";
        var call = Call(model: arn);
        using var response = await SendChat("""{"model":"c","messages":[{"role":"user","content":"hi"}]}""", call);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, _mock.Engine.RequestsFor(arn));
    }

    [Fact]
    public async Task A_wrong_secret_is_refused_as_aws_does()
    {
        var call = Call(secret: "not-the-secret");
        using var response = await SendChat("""{"model":"c","messages":[{"role":"user","content":"hi"}]}""", call);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.StartsWith("InvalidSignatureException", response.Headers.GetValues("x-amzn-ErrorType").Single(), StringComparison.Ordinal);
        var error = _translator.ReadError(403, await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(403, error.Status);
        Assert.StartsWith("The request signature we calculated does not match", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bedrock_api_key_is_accepted_as_a_bearer_token()
    {
        var call = Call(apiKey: Secret);
        using var ok = await SendChat("""{"model":"c","messages":[{"role":"user","content":"hi"}]}""", call);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        using var bad = await SendChat("""{"model":"c","messages":[{"role":"user","content":"hi"}]}""", Call(apiKey: "wrong"));
        Assert.Equal(HttpStatusCode.Forbidden, bad.StatusCode);
    }

    [Theory]
    [InlineData("status=429", 429, "ThrottlingException")]
    [InlineData("status=503", 503, "ServiceUnavailableException")]
    [InlineData("status=500", 500, "InternalServerException")]
    [InlineData("status=400", 400, "ValidationException")]
    [InlineData("context_window", 400, "ValidationException")]
    public async Task Faults_answer_in_bedrocks_error_shape(string fault, int status, string type)
    {
        using var response = await SendChat("""{"model":"c","messages":[{"role":"user","content":"hi"}]}""", Call(), fault);
        Assert.Equal(status, (int)response.StatusCode);
        Assert.StartsWith(type, response.Headers.GetValues("x-amzn-ErrorType").Single(), StringComparison.Ordinal);
        var error = _translator.ReadError(status, await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(status, error.Status);
        Assert.False(string.IsNullOrEmpty(error.Message));
    }

    [Fact]
    public async Task A_scripted_fault_for_the_model_is_honoured()
    {
        _mock.Fail("status=429", model: Model);
        using var response = await SendChat("""{"model":"c","messages":[{"role":"user","content":"hi"}]}""", Call());
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
    }

    [Fact]
    public async Task A_cut_stream_ends_with_an_exception_frame()
    {
        var call = Call(stream: true);
        using var response = await SendChat("""{"model":"c","stream":true,"messages":[{"role":"user","content":"hi"}]}""", call, "cut=3");
        var (chunks, error, _) = await Stream(response, call);
        Assert.NotNull(error);
        Assert.Equal(500, error.Value.Status);
        Assert.Equal("modelStreamErrorException", error.Value.Code);
        Assert.True(chunks.Count >= 2);
    }

    [Fact]
    public async Task Content_policy_fault_becomes_a_guardrail_stop()
    {
        var call = Call();
        using var response = await SendChat("""{"model":"c","messages":[{"role":"user","content":"hi"}]}""", call, "content_policy");
        using var doc = JsonDocument.Parse(_translator.TranslateChatResponse(await response.Content.ReadAsByteArrayAsync(), call, out _));
        Assert.Equal("content_filter", doc.RootElement.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task Max_tokens_truncates_with_finish_reason_length()
    {
        var call = Call();
        using var response = await SendChat("""{"model":"c","max_tokens":2,"messages":[{"role":"user","content":"hi"}]}""", call);
        using var doc = JsonDocument.Parse(_translator.TranslateChatResponse(await response.Content.ReadAsByteArrayAsync(), call, out var usage));
        Assert.Equal("length", doc.RootElement.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(2, usage!.Value.CompletionTokens);
    }

    [Fact]
    public async Task Conversations_that_do_not_alternate_or_pair_tool_results_are_refused()
    {
        async Task<(HttpStatusCode, string)> Raw(string converseBody)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, BedrockTranslator.OperationUri(new Uri(_mock.Url), Model, "converse"))
            { Content = new StringContent(converseBody, Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Secret);
            using var response = await _client.SendAsync(request);
            return (response.StatusCode, _translator.ReadError((int)response.StatusCode, await response.Content.ReadAsByteArrayAsync()).Message);
        }
        var (status, message) = await Raw("""{"messages":[{"role":"assistant","content":[{"text":"hi"}]}]}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("must start with a user message", message, StringComparison.Ordinal);
        (status, message) = await Raw("""{"messages":[{"role":"user","content":[{"text":"a"}]},{"role":"user","content":[{"text":"b"}]}]}""");
        Assert.Contains("alternate", message, StringComparison.Ordinal);
        (status, message) = await Raw("""{"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{"type":"object"}}}}]},"messages":[{"role":"user","content":[{"text":"a"}]},{"role":"assistant","content":[{"toolUse":{"toolUseId":"t1","name":"f","input":{}}}]},{"role":"user","content":[{"toolResult":{"toolUseId":"t2","content":[{"text":"x"}]}}]}]}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("toolResult", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("amazon.titan-embed-text-v2:0", """{"model":"e","input":"hello world","dimensions":256}""", 1, 256)]
    [InlineData("cohere.embed-english-v3", """{"model":"e","input":["one","two","three"],"encoding_format":"base64"}""", 3, 1024)]
    public async Task Embeddings_round_trip(string model, string openAi, int count, int dimensions)
    {
        var call = Call(model: model) with { Base64Embeddings = openAi.Contains("\"base64\"", StringComparison.Ordinal) };
        var built = await _translator.BuildEmbeddingsRequestAsync(Encoding.UTF8.GetBytes(openAi), call, CancellationToken.None);
        using var response = await _client.SendAsync(built.Request!);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var doc = JsonDocument.Parse(_translator.TranslateEmbeddingsResponse(await response.Content.ReadAsByteArrayAsync(), call, out var usage));
        var data = doc.RootElement.GetProperty("data");
        Assert.Equal(count, data.GetArrayLength());
        var first = data[0].GetProperty("embedding");
        var length = first.ValueKind == JsonValueKind.String ? Convert.FromBase64String(first.GetString()!).Length / 4 : first.GetArrayLength();
        Assert.Equal(dimensions, length);
        if (model.StartsWith("amazon", StringComparison.Ordinal)) Assert.Equal(2, usage!.Value.PromptTokens);
    }
}
