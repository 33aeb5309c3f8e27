using System.ClientModel;
using AgenticGateway.Tests.Support;
using AgenticGateway.Tests.Translation;
using OpenAI;
using OpenAI.Chat;

namespace AgenticGateway.Tests.Conformance;

/// <summary>The official OpenAI .NET SDK driving chat with tools against translated providers: it must not notice.</summary>
[Trait("Category", "functional")]
public class OpenAiSdkProviderTests : IAsyncLifetime
{
    private EmulatorServer _upstream = null!;
    private GatewayServer _gateway = null!;
    private OpenAIClient _client = null!;

    public static TheoryData<string> Models => new() { "claude", "gemini", "bedrock", "vertex-gemini", "vertex-claude", "cohere" };

    public async Task InitializeAsync()
    {
        _upstream = await EmulatorServer.StartAsync(apiKey: ProviderEndToEndTests.Key);
        _gateway = await GatewayServer.StartAsync(ProviderEndToEndTests.Config(_upstream.Url));
        _client = new OpenAIClient(new ApiKeyCredential("sk-gateway-master"), new OpenAIClientOptions { Endpoint = new Uri(_gateway.Url + "/v1"), NetworkTimeout = TimeSpan.FromSeconds(30) });
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    private static readonly ChatTool Weather = ChatTool.CreateFunctionTool("get_weather", "Weather for a city",
        BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"""));

    [Theory]
    [MemberData(nameof(Models))]
    public async Task Chat_with_tools_round_trip(string model)
    {
        var chat = _client.GetChatClient(model);
        List<ChatMessage> messages = [new SystemChatMessage("Use tools."), new UserChatMessage("Weather in Paris?")];
        var options = new ChatCompletionOptions { Tools = { Weather }, ToolChoice = ChatToolChoice.CreateRequiredChoice() };
        ChatCompletion first = await chat.CompleteChatAsync(messages, options);
        Assert.Equal(ChatFinishReason.ToolCalls, first.FinishReason);
        var call = Assert.Single(first.ToolCalls);
        Assert.Equal("get_weather", call.FunctionName);
        Assert.True(call.FunctionArguments.ToObjectFromJson<Dictionary<string, object>>()!.ContainsKey("city"));

        messages.Add(new AssistantChatMessage(first));
        messages.Add(new ToolChatMessage(call.Id, "21 degrees and sunny"));
        ChatCompletion second = await chat.CompleteChatAsync(messages, new ChatCompletionOptions { Tools = { Weather } });
        Assert.Equal(ChatFinishReason.Stop, second.FinishReason);
        Assert.False(string.IsNullOrWhiteSpace(second.Content[0].Text));
        Assert.True(second.Usage.TotalTokenCount > 0);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public async Task Streaming_chat_with_tools(string model)
    {
        var chat = _client.GetChatClient(model);
        var options = new ChatCompletionOptions { Tools = { Weather }, ToolChoice = ChatToolChoice.CreateFunctionChoice("get_weather") };
        var arguments = new System.Text.StringBuilder();
        string? name = null, id = null;
        ChatFinishReason? finish = null;
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage("Weather in Paris?")], options))
        {
            foreach (var part in update.ToolCallUpdates)
            {
                name ??= part.FunctionName;
                id ??= part.ToolCallId;
                if (part.FunctionArgumentsUpdate is { } a && !a.ToMemory().IsEmpty) arguments.Append(a.ToString());
            }
            finish ??= update.FinishReason;
        }
        Assert.Equal("get_weather", name);
        Assert.False(string.IsNullOrEmpty(id));
        Assert.Equal(ChatFinishReason.ToolCalls, finish);
        using var parsed = System.Text.Json.JsonDocument.Parse(arguments.ToString());
        Assert.True(parsed.RootElement.TryGetProperty("city", out _));
    }
}
