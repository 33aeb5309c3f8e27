using System.Text;
using AgenticGateway.Metering;

namespace AgenticGateway.Tests.Metering;

/// <summary>Usage read from each provider's own answers, JSON or SSE, fed in pieces split anywhere.</summary>
[Trait("Category", "unit")]
public class UsageScannerTests
{
    private static UsageScanner Scan(string contentType, string body, int chunk)
    {
        var scanner = UsageScanner.For(contentType)!;
        Assert.NotNull(scanner);
        var bytes = Encoding.UTF8.GetBytes(body);
        for (var i = 0; i < bytes.Length; i += chunk) scanner.Feed(bytes.AsSpan(i, Math.Min(chunk, bytes.Length - i)));
        scanner.Complete();
        return scanner;
    }

    public static TheoryData<string, string, string, long, long, long> Answers => new()
    {
        // OpenAI chat completion, with cached prompt tokens.
        { "application/json", """{"id":"c","model":"gpt-4o","usage":{"prompt_tokens":100,"completion_tokens":20,"total_tokens":120,"prompt_tokens_details":{"cached_tokens":40}}}""", "gpt-4o", 100, 20, 40 },
        // OpenAI chat stream: usage in the last chunk only (stream_options.include_usage).
        { "text/event-stream", "data: {\"model\":\"gpt-4o\",\"choices\":[{\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\n\ndata: {\"model\":\"gpt-4o\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":3}}\n\ndata: [DONE]\n\n", "gpt-4o", 9, 3, 0 },
        // OpenAI Responses stream: usage inside response.completed.
        { "text/event-stream", "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"model\":\"gpt-4.1\",\"usage\":null}}\n\nevent: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"model\":\"gpt-4.1\",\"usage\":{\"input_tokens\":30,\"input_tokens_details\":{\"cached_tokens\":5},\"output_tokens\":12,\"output_tokens_details\":{\"reasoning_tokens\":4}}}}\n\n", "gpt-4.1", 30, 12, 5 },
        // Anthropic message: input_tokens leaves cache reads and writes out; the gateway counts them in.
        { "application/json", """{"type":"message","model":"claude-sonnet-4-5","usage":{"input_tokens":10,"cache_creation_input_tokens":20,"cache_read_input_tokens":30,"output_tokens":7}}""", "claude-sonnet-4-5", 60, 7, 30 },
        // Anthropic stream: message_start then the cumulative message_delta, CRLF framing.
        { "text/event-stream", "event: message_start\r\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-haiku-4-5\",\"usage\":{\"input_tokens\":15,\"output_tokens\":1}}}\r\n\r\nevent: message_delta\r\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":42}}\r\n\r\n", "claude-haiku-4-5", 15, 42, 0 },
        // Gemini generateContent: thoughts are output.
        { "application/json; charset=UTF-8", """{"candidates":[],"usageMetadata":{"promptTokenCount":11,"candidatesTokenCount":5,"thoughtsTokenCount":3,"totalTokenCount":19},"modelVersion":"gemini-2.5-flash"}""", "gemini-2.5-flash", 11, 8, 0 },
        // Cohere v2 chat: usage.tokens over billed_units.
        { "application/json", """{"id":"x","usage":{"billed_units":{"input_tokens":5,"output_tokens":2},"tokens":{"input_tokens":70,"output_tokens":2}}}""", null!, 70, 2, 0 },
        // Bedrock Converse.
        { "application/json", """{"output":{},"usage":{"inputTokens":12,"outputTokens":6,"totalTokens":18,"cacheReadInputTokens":2}}""", null!, 12, 6, 2 },
        // OpenAI embeddings: prompt tokens only.
        { "application/json", """{"object":"list","model":"text-embedding-3-small","usage":{"prompt_tokens":8,"total_tokens":8}}""", "text-embedding-3-small", 8, 0, 0 },
    };

    [Theory]
    [MemberData(nameof(Answers))]
    public void Reads_usage_and_model_whatever_the_split(string contentType, string body, string? model, long prompt, long completion, long cached)
    {
        foreach (var chunk in new[] { 1, 3, 17, 4096 })
        {
            var scanner = Scan(contentType, body, chunk);
            var usage = scanner.Usage;
            Assert.NotNull(usage);
            Assert.Equal(prompt, usage.Value.PromptTokens);
            Assert.Equal(completion, usage.Value.CompletionTokens);
            Assert.Equal(cached, usage.Value.CachedPromptTokens);
            Assert.Equal(model, scanner.Model);
        }
    }

    [Fact]
    public void Other_content_types_are_not_read_and_answers_without_usage_have_none()
    {
        Assert.Null(UsageScanner.For("text/html"));
        Assert.Null(UsageScanner.For(null));
        Assert.NotNull(UsageScanner.For("application/problem+json"));
        Assert.Null(Scan("application/json", """{"object":"list","data":[]}""", 5).Usage);
        Assert.Null(Scan("application/json", "not json {", 5).Usage);
    }

    [Fact]
    public void A_json_answer_beyond_the_limit_is_not_metered()
    {
        var scanner = UsageScanner.For("application/json")!;
        var filler = new byte[1024 * 1024];
        scanner.Feed("{\"data\":\""u8);
        for (var i = 0; i < 9; i++) scanner.Feed(filler);
        scanner.Feed("\",\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}"u8);
        scanner.Complete();
        Assert.Null(scanner.Usage);
    }
}
