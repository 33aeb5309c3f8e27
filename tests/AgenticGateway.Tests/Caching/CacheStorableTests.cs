using System.Text;
using AgenticGateway.Caching;
using AgenticGateway.Routing;

namespace AgenticGateway.Tests.Caching;

/// <summary>What the cache refuses to store, as units: 2xx bodies that are errors, and streams without their terminal event.</summary>
[Trait("Category", "unit")]
public sealed class CacheStorableTests
{
    [Theory]
    [InlineData("""{"error":{"message":"overloaded","type":"server_error"}}""", true)]
    [InlineData("""{"type":"error","error":{"type":"overloaded_error","message":"x"}}""", true)]
    [InlineData("""{"id":"chatcmpl-1","object":"chat.completion","choices":[{"message":{"content":"{\"error\":1}"}}]}""", false)]
    [InlineData("""{"id":"resp_1","error":null,"output":[]}""", false)]
    [InlineData("""{"id":"x","nested":{"error":{"message":"inside"}}}""", false)]
    [InlineData("not json", true)]
    [InlineData("[1,2]", true)]
    public void A_2xx_json_body_that_is_an_error_object_is_refused(string body, bool error) =>
        Assert.Equal(error, CacheMiddleware.IsErrorObject(Encoding.UTF8.GetBytes(body)));

    [Theory]
    [InlineData(nameof(LlmOperation.ChatCompletions), "data: {\"id\":\"c\"}\n\ndata: [DONE]\n\n", true)]
    [InlineData(nameof(LlmOperation.ChatCompletions), "data: {\"id\":\"c\"}\r\n\r\ndata:[DONE]\r\n\r\n", true)]
    [InlineData(nameof(LlmOperation.ChatCompletions), "data: {\"id\":\"c\",\"content\":\"[DONE]\"}\n\n", false)]
    [InlineData(nameof(LlmOperation.ChatCompletions), "data: {\"id\":\"c\"}\n\n", false)]
    [InlineData(nameof(LlmOperation.Completions), "data: {\"id\":\"c\"}\n\ndata: [DONE]\n\n", true)]
    [InlineData(nameof(LlmOperation.Messages), "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n", true)]
    [InlineData(nameof(LlmOperation.Messages), "event: message_delta\ndata: {\"type\":\"message_delta\"}\n\n", false)]
    [InlineData(nameof(LlmOperation.Responses), "event: response.completed\ndata: {\"type\":\"response.completed\"}\n\n", true)]
    [InlineData(nameof(LlmOperation.Responses), "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\"}\n\n", false)]
    public void A_stream_is_whole_only_with_its_formats_terminal_event(string operation, string events, bool whole) =>
        Assert.Equal(whole, SseErrors.HasTerminalEvent(Encoding.UTF8.GetBytes(events), Enum.Parse<LlmOperation>(operation)));
}
