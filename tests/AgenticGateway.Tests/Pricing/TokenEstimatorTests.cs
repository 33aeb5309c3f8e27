using System.Text;
using AgenticGateway.Pricing;

namespace AgenticGateway.Tests.Pricing;

[Trait("Category", "unit")]
public class TokenEstimatorTests
{
    private static long Estimate(string json) => TokenEstimator.EstimatePromptTokens(Encoding.UTF8.GetBytes(json));

    private static string Chat(params string[] contents) =>
        "{\"model\":\"gpt-4o\",\"messages\":[" + string.Join(",", contents.Select(c => $"{{\"role\":\"user\",\"content\":\"{c}\"}}")) + "]}";

    [Fact]
    public void A_non_empty_message_is_never_zero()
    {
        Assert.True(Estimate(Chat("hi")) > 0);
        Assert.True(Estimate(Chat("")) > 0);
        Assert.Equal(0, Estimate("""{"model":"gpt-4o","messages":[]}"""));
    }

    [Fact]
    public void Follows_roughly_four_characters_per_token_plus_message_overhead()
    {
        var text = new string('a', 400);
        Assert.Equal(100 + TokenEstimator.MessageOverhead + TokenEstimator.ReplyPriming, Estimate(Chat(text)));
        // The model name and other fields are not prompt text.
        Assert.Equal(Estimate(Chat(text)), Estimate(Chat(text).Replace("gpt-4o", new string('x', 500))));
    }

    [Fact]
    public void Grows_with_text_and_with_messages()
    {
        long previous = 0;
        for (var n = 0; n <= 200; n += 7)
        {
            var e = Estimate(Chat(new string('w', n)));
            Assert.True(e >= previous, $"{n} chars: {e} < {previous}");
            previous = e;
        }
        Assert.True(Estimate(Chat("hello", "world")) > Estimate(Chat("hello")));
        Assert.True(Estimate(Chat("hello", "world", "again")) > Estimate(Chat("hello", "world")));
    }

    [Fact]
    public void Non_latin_text_counts_a_token_per_character()
    {
        var ascii = Estimate(Chat("abcdefgh"));
        var cjk = Estimate(Chat("你好世界你好世界"));
        Assert.Equal(ascii + 8 - 2, cjk);
        Assert.Equal(2, TokenEstimator.CountTextTokens("😀é"));
    }

    [Fact]
    public void Content_parts_count_text_and_a_fixed_amount_per_image_however_large()
    {
        var image = new string('A', 200_000);
        var json = $$$"""{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":"{{{new string('a', 40)}}}"},{"type":"image_url","image_url":{"url":"data:image/png;base64,{{{image}}}"}}]}]}""";
        Assert.Equal(10 + TokenEstimator.ImageTokens + TokenEstimator.MessageOverhead + TokenEstimator.ReplyPriming, Estimate(json));
    }

    [Fact]
    public void Tools_tool_calls_and_names_count()
    {
        var plain = Estimate(Chat("what is the weather"));
        var tools = Estimate("""{"messages":[{"role":"user","content":"what is the weather"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}""");
        Assert.True(tools > plain + 10);
        var call = Estimate("""{"messages":[{"role":"user","content":"what is the weather"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},{"role":"tool","tool_call_id":"c1","content":"sunny"}]}""");
        Assert.True(call > plain + 2 * TokenEstimator.MessageOverhead);
        Assert.True(Estimate("""{"messages":[{"role":"user","name":"alice","content":"hi"}]}""") > Estimate("""{"messages":[{"role":"user","content":"hi"}]}"""));
    }

    [Fact]
    public void Completions_prompts_and_embeddings_inputs_in_every_shape()
    {
        Assert.Equal(25, Estimate($$"""{"model":"gpt-3.5-turbo-instruct","prompt":"{{new string('p', 100)}}"}"""));
        Assert.Equal(10, Estimate($$"""{"model":"text-embedding-3-small","input":["{{new string('a', 20)}}","{{new string('b', 20)}}"]}"""));
        // Token ids count one each.
        Assert.Equal(5, Estimate("""{"input":[1,2,3,4,5]}"""));
        Assert.Equal(4, Estimate("""{"input":[[1,2],[3,4]]}"""));
        Assert.True(Estimate("""{"input":"x"}""") > 0);
    }

    [Fact]
    public void A_body_that_is_not_json_is_estimated_from_its_length()
    {
        Assert.Equal(4, TokenEstimator.EstimatePromptTokens("not json at all"u8));
        Assert.True(TokenEstimator.EstimatePromptTokens("""{"messages":[{"role":"user","content":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"""u8) >= 10);
        Assert.Equal(0, TokenEstimator.EstimatePromptTokens(""u8));
    }

    [Fact]
    public void Text_tokens_round_up_and_grow_monotonically()
    {
        Assert.Equal(0, TokenEstimator.CountTextTokens(""));
        Assert.Equal(1, TokenEstimator.CountTextTokens("a"));
        Assert.Equal(1, TokenEstimator.CountTextTokens("abcd"));
        Assert.Equal(2, TokenEstimator.CountTextTokens("abcde"));
        Assert.Equal(3, TokenEstimator.CountTextTokens("日本語"));
        long previous = 0;
        var text = "The quick brown fox jumps over the lazy dog. Überraschung! 狐狸跳过了懒狗。";
        for (var n = 0; n <= text.Length; n++)
        {
            var t = TokenEstimator.CountTextTokens(text.AsSpan(0, n));
            Assert.True(t >= previous);
            previous = t;
        }
        // Generated text and the same text as a prompt agree, overhead aside.
        Assert.Equal(TokenEstimator.CountTextTokens(text), Estimate(Chat(text)) - TokenEstimator.MessageOverhead - TokenEstimator.ReplyPriming);
    }
}
