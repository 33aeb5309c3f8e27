using System.Text;
using System.Text.Json;
using AgenticGateway.OpenAi;
using AgenticGateway.Routing;
using AgenticGateway.Services.Llm;

namespace AgenticGateway.Tests.OpenAi;

/// <summary>LiteLLM's request tags are read in the one pass and left out of the body sent upstream, wherever they sit.</summary>
[Trait("Category", "unit")]
public class RequestTagsTests
{
    private static async Task<JsonElement> UpstreamAsync(string body, string? insert = null)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        Assert.Null(RequestReader.TryParse(bytes, LlmOperation.ChatCompletions, out var parsed));
        using var content = UpstreamContent.WithModel(bytes, parsed, "\"upstream\""u8.ToArray(), insert is null ? null : Encoding.UTF8.GetBytes(insert));
        var sent = await content.ReadAsStringAsync();
        Assert.Equal(Encoding.UTF8.GetByteCount(sent), content.Headers.ContentLength);
        if (insert is not null) Assert.Equal(sent, Encoding.UTF8.GetString(UpstreamContent.Apply(bytes, parsed, Encoding.UTF8.GetBytes(insert))).Replace("\"m\"", "\"upstream\""));
        return JsonDocument.Parse(sent).RootElement.Clone();
    }

    [Theory]
    [InlineData("""{"tags":["a"],"model":"m","messages":[{"role":"user","content":"hi"}]}""")]
    [InlineData("""{ "tags" : [ "a" ] , "model": "m", "messages": [{"role": "user", "content": "hi"}] }""")]
    [InlineData("""{"model":"m","tags":["a"],"messages":[{"role":"user","content":"hi"}]}""")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"tags":["a"]}""")]
    [InlineData("{\n  \"model\": \"m\",\n  \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}],\n  \"tags\": [\"a\"]\n}")]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}],"tags":null,"model":"m"}""")]
    public async Task Tags_are_left_out_upstream_wherever_they_sit(string body)
    {
        var sent = await UpstreamAsync(body, ",\"temperature\":0.1");
        Assert.False(sent.TryGetProperty("tags", out _));
        Assert.Equal("upstream", sent.GetProperty("model").GetString());
        Assert.Equal("hi", sent.GetProperty("messages")[0].GetProperty("content").GetString());
        Assert.Equal(0.1, sent.GetProperty("temperature").GetDouble());
    }

    [Fact]
    public void Body_tags_and_metadata_tags_are_read_and_present_parameters_marked()
    {
        var body = """{"model":"m","metadata":{"tags":["x","y"],"user":"u"},"messages":[{"role":"user","content":"hi"}],"tags":["free"],"temperature":0.2,"max_completion_tokens":9,"seed":1}"""u8;
        Assert.Null(RequestReader.TryParse(body, LlmOperation.ChatCompletions, out var parsed));
        Assert.Equal(["free"], parsed.Tags!);
        Assert.Equal(["x", "y"], parsed.MetadataTags!);
        var bits = RequestReader.PresentParams(body);
        var present = AgenticGateway.Configuration.DefaultParameters.Names.Where((_, i) => (bits & (1UL << i)) != 0).ToArray();
        Assert.Equal(["temperature", "max_completion_tokens", "seed"], present);
    }

    [Theory]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"tags":"free"}""")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"hi"}],"tags":[1]}""")]
    public void Tags_that_are_not_a_list_of_strings_are_refused(string body)
    {
        var error = RequestReader.TryParse(Encoding.UTF8.GetBytes(body), LlmOperation.ChatCompletions, out _);
        Assert.Equal(400, error!.Status);
        Assert.Equal("tags", error.Param);
    }
}
