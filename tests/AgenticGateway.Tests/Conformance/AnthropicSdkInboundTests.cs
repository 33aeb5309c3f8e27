using System.Buffers;
using System.Text;
using Anthropic;
using Anthropic.Models.Messages;
using AgenticGateway.Hosting;
using AgenticGateway.Providers.Anthropic.Inbound;
using Microsoft.AspNetCore.Http;

namespace AgenticGateway.Tests.Conformance;

/// <summary>
/// The official Anthropic SDK, with response validation on, reads what the inbound conversion writes: a tiny server
/// converts the SDK's request to OpenAI (which must succeed) and answers with a golden OpenAI response or stream
/// converted back.
/// </summary>
[Trait("Category", "functional")]
public sealed class AnthropicSdkInboundTests : IAsyncLifetime
{
    private static readonly string Fixtures = Path.Combine(AppContext.BaseDirectory, "Fixtures", "translation", "anthropic_inbound");
    private WebApplication _app = null!;
    private AnthropicClient _client = null!;

    /// <summary>The golden case whose OpenAI answer the server converts.</summary>
    private string _case = "plain";

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        _app = builder.Build();
        _app.Urls.Add("http://127.0.0.1:0");
        _app.MapPost("/v1/messages", Messages);
        await _app.StartAsync();
        _client = new AnthropicClient { ApiKey = "test-key", BaseUrl = GatewayApp.BoundAddresses(_app)[0], MaxRetries = 0, ResponseValidation = true };
    }

    public async Task DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task Messages(HttpContext context)
    {
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body);
        var error = AnthropicRequestConverter.ToOpenAi(body.ToArray(), out var openAi);
        if (error is not null)
        {
            context.Response.StatusCode = error.Status;
            await context.Response.Body.WriteAsync(AnthropicErrors.ToJson(error));
            return;
        }
        if (Encoding.UTF8.GetString(openAi).Contains("\"stream\":true", StringComparison.Ordinal))
        {
            context.Response.ContentType = "text/event-stream";
            var stream = new OpenAiToAnthropicStream("claude-sonnet-4-5", "msg_sdk", AnthropicTokenCounter.Estimate(body.ToArray()));
            var output = new ArrayBufferWriter<byte>();
            foreach (var b in File.ReadAllBytes(Path.Combine(Fixtures, _case, "openai_stream.txt")))
            {
                stream.Feed([b], output);
                if (output.WrittenCount == 0) continue;
                await context.Response.Body.WriteAsync(output.WrittenMemory);
                output.ResetWrittenCount();
            }
            stream.Complete(output);
            await context.Response.Body.WriteAsync(output.WrittenMemory);
            return;
        }
        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(AnthropicResponseConverter.FromOpenAi(File.ReadAllBytes(Path.Combine(Fixtures, _case, "openai_response.json")), "claude-sonnet-4-5"));
    }

    private static MessageCreateParams Params(string text) => new()
    {
        Model = "claude-sonnet-4-5",
        MaxTokens = 256,
        Messages = [new UserMessageParam { Content = text }],
    };

    [Fact]
    public async Task The_sdk_reads_a_converted_message_with_thinking()
    {
        _case = "thinking";
        var message = await _client.Messages.Create(Params("Is 1009 prime?"));
        Assert.Equal("msg_think1", message.ID);
        Assert.True(message.Content[0].TryPickThinking(out var thinking));
        Assert.Equal("sig-xyz", thinking!.Signature);
        Assert.True(message.Content[1].TryPickText(out var text));
        Assert.Equal("Yes, 1009 is prime.", text!.Text);
        Assert.Equal("end_turn", message.StopReason?.Raw());
        Assert.Equal(50, message.Usage.InputTokens);
    }

    [Fact]
    public async Task The_sdk_reads_converted_tool_calls_and_cache_usage()
    {
        _case = "malformed_tool_args";
        var message = await _client.Messages.Create(Params("Weather?"));
        Assert.Equal("tool_use", message.StopReason?.Raw());
        Assert.True(message.Content[0].TryPickToolUse(out var use));
        Assert.Equal("call_bad", use!.ID);
        Assert.Equal("{\"location\": \"Par", use.Input["_raw"].GetString());

        _case = "usage_cached";
        message = await _client.Messages.Create(Params("Again"));
        Assert.Equal(86, message.Usage.InputTokens);
        Assert.Equal(1920, message.Usage.CacheReadInputTokens);
    }

    [Theory]
    [InlineData("parallel_tool_calls")]
    [InlineData("thinking")]
    [InlineData("stop_sequence")]
    [InlineData("content_filter")]
    public async Task The_sdk_reads_a_converted_stream(string name)
    {
        _case = name;
        var events = new List<RawMessageStreamEvent>();
        await foreach (var e in _client.Messages.CreateStreaming(Params("Go"))) events.Add(e);
        Assert.True(events[0].TryPickStart(out var start));
        Assert.Equal("msg_sdk", start!.Message.ID);
        Assert.True(events[^1].TryPickStop(out _));
        Assert.True(events[^2].TryPickDelta(out var delta));
        var expected = name switch
        {
            "parallel_tool_calls" => "tool_use",
            "stop_sequence" => "stop_sequence",
            "content_filter" => "refusal",
            _ => "end_turn",
        };
        Assert.Equal(expected, delta!.Delta.StopReason?.Raw());
        Assert.Equal(events.Count(e => e.TryPickContentBlockStart(out _)), events.Count(e => e.TryPickContentBlockStop(out _)));
    }

    [Fact]
    public async Task The_sdk_reads_a_refused_request_as_a_bad_request()
    {
        var request = Params("Search") with { Tools = [new WebSearchTool20250305()] };
        var e = await Assert.ThrowsAnyAsync<Exception>(() => _client.Messages.Create(request));
        Assert.Contains("not supported on this deployment", e.Message, StringComparison.Ordinal);
    }
}
