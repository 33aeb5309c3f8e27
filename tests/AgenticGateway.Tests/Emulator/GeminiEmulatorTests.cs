using System.Buffers;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgenticGateway.Configuration;
using AgenticGateway.Providers.Google;
using AgenticGateway.Providers.Translation;
using AgenticGateway.Tests.Support;

namespace AgenticGateway.Tests.Emulator;

/// <summary>The emulator's Gemini dialect, round-tripped through the Gemini translator (AI Studio and Vertex AI).</summary>
[Trait("Category", "functional")]
public class GeminiEmulatorTests : IAsyncLifetime
{
    private const string Key = "gemini-test-key";
    private EmulatorServer _mock = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _mock = await EmulatorServer.StartAsync(apiKey: Key);
        _http = new HttpClient();
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _mock.DisposeAsync();
    }

    private DeploymentOptions Studio(string key = Key) => new()
    {
        Id = "g", ModelName = "gemini", Provider = "gemini", Model = "gemini-2.5-flash", ApiBase = new Uri(_mock.Url), ApiKey = new Secret(key),
    };

    private DeploymentOptions Vertex(string? credentials = null, string? token = null) => new()
    {
        Id = "v", ModelName = "gemini", Provider = "vertex_ai", Model = "gemini-2.5-flash", ApiBase = new Uri(_mock.Url), ApiKey = new Secret(token),
        Cloud = new CloudOptions { VertexProject = "proj", VertexLocation = "us-central1", VertexCredentials = new Secret(credentials) },
    };

    private static ProviderCall Call(DeploymentOptions d, bool stream = false, string model = "gemini-2.5-flash") => new(d, model, stream, IncludeUsage: true, "req-e");

    /// <summary>Builds with the translator, sends to the emulator, and returns the translated body (or the read error).</summary>
    private async Task<(JsonNode? Body, ProviderError? Error)> Chat(GeminiTranslator translator, ProviderCall call, string openAi, string? fault = null)
    {
        var built = await translator.BuildChatRequestAsync(Encoding.UTF8.GetBytes(openAi), call, default);
        Assert.True(built.Error is null, built.Error?.Message);
        using var request = built.Request!;
        if (fault is not null) request.Headers.Add("x-mock-fault", fault);
        using var response = await _http.SendAsync(request);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        if (!response.IsSuccessStatusCode) return (null, translator.ReadError((int)response.StatusCode, bytes));
        if (!call.Stream) return (JsonNode.Parse(translator.TranslateChatResponse(bytes, call, out _)), null);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var stream = translator.CreateChatStream(call);
        var output = new ArrayBufferWriter<byte>();
        stream.Feed(bytes, output);
        stream.Complete(output);
        return (Merge(Encoding.UTF8.GetString(output.WrittenSpan)), null);
    }

    /// <summary>Folds OpenAI chunks into one message-like object: content, reasoning, tool calls, finish, usage.</summary>
    private static JsonNode Merge(string sse)
    {
        var events = sse.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(e => e["data: ".Length..]).ToList();
        Assert.Equal("[DONE]", events[^1]);
        string content = "", reasoning = "";
        string? finish = null;
        var calls = new JsonArray();
        JsonNode? usage = null;
        foreach (var e in events.SkipLast(1))
        {
            var chunk = JsonNode.Parse(e)!;
            Assert.Equal("chat.completion.chunk", chunk["object"]!.GetValue<string>());
            if (chunk["usage"] is { } u) usage = u.DeepClone();
            foreach (var choice in chunk["choices"]!.AsArray())
            {
                var delta = choice!["delta"]!;
                content += delta["content"]?.GetValue<string>() ?? "";
                reasoning += delta["reasoning_content"]?.GetValue<string>() ?? "";
                foreach (var call in delta["tool_calls"]?.AsArray() ?? []) calls.Add(call!.DeepClone());
                finish = choice["finish_reason"]?.GetValue<string>() ?? finish;
            }
        }
        return new JsonObject
        {
            ["choices"] = new JsonArray(new JsonObject
            {
                ["message"] = new JsonObject { ["content"] = content, ["reasoning_content"] = reasoning, ["tool_calls"] = calls },
                ["finish_reason"] = finish,
            }),
            ["usage"] = usage,
        };
    }

    private const string Weather = """{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}},"required":["city","days"],"additionalProperties":false}}}""";

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Text_answers_round_trip_with_consistent_usage(bool stream)
    {
        var (body, error) = await Chat(new GeminiTranslator(), Call(Studio(), stream), """{"model":"g","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"What is a gateway?"}]}""");
        Assert.Null(error);
        var choice = body!["choices"]![0]!;
        var text = choice["message"]!["content"]!.GetValue<string>();
        Assert.False(string.IsNullOrWhiteSpace(text));
        Assert.Equal("stop", choice["finish_reason"]!.GetValue<string>());
        Assert.Equal(text.Split(' ').Length, body["usage"]!["completion_tokens"]!.GetValue<int>());
        Assert.True(body["usage"]!["prompt_tokens"]!.GetValue<int>() > 0);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Tools_get_a_call_with_schema_arguments_and_tool_results_get_text(bool stream)
    {
        var translator = new GeminiTranslator();
        var (body, error) = await Chat(translator, Call(Studio(), stream), $$"""{"model":"g","messages":[{"role":"user","content":"Weather?"}],"tools":[{{Weather}}],"tool_choice":"required"}""");
        Assert.Null(error);
        var choice = body!["choices"]![0]!;
        Assert.Equal("tool_calls", choice["finish_reason"]!.GetValue<string>());
        var call = choice["message"]!["tool_calls"]![0]!;
        Assert.Equal("get_weather", call["function"]!["name"]!.GetValue<string>());
        var args = JsonNode.Parse(call["function"]!["arguments"]!.GetValue<string>())!;
        Assert.Equal(42, args["days"]!.GetValue<int>());
        Assert.Equal("mock-city", args["city"]!.GetValue<string>());

        var id = call["id"]!.GetValue<string>();
        var followUp = $$"""{"model":"g","messages":[{"role":"user","content":"Weather?"},{"role":"assistant","content":null,"tool_calls":[{{call.ToJsonString()}}]},{"role":"tool","tool_call_id":"{{id}}","content":"sunny"}],"tools":[{{Weather}}]}""";
        var (second, secondError) = await Chat(translator, Call(Studio(), stream), followUp);
        Assert.Null(secondError);
        Assert.Equal("stop", second!["choices"]![0]!["finish_reason"]!.GetValue<string>());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Reasoning_effort_brings_thought_summaries_and_reasoning_tokens(bool stream)
    {
        var (body, _) = await Chat(new GeminiTranslator(), Call(Studio(), stream), """{"model":"g","messages":[{"role":"user","content":"Think"}],"reasoning_effort":"low"}""");
        Assert.False(string.IsNullOrEmpty(body!["choices"]![0]!["message"]!["reasoning_content"]!.GetValue<string>()));
        var usage = body["usage"]!;
        Assert.True(usage["completion_tokens_details"]!["reasoning_tokens"]!.GetValue<int>() > 0);
        Assert.Equal(usage["prompt_tokens"]!.GetValue<int>() + usage["completion_tokens"]!.GetValue<int>(), usage["total_tokens"]!.GetValue<int>());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_safety_stop_is_content_filter(bool stream)
    {
        var (body, _) = await Chat(new GeminiTranslator(), Call(Studio(), stream), """{"model":"g","messages":[{"role":"user","content":"tell me something unsafe-demo"}]}""");
        Assert.Equal("content_filter", body!["choices"]![0]!["finish_reason"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("status=429", 429, "RESOURCE_EXHAUSTED")]
    [InlineData("status=503", 503, "UNAVAILABLE")]
    [InlineData("status=500", 500, "INTERNAL")]
    [InlineData("status=400", 400, "INVALID_ARGUMENT")]
    public async Task Faults_answer_in_googles_error_shape(string fault, int status, string code)
    {
        var (_, error) = await Chat(new GeminiTranslator(), Call(Studio()), """{"model":"g","messages":[{"role":"user","content":"Hi"}]}""", fault);
        Assert.Equal(status, error!.Value.Status);
        Assert.Equal(code, error.Value.Code);
    }

    [Fact]
    public async Task A_scripted_fault_and_a_content_policy_fault()
    {
        _mock.Fail("status=503", model: "gemini-2.5-flash");
        var (_, error) = await Chat(new GeminiTranslator(), Call(Studio()), """{"model":"g","messages":[{"role":"user","content":"Hi"}]}""");
        Assert.Equal(503, error!.Value.Status);
        var (blocked, _) = await Chat(new GeminiTranslator(), Call(Studio()), """{"model":"g","messages":[{"role":"user","content":"Hi"}]}""", "content_policy");
        Assert.Equal("content_filter", blocked!["choices"]![0]!["finish_reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_wrong_api_key_reads_as_401_and_the_key_query_parameter_works()
    {
        var (_, error) = await Chat(new GeminiTranslator(), Call(Studio("wrong")), """{"model":"g","messages":[{"role":"user","content":"Hi"}]}""");
        Assert.Equal(401, error!.Value.Status);
        using var response = await _http.PostAsync($"{_mock.Url}/v1beta/models/gemini-2.5-flash:generateContent?key={Key}",
            new StringContent("""{"contents":[{"role":"user","parts":[{"text":"Hi"}]}]}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("""{"contents":[{"role":"user","parts":[{"text":"a"}]},{"role":"user","parts":[{"text":"b"}]}]}""", "alternate")]
    [InlineData("""{"contents":[{"role":"user","parts":[{"functionResponse":{"name":"f","response":{}}}]}]}""", "function response turn comes immediately after a function call turn")]
    [InlineData("""{"contents":[{"role":"user","parts":[{"text":"a"}]},{"role":"model","parts":[{"functionCall":{"name":"f","args":{}}},{"functionCall":{"name":"g","args":{}}}]},{"role":"user","parts":[{"functionResponse":{"name":"f","response":{}}}]}]}""", "number of function response parts")]
    [InlineData("""{"contents":[{"role":"system","parts":[{"text":"a"}]}]}""", "valid role")]
    public async Task Conversations_gemini_refuses_get_400_invalid_argument(string body, string message)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{_mock.Url}/v1beta/models/gemini-2.5-flash:generateContent") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("x-goog-api-key", Key);
        using var response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = new GeminiTranslator().ReadError(400, await response.Content.ReadAsByteArrayAsync());
        Assert.Equal("INVALID_ARGUMENT", error.Code);
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public async Task Vertex_with_a_service_account_signs_exchanges_and_caches_its_token()
    {
        using var rsa = RSA.Create(2048);
        _mock.Engine.GoogleServiceAccountPublicKeyPem = rsa.ExportSubjectPublicKeyInfoPem();
        var credentials = ServiceAccount(rsa);
        var tokens = new VertexTokenSource(_http);
        var deployment = Vertex(credentials);
        var translator = new GeminiTranslator(true, tokens.ForDeployment(deployment));
        var before = _mock.Engine.RequestCount;
        for (var i = 0; i < 2; i++)
        {
            var (body, error) = await Chat(translator, Call(deployment, stream: i == 1), """{"model":"g","messages":[{"role":"user","content":"Hi from Vertex"}]}""");
            Assert.True(error is null, error?.Message);
            Assert.Equal("stop", body!["choices"]![0]!["finish_reason"]!.GetValue<string>());
        }
        Assert.Equal(3, _mock.Engine.RequestCount - before); // one token exchange, two generations
        Assert.StartsWith("/v1/projects/proj/locations/us-central1/publishers/google/models/gemini-2.5-flash:streamGenerateContent", _mock.Engine.LastRequest!.Path);
    }

    [Fact]
    public async Task Vertex_refuses_a_token_signed_with_another_key_and_a_missing_bearer()
    {
        using var rsa = RSA.Create(2048);
        using var other = RSA.Create(2048);
        _mock.Engine.GoogleServiceAccountPublicKeyPem = other.ExportSubjectPublicKeyInfoPem();
        var tokens = new VertexTokenSource(_http);
        var ex = await Assert.ThrowsAsync<HttpRequestException>(async () => await tokens.GetTokenAsync(Vertex(ServiceAccount(rsa)), default));
        Assert.Contains("Invalid JWT Signature", ex.Message);

        var (_, error) = await Chat(new GeminiTranslator(true, _ => ValueTask.FromResult("not-a-token")), Call(Vertex(token: "x")), """{"model":"g","messages":[{"role":"user","content":"Hi"}]}""");
        Assert.Equal(401, error!.Value.Status);
        Assert.Equal("UNAUTHENTICATED", error.Value.Code);
    }

    [Fact]
    public async Task Concurrent_requests_share_one_token_exchange()
    {
        using var rsa = RSA.Create(2048);
        _mock.Engine.GoogleServiceAccountPublicKeyPem = rsa.ExportSubjectPublicKeyInfoPem();
        var path = Path.Combine(Path.GetTempPath(), $"sa-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(path, ServiceAccount(rsa));
        try
        {
            var tokens = new VertexTokenSource(_http);
            var before = _mock.Engine.RequestCount;
            var all = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => tokens.GetTokenAsync(Vertex(path), default).AsTask()));
            Assert.Single(all.Distinct());
            Assert.StartsWith("ya29.", all[0]);
            Assert.Equal(1, _mock.Engine.RequestCount - before);
            Assert.Equal("ready-token", await tokens.GetTokenAsync(Vertex(path, token: "ready-token"), default));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(false, """{"model":"e","input":"one text"}""", 1)]
    [InlineData(false, """{"model":"e","input":["a","b","c"],"dimensions":8,"encoding_format":"base64"}""", 3)]
    [InlineData(true, """{"model":"e","input":["vertex text","again"],"dimensions":16}""", 2)]
    public async Task Embeddings_round_trip(bool vertex, string openAi, int count)
    {
        var deployment = vertex ? Vertex(token: Key) : Studio();
        var translator = vertex ? new GeminiTranslator(true, _ => ValueTask.FromResult(Key)) : new GeminiTranslator();
        var call = Call(deployment, model: "gemini-embedding-001") with { Base64Embeddings = openAi.Contains("\"base64\"", StringComparison.Ordinal) };
        var built = await translator.BuildEmbeddingsRequestAsync(Encoding.UTF8.GetBytes(openAi), call, default);
        using var response = await _http.SendAsync(built.Request!);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = JsonNode.Parse(translator.TranslateEmbeddingsResponse(await response.Content.ReadAsByteArrayAsync(), call, out var usage))!;
        var data = body["data"]!.AsArray();
        Assert.Equal(count, data.Count);
        var dims = JsonNode.Parse(openAi)!["dimensions"]?.GetValue<int>() ?? 768;
        var first = data[0]!["embedding"]!;
        if (first is JsonValue v && v.GetValueKind() == JsonValueKind.String) Assert.Equal(dims * 4, Convert.FromBase64String(v.GetValue<string>()).Length);
        else Assert.Equal(dims, first.AsArray().Count);
        if (vertex) Assert.True(usage!.Value.PromptTokens > 0);
    }

    private string ServiceAccount(RSA rsa) => new JsonObject
    {
        ["type"] = "service_account",
        ["project_id"] = "proj",
        ["private_key_id"] = "kid-1",
        ["private_key"] = rsa.ExportPkcs8PrivateKeyPem(),
        ["client_email"] = "sa@proj.iam.gserviceaccount.com",
        ["token_uri"] = _mock.Url + "/token",
    }.ToJsonString();
}
