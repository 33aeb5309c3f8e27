using System.Text;
using AgenticGateway.Providers.Anthropic.Inbound;

namespace AgenticGateway.Tests.Translation;

/// <summary>An Anthropic request with a field of the wrong type is refused with a 400 naming the field, never thrown.</summary>
[Trait("Category", "unit")]
public class AnthropicInboundValidationTests
{
    private const string Messages = "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";

    [Theory]
    [InlineData($$$"""{"model":"m","max_tokens":5,{{{Messages}}},"thinking":{"type":"enabled","budget_tokens":"x"}}""", "thinking.budget_tokens")]
    [InlineData($$$"""{"model":"m","max_tokens":5,{{{Messages}}},"thinking":{"type":"enabled","budget_tokens":[]}}""", "thinking.budget_tokens")]
    [InlineData($$$"""{"model":"m","max_tokens":5,{{{Messages}}},"thinking":{"type":"enabled","budget_tokens":null}}""", "thinking.budget_tokens")]
    [InlineData("""{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"output_format":{"type":5,"schema":{}}}""", "output_format")]
    [InlineData("""{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"content","content":{"a":1}}}]}]}""", "messages.0.content.0.source.content")]
    public void A_field_of_the_wrong_type_is_a_400_naming_it(string json, string param)
    {
        var error = AnthropicRequestConverter.ToOpenAi(Encoding.UTF8.GetBytes(json), out var body);
        Assert.NotNull(error);
        Assert.Equal(400, error.Status);
        Assert.Equal(param, error.Param);
        Assert.Empty(body);
    }
}
