using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text;
using System.Text.Json;
using AgenticGateway.Tests.Support;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Embeddings;

namespace AgenticGateway.Tests.Conformance;

/// <summary>The official OpenAI .NET SDK (2.15.0) against the gateway: what real clients send and expect.</summary>
[Trait("Category", "functional")]
public class OpenAiSdkTests : IAsyncLifetime
{
    private EmulatorServer _upstream = null!;
    private GatewayServer _gateway = null!;
    private OpenAIClient _client = null!;

    public async Task InitializeAsync()
    {
        _upstream = await EmulatorServer.StartAsync();
        _gateway = await GatewayServer.StartAsync($"""
            master_key: sk-gateway-master
            models:
              - name: gpt-4o
                provider: openai_compatible
                api_base: {_upstream.ApiBase}
              - name: text-embedding-3-small
                provider: openai_compatible
                api_base: {_upstream.ApiBase}
              - name: always-busy
                provider: openai_compatible
                api_base: {_upstream.ApiBase}
            router:
              num_retries: 0
            """);
        _client = Client("sk-gateway-master");
    }

    private OpenAIClient Client(string key) =>
        new(new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = new Uri(_gateway.Url + "/v1"), NetworkTimeout = TimeSpan.FromSeconds(30) });

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    [Fact]
    public async Task Chat_completion()
    {
        ChatCompletion completion = await _client.GetChatClient("gpt-4o").CompleteChatAsync([new SystemChatMessage("Be brief."), new UserChatMessage("Hello!")]);
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.Equal(ChatMessageRole.Assistant, completion.Role);
        Assert.False(string.IsNullOrWhiteSpace(completion.Content[0].Text));
        Assert.Equal(completion.Usage.InputTokenCount + completion.Usage.OutputTokenCount, completion.Usage.TotalTokenCount);
    }

    [Fact]
    public async Task Images_in_content_parts_and_extra_options_reach_the_provider()
    {
        var message = new UserChatMessage(
            ChatMessageContentPart.CreateTextPart("What is in this image?"),
            ChatMessageContentPart.CreateImagePart(new Uri("https://example.com/cat.png"), ChatImageDetailLevel.Low));
        var options = new ChatCompletionOptions { Temperature = 0.2f, MaxOutputTokenCount = 4, ResponseFormat = ChatResponseFormat.CreateJsonObjectFormat() };
        ChatCompletion completion = await _client.GetChatClient("gpt-4o").CompleteChatAsync([message], options);
        Assert.NotNull(completion.Content[0].Text);
        using var sent = JsonDocument.Parse(_upstream.Engine.LastRequest!.Body);
        var part = sent.RootElement.GetProperty("messages")[0].GetProperty("content")[1];
        Assert.Equal("image_url", part.GetProperty("type").GetString());
        Assert.Equal("https://example.com/cat.png", part.GetProperty("image_url").GetProperty("url").GetString());
        Assert.Equal("json_object", sent.RootElement.GetProperty("response_format").GetProperty("type").GetString());
    }

    [Fact]
    public async Task Streaming_chat_with_usage()
    {
        var text = new StringBuilder();
        ChatTokenUsage? usage = null;
        ChatFinishReason? finish = null;
        var options = new ChatCompletionOptions();
        await foreach (var update in _client.GetChatClient("gpt-4o").CompleteChatStreamingAsync([new UserChatMessage("Tell me a story")], options))
        {
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
            usage ??= update.Usage;
            finish ??= update.FinishReason;
        }
        Assert.True(text.Length > 0);
        Assert.Equal(ChatFinishReason.Stop, finish);
        Assert.NotNull(usage);
        Assert.Equal(text.ToString().Split(' ').Length, usage.OutputTokenCount);
    }

    [Fact]
    public async Task Tool_calls_non_stream_and_stream()
    {
        var tool = ChatTool.CreateFunctionTool("get_weather", "Weather for a city",
            BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}},"required":["city","days"]}"""));
        var options = new ChatCompletionOptions { Tools = { tool }, ToolChoice = ChatToolChoice.CreateFunctionChoice("get_weather") };
        var chat = _client.GetChatClient("gpt-4o");

        ChatCompletion completion = await chat.CompleteChatAsync([new UserChatMessage("Weather in Paris?")], options);
        Assert.Equal(ChatFinishReason.ToolCalls, completion.FinishReason);
        var call = Assert.Single(completion.ToolCalls);
        Assert.Equal("get_weather", call.FunctionName);
        using (var args = JsonDocument.Parse(call.FunctionArguments))
        {
            Assert.Equal("mock-city", args.RootElement.GetProperty("city").GetString());
            Assert.Equal(42, args.RootElement.GetProperty("days").GetInt32());
        }

        var streamedArgs = new StringBuilder();
        string? name = null, id = null;
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage("Weather in Paris?")], options))
        {
            foreach (var t in update.ToolCallUpdates)
            {
                name ??= t.FunctionName;
                id ??= t.ToolCallId;
                if (t.FunctionArgumentsUpdate is { } a && !a.ToMemory().IsEmpty) streamedArgs.Append(a.ToString());
            }
        }
        Assert.Equal("get_weather", name);
        Assert.Equal(call.Id, id);
        Assert.Equal(call.FunctionArguments.ToString(), streamedArgs.ToString());

        // The tool result goes back and the model answers in text.
        ChatCompletion final = await chat.CompleteChatAsync(
            [new UserChatMessage("Weather in Paris?"), new AssistantChatMessage(completion), new ToolChatMessage(call.Id, """{"temp_c":21}""")],
            new ChatCompletionOptions { Tools = { tool } });
        Assert.Equal(ChatFinishReason.Stop, final.FinishReason);
    }

    [Fact]
    public async Task Embeddings_float_and_base64_agree()
    {
        var client = _client.GetEmbeddingClient("text-embedding-3-small");
        OpenAIEmbedding embedding = await client.GenerateEmbeddingAsync("The quick brown fox", new EmbeddingGenerationOptions { Dimensions = 16 });
        var sdkVector = embedding.ToFloats().ToArray();
        Assert.Equal(16, sdkVector.Length);
        // The SDK asks for base64; check what went upstream, then compare with a float request.
        Assert.Contains("\"encoding_format\":\"base64\"", _upstream.Engine.LastRequest!.Body, StringComparison.Ordinal);
        using var response = await _gateway.PostJsonAsync("/v1/embeddings", """{"model":"text-embedding-3-small","input":"The quick brown fox","dimensions":16,"encoding_format":"float"}""",
            configure: r => r.Headers.Add("Authorization", "Bearer sk-gateway-master"));
        using var doc = await GatewayServer.JsonAsync(response);
        var floats = doc.RootElement.GetProperty("data")[0].GetProperty("embedding").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        Assert.Equal(floats, sdkVector);

        // The SDK's protocol method with encoding_format float, read back into the SDK's own model type.
        var raw = await client.GenerateEmbeddingsAsync(
            BinaryContent.Create(BinaryData.FromString("""{"model":"text-embedding-3-small","input":["The quick brown fox"],"dimensions":16,"encoding_format":"float"}""")),
            new RequestOptions());
        var collection = System.ClientModel.Primitives.ModelReaderWriter.Read<OpenAIEmbeddingCollection>(raw.GetRawResponse().Content)!;
        Assert.Equal(sdkVector, collection[0].ToFloats().ToArray());

        var many = await client.GenerateEmbeddingsAsync(["one", "two", "three"]);
        Assert.Equal(3, many.Value.Count);
        Assert.Equal([0, 1, 2], many.Value.Select(e => e.Index));
    }

    [Fact]
    public async Task Models_list_and_get()
    {
        var models = _client.GetOpenAIModelClient();
        var list = await models.GetModelsAsync();
        Assert.Contains(list.Value, m => m.Id == "gpt-4o");
        var one = await models.GetModelAsync("text-embedding-3-small");
        Assert.Equal("text-embedding-3-small", one.Value.Id);
    }

    [Fact]
    public async Task Errors_surface_as_client_result_exceptions_with_status()
    {
        var unknown = await Assert.ThrowsAsync<ClientResultException>(() => _client.GetChatClient("no-such-model").CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.Equal(404, unknown.Status);
        Assert.Contains("gpt-4o", unknown.Message, StringComparison.Ordinal);

        var badKey = await Assert.ThrowsAsync<ClientResultException>(() => Client("sk-wrong").GetChatClient("gpt-4o").CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.Equal(401, badKey.Status);

        // The SDK retries 429s itself (three times, honouring Retry-After); every one of them must still be a 429.
        _upstream.Fail("status=429,retry_after=0", count: 10, model: "always-busy");
        var limited = await Assert.ThrowsAsync<ClientResultException>(() => _client.GetChatClient("always-busy").CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.Equal(429, limited.Status);
        Assert.Equal(4, _upstream.Engine.RequestsFor("always-busy"));
        _upstream.Engine.Script.Clear();
    }
}
