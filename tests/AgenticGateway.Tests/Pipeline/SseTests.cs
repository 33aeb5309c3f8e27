using System.Text;
using AgenticGateway.Pipeline;
using AgenticGateway.Services.Llm;

namespace AgenticGateway.Tests.Pipeline;

[Trait("Category", "unit")]
public class SseTests
{
    [Theory]
    [InlineData("data: {\"a\":1}\n\ndata: {\"b\":2}\n\npartial", 0, 30)]
    [InlineData("data: x\r\n\r\ndata: y", 0, 11)]
    [InlineData("data: no end yet", 0, 0)]
    public void Finds_the_last_complete_event_boundary(string text, int scanFrom, int expected) =>
        Assert.Equal(expected, ResponseRelay.LastEventBoundary(Encoding.UTF8.GetBytes(text), scanFrom));

    [Fact]
    public void The_usage_only_chunk_is_found_and_others_are_not()
    {
        var usageChunk = "data: {\"id\":\"x\",\"choices\": [ ],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":5}}\n\n";
        var content = "data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\n\n";
        var block = Encoding.UTF8.GetBytes(content + usageChunk + "data: [DONE]\n\n");
        Assert.True(ResponseRelay.FindUsageOnlyEvent(block, out var start, out var end));
        Assert.Equal(content.Length, start);
        Assert.Equal(content.Length + usageChunk.Length, end);

        // vLLM-style usage on a chunk that also has choices is not removed.
        var withChoices = Encoding.UTF8.GetBytes("data: {\"choices\":[{\"index\":0}],\"usage\":{\"prompt_tokens\":1}}\n\n");
        Assert.False(ResponseRelay.FindUsageOnlyEvent(withChoices, out _, out _));
        Assert.False(ResponseRelay.FindUsageOnlyEvent(Encoding.UTF8.GetBytes(content), out _, out _));
    }

    [Fact]
    public void The_usage_only_chunk_is_found_in_crlf_framed_events_too()
    {
        var content = "data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\r\n\r\n";
        var usageChunk = "data: {\"id\":\"x\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":5}}\r\n\r\n";
        var block = Encoding.UTF8.GetBytes(content + usageChunk + "data: [DONE]\r\n\r\n");
        Assert.True(ResponseRelay.FindUsageOnlyEvent(block, out var start, out var end));
        Assert.Equal(content.Length, start);
        Assert.Equal(content.Length + usageChunk.Length, end);
    }
}
