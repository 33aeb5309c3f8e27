using System.Text;
using AgenticGateway.OpenAi;
using AgenticGateway.Routing;

namespace AgenticGateway.Tests.OpenAi;

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
}
