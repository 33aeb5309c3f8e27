using System.Text;
using AgenticGateway.OpenAi;
using AgenticGateway.Routing;

namespace AgenticGateway.Tests.OpenAi;

[Trait("Category", "unit")]
public class RequestReaderTests
{
    private static ApiError? Parse(string json, LlmOperation op, out ParsedRequest request) =>
        RequestReader.TryParse(Encoding.UTF8.GetBytes(json), op, out request);

    [Fact]
    public void Reads_model_position_and_stream_flags()
    {
        var json = """{"messages":[{"role":"user","content":"hi"}],"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"max_tokens":5,"x_custom":{"a":[1,2]}}""";
        Assert.Null(Parse(json, LlmOperation.ChatCompletions, out var r));
        Assert.Equal("gpt-4o", r.Model);
        Assert.Equal("\"gpt-4o\"", json[r.ModelStart..r.ModelEnd]);
        Assert.True(r.Stream);
        Assert.True(r.IncludeUsage);
        Assert.Equal(5, r.MaxTokens);
    }

    [Fact]
    public void Escaped_model_names_keep_exact_byte_positions()
    {
        var json = """{"model":"a\u002fb","messages":[{"role":"user","content":"hi"}]}""";
        Assert.Null(Parse(json, LlmOperation.ChatCompletions, out var r));
        Assert.Equal("a/b", r.Model);
        Assert.Equal("\"a\\u002fb\"", json[r.ModelStart..r.ModelEnd]);
    }

    [Theory]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}""", "invalid_json", null)]
    [InlineData("""[1,2]""", null, null)]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}]}""", null, "model")]
    [InlineData("""{"model":"m"}""", "missing_required_parameter", "messages")]
    [InlineData("""{"model":"m","messages":[]}""", "empty_array", "messages")]
    [InlineData("""{"model":"m","messages":[{"content":"hi"}]}""", "missing_required_parameter", "messages[0].role")]
    [InlineData("""{"model":"m","messages":[{"role":"robot","content":"hi"}]}""", "invalid_value", "messages[0].role")]
    [InlineData("""{"model":5,"messages":[{"role":"user","content":"hi"}]}""", "invalid_type", "model")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":"hot"}""", "invalid_type", "temperature")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":3}""", "invalid_value", "temperature")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":0}""", "integer_below_min_value", "max_tokens")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"n":0}""", null, "n")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"stream_options":{"include_usage":true}}""", null, "stream_options")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}]} trailing""", "invalid_json", null)]
    [InlineData("""{"model":"a","messages":[{"role":"user","content":"hi"}],"model":"b"}""", null, "model")]
    public void Bad_chat_requests_get_a_400_naming_the_problem(string json, string? code, string? param)
    {
        var error = Parse(json, LlmOperation.ChatCompletions, out _);
        Assert.NotNull(error);
        Assert.Equal(400, error.Status);
        Assert.Equal("invalid_request_error", error.Type);
        if (code is not null) Assert.Equal(code, error.Code);
        Assert.Equal(param, error.Param);
    }

    [Fact]
    public void Malformed_json_says_where()
    {
        var error = Parse("{\"model\":\"m\",\n\"messages\": [,]}", LlmOperation.ChatCompletions, out _);
        Assert.NotNull(error);
        Assert.Contains("line 2", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"model":"e","input":"hello"}""", true)]
    [InlineData("""{"model":"e","input":["a","b"],"encoding_format":"base64"}""", true)]
    [InlineData("""{"model":"e","input":[[1,2,3]]}""", true)]
    [InlineData("""{"model":"e","input":[]}""", false)]
    [InlineData("""{"model":"e"}""", false)]
    [InlineData("""{"model":"e","input":"x","encoding_format":"int8"}""", false)]
    public void Embeddings_input_rules(string json, bool ok) =>
        Assert.Equal(ok, Parse(json, LlmOperation.Embeddings, out _) is null);

    [Fact]
    public void Completions_need_a_prompt()
    {
        Assert.Null(Parse("""{"model":"m","prompt":"Say this"}""", LlmOperation.Completions, out _));
        Assert.Equal("prompt", Parse("""{"model":"m"}""", LlmOperation.Completions, out _)!.Param);
    }

    /// <summary>
    /// Text that parses but cannot be decoded is refused wherever it stands: in the model (which the reader decodes,
    /// and which threw) or in content the reader only skips (which went on to the provider).
    /// </summary>
    [Theory]
    [InlineData(new byte[] { 0xff })]
    [InlineData(new byte[] { 0xc0, 0x80 })]
    [InlineData(new byte[] { 0xed, 0xa0, 0x80 })]
    [InlineData(new byte[] { 0xe2, 0x82 })]
    public void Bytes_that_are_not_utf8_are_a_400(byte[] bad)
    {
        foreach (var field in new[] { "model", "content" })
        {
            var json = Encoding.UTF8.GetBytes($$"""{"model":"{{(field == "model" ? "@" : "gpt-4o")}}","messages":[{"role":"user","content":"{{(field == "content" ? "@" : "hi")}}"}]}""");
            var at = Array.IndexOf(json, (byte)'@');
            byte[] body = [.. json[..at], .. bad, .. json[(at + 1)..]];
            var error = RequestReader.TryParse(body, LlmOperation.ChatCompletions, out _);
            Assert.NotNull(error);
            Assert.Equal(400, error.Status);
            Assert.Equal("invalid_encoding", error.Code);
        }
    }

    [Theory]
    [InlineData("""{"model":"\ud800","messages":[{"role":"user","content":"hi"}]}""")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"a\udc00b"}]}""")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"\ud800\u0041"}]}""")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"\uDBFF"}]}""")]
    [InlineData("""{"model":"m","messages":[{"role":"\udfff\ud800","content":"x"}]}""")]
    public void Unpaired_surrogate_escapes_are_a_400(string json)
    {
        var error = Parse(json, LlmOperation.ChatCompletions, out _);
        Assert.NotNull(error);
        Assert.Equal("invalid_encoding", error.Code);
    }

    [Theory]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"\ud83d\ude00"}]}""")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"\\ud800 is how you write one"}]}""")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"\\\ud83d\ude00\\"}]}""")]
    public void Surrogate_pairs_and_escaped_backslashes_are_fine(string json) =>
        Assert.Null(Parse(json, LlmOperation.ChatCompletions, out _));
}
