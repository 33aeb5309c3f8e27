using System.Text;
using AgenticGateway.OpenAi;

namespace AgenticGateway.Tests.Pricing;

[Trait("Category", "unit")]
public class UsageReaderTests
{
    private static Usage? Read(string json)
    {
        Assert.True(UsageReader.TryRead(Encoding.UTF8.GetBytes(json), out var usage));
        return usage;
    }

    [Fact]
    public void Reads_plain_usage_as_before()
    {
        var u = Read("""{"id":"x","choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}}""");
        Assert.Equal(new Usage(12, 5), u);
        Assert.Equal(17, u!.Value.TotalTokens);
        Assert.Equal(0, u.Value.CachedPromptTokens);
        Assert.Equal(0, u.Value.ReasoningTokens);
    }

    [Fact]
    public void Reads_cached_and_reasoning_tokens_from_the_nested_details()
    {
        var u = Read("""
            {"usage":{"prompt_tokens":2006,"completion_tokens":300,"total_tokens":2306,
              "prompt_tokens_details":{"cached_tokens":1920,"audio_tokens":0},
              "completion_tokens_details":{"reasoning_tokens":256,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},
             "system_fingerprint":"fp"}
            """)!.Value;
        Assert.Equal(2006, u.PromptTokens);
        Assert.Equal(300, u.CompletionTokens);
        Assert.Equal(1920, u.CachedPromptTokens);
        Assert.Equal(256, u.ReasoningTokens);
    }

    [Fact]
    public void Details_before_the_counts_and_nested_lookalikes_are_handled()
    {
        // Details first; a "prompt_tokens" inside details must not overwrite the top-level one.
        var u = Read("""
            {"usage":{"completion_tokens_details":{"reasoning_tokens":7,"extra":{"reasoning_tokens":999}},
              "prompt_tokens_details":{"prompt_tokens":999,"cached_tokens":3},
              "prompt_tokens":10,"completion_tokens":20}}
            """)!.Value;
        Assert.Equal(new Usage(10, 20) { CachedPromptTokens = 3, ReasoningTokens = 7 }, u);
    }

    [Fact]
    public void Reads_the_responses_api_names()
    {
        var u = Read("""{"usage":{"input_tokens":100,"input_tokens_details":{"cached_tokens":40},"output_tokens":50,"output_tokens_details":{"reasoning_tokens":30},"total_tokens":150}}""")!.Value;
        Assert.Equal(new Usage(100, 50) { CachedPromptTokens = 40, ReasoningTokens = 30 }, u);
    }

    [Fact]
    public void Deepseek_cache_hits_count_as_cached_when_no_details_say_so()
    {
        Assert.Equal(64, Read("""{"usage":{"prompt_tokens":100,"completion_tokens":1,"prompt_cache_hit_tokens":64,"prompt_cache_miss_tokens":36}}""")!.Value.CachedPromptTokens);
        Assert.Equal(60, Read("""{"usage":{"prompt_tokens":100,"completion_tokens":1,"prompt_cache_hit_tokens":64,"prompt_tokens_details":{"cached_tokens":60}}}""")!.Value.CachedPromptTokens);
    }

    [Fact]
    public void Null_or_odd_details_are_ignored()
    {
        var u = Read("""{"usage":{"prompt_tokens":5,"completion_tokens":6,"prompt_tokens_details":null,"completion_tokens_details":[1,{"reasoning_tokens":9}]}}""")!.Value;
        Assert.Equal(new Usage(5, 6), u);
        Assert.Equal(new Usage(5, 6), Read("""{"usage":{"prompt_tokens":5,"completion_tokens":6,"prompt_tokens_details":{"cached_tokens":"many"}}}"""));
    }

    [Fact]
    public void Only_the_top_level_usage_counts_and_malformed_json_is_rejected()
    {
        Assert.Null(Read("""{"choices":[{"usage":{"prompt_tokens":1,"completion_tokens":1}}]}"""));
        Assert.Null(Read("""{"usage":null}"""));
        Assert.False(UsageReader.TryRead("""{"usage":{"prompt_tokens":1,"prompt_tokens_details":{"cached_tokens":1}"""u8, out _));
        Assert.False(UsageReader.TryRead("""{"usage":{}} trailing"""u8, out _));
    }
}
