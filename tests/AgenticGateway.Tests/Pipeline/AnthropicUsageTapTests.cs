using System.Buffers;
using System.Text;
using AgenticGateway.Pipeline;
using AgenticGateway.Services.Llm;

namespace AgenticGateway.Tests.Pipeline;

/// <summary>The Anthropic pass-through stream: bytes out exactly as in, events as soon as complete, usage read on the way.</summary>
[Trait("Category", "unit")]
public class AnthropicUsageTapTests
{
    private const string Stream =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude\",\"usage\":{\"input_tokens\":25,\"cache_read_input_tokens\":100,\"cache_creation_input_tokens\":10,\"output_tokens\":1}}}\n\n" +
        "event: ping\ndata: {\"type\":\"ping\"}\n\n" +
        "event: content_block_start\r\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\r\n\r\n" +
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi \\\"usage\\\" there\"}}\n\n" +
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":15}}\n\n" +
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(64)]
    [InlineData(100000)]
    public void Any_split_passes_the_bytes_through_and_reads_usage(int chunk)
    {
        var input = Encoding.UTF8.GetBytes(Stream);
        var tap = new AnthropicUsageTap();
        var output = new ArrayBufferWriter<byte>();
        var eventsSeen = 0;
        for (var i = 0; i < input.Length; i += chunk)
        {
            var before = output.WrittenCount;
            tap.Feed(input.AsSpan(i, Math.Min(chunk, input.Length - i)), output);
            // Whatever went out is whole events only.
            if (output.WrittenCount > before) { eventsSeen++; Assert.True(output.WrittenSpan.EndsWith("\n\n"u8) || output.WrittenSpan.EndsWith("\r\n\r\n"u8)); }
        }
        tap.Complete(output);
        Assert.Equal(Stream, Encoding.UTF8.GetString(output.WrittenSpan));
        Assert.True(eventsSeen >= (chunk >= input.Length ? 1 : 2));
        var usage = tap.Usage!.Value;
        Assert.Equal(25 + 100 + 10, usage.PromptTokens);
        Assert.Equal(100, usage.CachedPromptTokens);
        Assert.Equal(15, usage.CompletionTokens);
    }
}
