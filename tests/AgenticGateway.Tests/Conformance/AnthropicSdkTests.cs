using System.Text.Json;
using AgenticGateway.Tests.Support;
using AgenticGateway.Tests.Translation;
using Anthropic;
using Anthropic.Core;
using Anthropic.Models.Messages;

namespace AgenticGateway.Tests.Conformance;

/// <summary>
/// The official Anthropic .NET SDK (13.12.0) against the gateway's /v1/messages: on an Anthropic deployment (passed
/// through) and on an OpenAI deployment (converted both ways): plain, streaming, tools and count_tokens.
/// </summary>
[Trait("Category", "functional")]
public class AnthropicSdkTests : IAsyncLifetime
{
    private EmulatorServer _upstream = null!;
    private GatewayServer _gateway = null!;
    private AnthropicClient _client = null!;

    public static TheoryData<string> Models => new() { "claude", "gpt", "gemini" };

    public async Task InitializeAsync()
    {
        _upstream = await EmulatorServer.StartAsync(apiKey: ProviderEndToEndTests.Key);
        _gateway = await GatewayServer.StartAsync(ProviderEndToEndTests.Config(_upstream.Url));
        _client = new AnthropicClient(new ClientOptions { ApiKey = "sk-gateway-master", BaseUrl = _gateway.Url, MaxRetries = 0 });
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    private static Tool Weather() => new()
    {
        Name = "get_weather",
        Description = "Weather for a city",
        InputSchema = new InputSchema
        {
            Properties = new Dictionary<string, JsonElement> { ["city"] = JsonDocument.Parse("""{"type":"string"}""").RootElement },
            Required = ["city"],
        },
    };

    [Theory]
    [MemberData(nameof(Models))]
    public async Task Create_a_message(string model)
    {
        var message = await _client.Messages.Create(new MessageCreateParams
        {
            Model = model,
            MaxTokens = 100,
            System = "Be brief.",
            Messages = [new UserMessageParam("Hello!")],
        });
        Assert.StartsWith("msg", message.ID);
        Assert.Equal("end_turn", message.StopReason!.Raw());
        Assert.True(message.Content[0].TryPickText(out var text));
        Assert.False(string.IsNullOrWhiteSpace(text!.Text));
        Assert.True(message.Usage.InputTokens > 0);
        Assert.True(message.Usage.OutputTokens > 0);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public async Task Stream_a_message(string model)
    {
        var text = new System.Text.StringBuilder();
        var kinds = new List<string>();
        long outputTokens = 0;
        await foreach (var e in _client.Messages.CreateStreaming(new MessageCreateParams
        {
            Model = model,
            MaxTokens = 100,
            Messages = [new UserMessageParam("Tell me a story")],
        }))
        {
            if (e.TryPickStart(out _)) kinds.Add("message_start");
            else if (e.TryPickContentBlockStart(out _)) kinds.Add("content_block_start");
            else if (e.TryPickContentBlockDelta(out var delta))
            {
                kinds.Add("content_block_delta");
                if (delta!.Delta.TryPickText(out var t)) text.Append(t!.Text);
            }
            else if (e.TryPickContentBlockStop(out _)) kinds.Add("content_block_stop");
            else if (e.TryPickDelta(out var md)) { kinds.Add("message_delta"); outputTokens = md!.Usage.OutputTokens; }
            else if (e.TryPickStop(out _)) kinds.Add("message_stop");
        }
        Assert.False(string.IsNullOrWhiteSpace(text.ToString()));
        Assert.Equal("message_start", kinds[0]);
        Assert.Equal("content_block_start", kinds[1]);
        Assert.Equal(["content_block_stop", "message_delta", "message_stop"], kinds.TakeLast(3));
        Assert.True(outputTokens > 0);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public async Task Tools_and_tool_results(string model)
    {
        var first = await _client.Messages.Create(new MessageCreateParams
        {
            Model = model,
            MaxTokens = 200,
            Tools = [Weather()],
            ToolChoice = new ToolChoiceAny(),
            Messages = [new UserMessageParam("Weather in Paris?")],
        });
        Assert.Equal("tool_use", first.StopReason!.Raw());
        var use = first.Content.Select(c => c.TryPickToolUse(out var u) ? u : null).First(u => u is not null)!;
        Assert.Equal("get_weather", use.Name);
        Assert.True(use.Input.ContainsKey("city"));

        // The result goes back with the call; the provider sees them paired.
        var second = await _client.Messages.Create(new MessageCreateParams
        {
            Model = model,
            MaxTokens = 200,
            Tools = [Weather()],
            Messages =
            [
                new UserMessageParam("Weather in Paris?"),
                new AssistantMessageParam(new List<ContentBlockParam> { new ToolUseBlockParam { ID = use.ID, Name = use.Name, Input = use.Input } }),
                new UserMessageParam(new List<ContentBlockParam> { new ToolResultBlockParam { ToolUseID = use.ID, Content = "21 degrees" } }),
            ],
        });
        Assert.Equal("end_turn", second.StopReason!.Raw());
    }

    [Theory]
    [MemberData(nameof(Models))]
    public async Task Streamed_tool_input_arrives_as_json_deltas(string model)
    {
        var json = new System.Text.StringBuilder();
        string? name = null;
        await foreach (var e in _client.Messages.CreateStreaming(new MessageCreateParams
        {
            Model = model,
            MaxTokens = 200,
            Tools = [Weather()],
            ToolChoice = new ToolChoiceTool { Name = "get_weather" },
            Messages = [new UserMessageParam("Weather in Paris?")],
        }))
        {
            if (e.TryPickContentBlockStart(out var start) && start!.ContentBlock.TryPickToolUse(out var tu)) name = tu!.Name;
            if (e.TryPickContentBlockDelta(out var delta) && delta!.Delta.TryPickInputJson(out var j)) json.Append(j!.PartialJson);
        }
        Assert.Equal("get_weather", name);
        using var args = JsonDocument.Parse(json.ToString());
        Assert.Equal(JsonValueKind.String, args.RootElement.GetProperty("city").ValueKind);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public async Task Count_tokens(string model)
    {
        var count = await _client.Messages.CountTokens(new MessageCountTokensParams
        {
            Model = model,
            Messages = [new UserMessageParam("Hello there, how are you today?")],
        });
        Assert.True(count.InputTokens > 0);
    }

    [Fact]
    public async Task Errors_come_back_in_anthropics_shape()
    {
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => _client.Messages.Create(new MessageCreateParams
        {
            Model = "no-such-model",
            MaxTokens = 10,
            Messages = [new UserMessageParam("hi")],
        }));
        Assert.Contains("no-such-model", ex.Message);
        using var raw = await _gateway.PostJsonAsync("/v1/messages", """{"model":"no-such-model","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}""",
            configure: r => r.Headers.Add("x-api-key", "sk-gateway-master"));
        using var body = JsonDocument.Parse(await raw.Content.ReadAsStringAsync());
        Assert.Equal("error", body.RootElement.GetProperty("type").GetString());
        Assert.Equal("not_found_error", body.RootElement.GetProperty("error").GetProperty("type").GetString());
    }
}
